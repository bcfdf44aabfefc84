#!/usr/bin/env bash
# Run every fuzz target for SECONDS each (default 600), seeded from the test fixtures.
# cargo-fuzz on the stable toolchain: RUSTC_BOOTSTRAP lets it pass libFuzzer's -Z flags;
# without a sanitizer, since the stable toolchain ships none. Crashing inputs land in
# fuzz/artifacts/TARGET/; copy each to fuzz/regressions/TARGET/ (tests/fuzz_regressions.rs
# replays them in the normal test suite).
# Usage: fuzz/run.sh [SECONDS] [TARGET...]   (cargo install cargo-fuzz first)
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(request reply bridge_verify transcript config authres)
fixtures=../tests/fixtures
seed() {
    local dir=corpus/$1
    mkdir -p "$dir"
    case $1 in
        request) cp "$fixtures"/../fixtures/*.json "$dir"/ 2>/dev/null || true
                 printf '{"version":1,"kind":"restart_container","summary":"s","reason":"r","params":{"container":"web"}}' >"$dir/seed.json" ;;
        reply) cp "$fixtures"/replies/*.eml "$dir"/ 2>/dev/null || true ;;
        bridge_verify) printf 'webhook-id: msg_1\nwebhook-timestamp: 1795000000\nwebhook-signature: v1,abc=\n\n{"a":1}' >"$dir/seed" ;;
        transcript) cp "$fixtures"/sessions/*.jsonl "$dir/" ;;
        config) cp ../packaging/clawdbot.toml "$dir"/ ;;
        authres) printf 'mx.google.com; spf=pass smtp.mailfrom="a\\"b"@example.org; dmarc=pass (p=NONE (x)) header.from=example.org' >"$dir/seed" ;;
    esac
}
for target in "${targets[@]}"; do
    seed "$target"
    echo "== $target: $seconds s"
    RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 2>&1 | tail -15
done
