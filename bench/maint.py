#!/usr/bin/env python3
"""Benchmark the maintenance tiers: wall time and peak RSS of `clawdbot-maint TIER --dry-run`
on this machine with the real Docker engine running 20 containers, beside the Docker engine's
own answers to the calls the daily tier makes (`docker info`, `docker ps -a`, `docker inspect`).

Needs a running dockerd (as .ci/run starts it) and gcc. Usage: make bench-maint
(or: python3 bench/maint.py [--containers N] [--runs N])
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
sys.path.insert(0, os.path.join(ROOT, "bench"))
from bench import launcher, timed  # noqa: E402

IMAGE = "local/clawdbot-bench-pause:latest"


def image(base):
    """The test image: tests/fixtures/docker/pause.c, static, imported (nothing is pulled)."""
    rootfs = os.path.join(base, "rootfs")
    os.makedirs(os.path.join(rootfs, "bin"))
    exe = os.path.join(rootfs, "pause")
    subprocess.run(["gcc", "-static", "-Os", "-o", exe, os.path.join(ROOT, "tests", "fixtures", "docker", "pause.c")], check=True)
    subprocess.run(["cp", exe, os.path.join(rootfs, "bin", "sh")], check=True)
    tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
    subprocess.run(["docker", "import", "-c", 'CMD ["/pause"]', "-", IMAGE], stdin=tar.stdout, check=True, stdout=subprocess.DEVNULL)
    tar.wait()


def wall(argv):
    start = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--containers", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    names = [f"clawdbot-bench-{os.getpid()}-{i}" for i in range(args.containers)]
    with tempfile.TemporaryDirectory() as base:
        peakrss = launcher(base)
        image(base)
        for n in names:
            subprocess.run(["docker", "run", "-d", "--network", "none", "--name", n, IMAGE], check=True, stdout=subprocess.DEVNULL)
        try:
            inst = os.path.join(base, "inst")
            subprocess.run([os.path.join(RELEASE, "clawdbot"), "init", inst], check=True, stdout=subprocess.DEVNULL)
            config = os.path.join(inst, "clawdbot.toml")
            rows = []
            for tier in ["daily", "weekly", "monthly"]:
                argv = [os.path.join(RELEASE, "clawdbot-maint"), tier, "--config", config, "--dry-run", "--json"]
                runs = [timed(peakrss, argv) for _ in range(args.runs)]
                rows.append((f"`clawdbot-maint {tier} --dry-run`, {args.containers} containers (median of {args.runs})",
                             statistics.median(w for w, _ in runs), max(r for _, r in runs)))
            ids = subprocess.run(["docker", "ps", "-aq"], check=True, capture_output=True, text=True).stdout.split()
            engine = statistics.median(
                wall(["docker", "info", "--format", "{{json .}}"]) + wall(["docker", "ps", "-aq"]) + wall(["docker", "inspect"] + ids)
                for _ in range(args.runs))
            rows.append(("the Docker engine alone: `docker info`, `docker ps -a`, `docker inspect` of all", engine, None))
        finally:
            subprocess.run(["docker", "rm", "-f"] + names, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print("| figure | result |\n| --- | --- |")
    for label, secs, rss in rows:
        extra = f", peak RSS {rss / 1024:.1f} MiB" if rss else ""
        print(f"| {label} | {secs * 1000:.0f} ms{extra} |")


if __name__ == "__main__":
    main()
