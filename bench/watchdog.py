#!/usr/bin/env python3
"""Benchmark the session watchdog against a full-read validator, as issue 6 asks: 2,000 session
files of 1 MB and 2 of 1 GB (all valid lines), then the two large ones grown to 5 GB.

Passes of the release `clawdbot-watchdog` (under bench/peakrss.c for wall time and peak RSS):
  - cold: nothing remembered, every file read whole (a file over 512 MiB, which OpenClaw cannot
    load either, is skipped unread);
  - unchanged: the same files again (size, mtime and inode remembered: nothing read);
  - touched: every file's mtime changed, so every file is read again;
  - touched, large files grown to 5 GB.
Beside each read pass, `jq -c . FILE > /dev/null` over the same files (the full-read validator).
Needs about 13 GB free under --dir (default /var/tmp); removes everything afterwards.
The page cache is warm for both sides (the files were just written).

Usage: make bench-watchdog  (or: python3 bench/watchdog.py [--dir D] [--small N] [--large-gb G])
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
sys.path.insert(0, os.path.join(ROOT, "bench"))
from bench import in_scratch, launcher  # noqa: E402

MB = 1_000_000
GB = 1_000_000_000


def session_lines(count, start=0):
    """Valid session entries: user, assistant with a tool call, its result, an answer."""
    out = []
    for i in range(start, start + count):
        out.append({"type": "message", "id": f"u{i}", "parentId": f"a{i - 1}", "timestamp": "2026-11-20T09:00:00.000Z",
                    "message": {"role": "user", "content": [{"type": "text", "text": f"Check the disk, round {i}."}]}})
        out.append({"type": "message", "id": f"c{i}", "parentId": f"u{i}", "timestamp": "2026-11-20T09:00:01.000Z",
                    "message": {"role": "assistant", "content": [
                        {"type": "text", "text": "Looking."},
                        {"type": "toolCall", "id": f"toolu_{i}", "name": "exec", "arguments": {"command": "df -h"}}],
                        "stopReason": "toolUse"}})
        out.append({"type": "message", "id": f"r{i}", "parentId": f"c{i}", "timestamp": "2026-11-20T09:00:02.000Z",
                    "message": {"role": "toolResult", "toolCallId": f"toolu_{i}", "toolName": "exec",
                                "content": [{"type": "text", "text": "/dev/sda1 41% / " + "x" * 200}], "isError": False}})
        out.append({"type": "message", "id": f"a{i}", "parentId": f"r{i}", "timestamp": "2026-11-20T09:00:03.000Z",
                    "message": {"role": "assistant", "content": [{"type": "text", "text": "Disk is fine."}], "stopReason": "stop"}})
    return "".join(json.dumps(o, separators=(",", ":")) + "\n" for o in out).encode()


HEADER = b'{"type":"session","version":3,"id":"bench","timestamp":"2026-11-20T09:00:00.000Z","cwd":"/"}\n'


def fill(path, size, block):
    """Write HEADER then whole copies of `block` until the file reaches `size` bytes."""
    with open(path, "wb") as f:
        f.write(HEADER)
        written = len(HEADER)
        while written + len(block) <= size:
            f.write(block)
            written += len(block)


def grow(path, size, block):
    with open(path, "ab") as f:
        written = os.path.getsize(path)
        while written + len(block) <= size:
            f.write(block)
            written += len(block)


def timed(peakrss, argv):
    """Run a pass under the launcher; return (wall seconds, peak RSS KiB, bytes read)."""
    proc = subprocess.run([peakrss] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = proc.stderr.decode(errors="replace").splitlines()
    if proc.returncode != 0:
        sys.exit("clawdbot-watchdog failed: " + "\n".join(lines[-20:]))
    wall, rss = lines[-1].split()
    report = json.loads(proc.stdout)
    return float(wall), int(rss), report["bytes_read"], report["read"]


def age(paths, secs):
    t = time.time() - secs
    for p in paths:
        os.utime(p, (t, t))


def jq_all(paths):
    start = time.monotonic()
    for p in paths:
        with open(p, "rb") as f:
            subprocess.run(["jq", "-c", "."], stdin=f, stdout=subprocess.DEVNULL, check=True)
    return time.monotonic() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--small", type=int, default=2000)
    ap.add_argument("--large-gb", type=int, default=1)
    ap.add_argument("--grown-gb", type=int, default=5)
    args = ap.parse_args()
    in_scratch(args.dir, "watchdog", run, args)


def run(base, args):
    peakrss = launcher(base)
    inst = os.path.join(base, "inst")
    subprocess.run([os.path.join(RELEASE, "clawdbot"), "init", inst], check=True, stdout=subprocess.DEVNULL)
    sessions = os.path.join(inst, "openclaw", "agents", "main", "sessions")
    os.makedirs(sessions)
    config = os.path.join(inst, "clawdbot.toml")
    watchdog = [os.path.join(RELEASE, "clawdbot-watchdog"), "--config", config, "--json"]

    block = session_lines(50)
    small = [os.path.join(sessions, f"s{i:04}.jsonl") for i in range(args.small)]
    large = [os.path.join(sessions, f"big{i}.jsonl") for i in range(2)]
    print(f"writing {len(small)} files of 1 MB and 2 of {args.large_gb} GB ...", file=sys.stderr)
    for p in small:
        fill(p, MB, block)
    big_block = block * 200
    for p in large:
        fill(p, args.large_gb * GB, big_block)
    everything = small + large
    age(everything, 3600)

    rows = []
    rows.append((f"cold pass, {len(everything)} files (nothing remembered)", *timed(peakrss, watchdog)))
    rows.append(("pass, all unchanged", *timed(peakrss, watchdog)))
    age(everything, 3000)
    rows.append((f"pass, all {len(everything)} touched (every file read again)", *timed(peakrss, watchdog)))
    print("jq over the same files ...", file=sys.stderr)
    jq = jq_all(everything)
    rows.append((f"`jq -c .` over the same files ({args.large_gb} GB large files)", jq))

    print(f"growing the large files to {args.grown_gb} GB ...", file=sys.stderr)
    for p in large:
        grow(p, args.grown_gb * GB, big_block)
    age(everything, 2400)
    rows.append((f"pass, all touched, large files at {args.grown_gb} GB", *timed(peakrss, watchdog)))
    jq = jq_all(everything)
    rows.append((f"`jq -c .` over the same files ({args.grown_gb} GB large files)", jq))
    total = sum(os.path.getsize(p) for p in everything)

    print(f"{len(small)} files of 1 MB and 2 large ones; {total / GB:.1f} GB on disk at the end.\n")
    print("| figure | result |\n| --- | --- |")
    for label, wall, *more in rows:
        if not more:
            print(f"| {label} | {wall:.1f} s |")
            continue
        rss, read, files = more
        print(f"| watchdog {label} | {wall * 1000:.1f} ms, peak RSS {rss / 1024:.1f} MiB, "
              f"{files} files read, {read / MB:.1f} MB read |")


if __name__ == "__main__":
    main()
