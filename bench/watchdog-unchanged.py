#!/usr/bin/env python3
"""What a watchdog pass costs when nothing changed (the pass every 5 minutes on a quiet host),
next to a plain `find` that stats the same files: 2,000 session transcripts of about 20 KB.

Measured: CPU time (user + system) and wall time of each, the median of --runs runs, after one
cold pass that reads and remembers every file. Also one cold pass (every file read whole), and a
pass over an OpenClaw 2026.9 SQLite store holding the same number of sessions when --store is
given (a store written by OpenClaw itself, e.g. by tests/openclaw/store.mjs).

Usage: make bench-watchdog-unchanged  (or: python3 bench/watchdog-unchanged.py [--files N] [--runs R])
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
sys.path.insert(0, os.path.join(ROOT, "bench"))
from bench import in_scratch  # noqa: E402


def transcript(i):
    """A header and 40 entries of a straight conversation with tool calls."""
    lines = [{"type": "session", "version": 3, "id": f"s{i}", "timestamp": "2026-11-20T09:00:00.000Z", "cwd": "/"}]
    parent = None
    for n in range(10):
        for kind, message in [
            ("u", {"role": "user", "content": [{"type": "text", "text": f"Check the disk, round {n}."}]}),
            ("c", {"role": "assistant", "stopReason": "toolUse", "content": [
                {"type": "toolCall", "id": f"t{n}", "name": "exec", "arguments": {"command": "df -h"}}]}),
            ("r", {"role": "toolResult", "toolCallId": f"t{n}", "toolName": "exec",
                   "content": [{"type": "text", "text": "/dev/sda1 41% / " + "x" * 200}], "isError": False}),
            ("a", {"role": "assistant", "stopReason": "stop", "content": [{"type": "text", "text": "Disk is fine."}]}),
        ]:
            entry = {"type": "message", "id": f"{kind}{n}", "parentId": parent,
                     "timestamp": "2026-11-20T09:00:01.000Z", "message": message}
            parent = entry["id"]
            lines.append(entry)
    return "".join(json.dumps(o, separators=(",", ":")) + "\n" for o in lines).encode()


def measure(argv):
    """(CPU seconds, wall seconds, stdout) of one run of argv."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{argv[0]} failed: {proc.stderr.decode(errors='replace')[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, proc.stdout


def median_of(runs, argv):
    got = [measure(argv) for _ in range(runs)]
    return statistics.median(g[0] for g in got), statistics.median(g[1] for g in got), got[-1][2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--store", help="an OpenClaw state directory (holding agents/) to copy in")
    args = ap.parse_args()
    in_scratch(args.dir, "unchanged", run, args)


def run(base, args):
    inst = os.path.join(base, "inst")
    subprocess.run([os.path.join(RELEASE, "clawdbot"), "init", inst], check=True, stdout=subprocess.DEVNULL)
    sessions = os.path.join(inst, "openclaw", "agents", "main", "sessions")
    os.makedirs(sessions)
    old = time.time() - 3600
    for i in range(args.files):
        path = os.path.join(sessions, f"{i:08x}-0000-4000-8000-000000000000.jsonl")
        with open(path, "wb") as f:
            f.write(transcript(i))
        os.utime(path, (old, old))
    size = sum(os.path.getsize(os.path.join(sessions, n)) for n in os.listdir(sessions))
    config = os.path.join(inst, "clawdbot.toml")
    watchdog = [os.path.join(RELEASE, "clawdbot-watchdog"), "--config", config, "--json"]

    cold_cpu, cold_wall, out = measure(watchdog)
    report = json.loads(out)
    assert report["read"] == args.files and report["healthy"] == args.files, report
    cpu, wall, out = median_of(args.runs, watchdog)
    report = json.loads(out)
    assert report["unchanged"] == args.files and report["read"] == 0, report
    find = ["find", sessions, "-name", "*.jsonl", "-printf", "%s %T@ %i\n"]
    fcpu, fwall, _ = median_of(args.runs, find)

    print(f"| {args.files} transcripts, {size / 1e6:.1f} MB | CPU | wall |")
    print("| --- | --- | --- |")
    print(f"| cold pass (every file read whole, judged, remembered) | {cold_cpu * 1000:.0f} ms | {cold_wall * 1000:.0f} ms |")
    print(f"| pass, all unchanged (median of {args.runs}) | {cpu * 1000:.1f} ms | {wall * 1000:.1f} ms |")
    print(f"| `find -printf '%s %T@ %i'` over the same files (median of {args.runs}) | {fcpu * 1000:.1f} ms | {fwall * 1000:.1f} ms |")
    print(f"| unchanged pass / find | {cpu / fcpu:.1f}x CPU | {wall / fwall:.1f}x wall |")

    if args.store:
        shutil.rmtree(sessions)
        shutil.copytree(os.path.join(args.store, "agents"), os.path.join(inst, "openclaw", "agents"), dirs_exist_ok=True)
        scpu, swall, out = median_of(args.runs, watchdog)
        db = json.loads(out)["databases"][0]
        print(f"| pass over an OpenClaw 2026.9 store, {db['sessions']} sessions, "
              f"{os.path.getsize(db['path']) / 1e6:.1f} MB (median of {args.runs}) | {scpu * 1000:.1f} ms | {swall * 1000:.1f} ms |")


if __name__ == "__main__":
    main()
