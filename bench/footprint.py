#!/usr/bin/env python3
"""Footprint of the release programs: file size, and cold start and peak RSS per program.

Usage: python3 bench/footprint.py [--bin-dir DIR] [--runs N]

Each program is run under the static launcher (bench/peakrss.c) N times as a new process:
`--version` (loading and argument parsing only) and one idle run against a fresh
`clawdbot init` instance (configuration, database, nothing to do). Sizes count each file
once, however many names (links) it has. Prints a Markdown table for docs/benchmarks.md.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS = ["clawdbot", "clawdbot-broker", "clawdbot-request", "clawdbot-bridge", "clawdbot-exec",
            "clawdbot-mailpoll", "clawdbot-watchdog", "clawdbot-secrets", "clawdbot-maint",
            "clawdbot-telegram", "clawdbot-calendar"]


def need(tool, package):
    if shutil.which(tool) is None:
        sys.exit(f"footprint: {tool} is missing; install the Debian package {package}")


def launcher(base):
    exe = os.path.join(base, "peakrss")
    subprocess.run(["gcc", "-O2", "-static", "-o", exe, os.path.join(ROOT, "bench", "peakrss.c")],
                   check=True)
    return exe


def timed(peakrss, argv, runs, cwd):
    walls, rsss, codes = [], [], set()
    for _ in range(runs):
        proc = subprocess.run([peakrss] + argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              cwd=cwd, text=True)
        wall, rss = proc.stderr.strip().splitlines()[-1].split()
        walls.append(float(wall))
        rsss.append(int(rss))
        codes.add(proc.returncode)
    return statistics.median(walls) * 1000, max(rsss) / 1024, codes


def idle_argv(program, exe, config, spool):
    """One run with nothing to do, or None where a program has no such run."""
    c = ["--config", config]
    return {
        "clawdbot": [exe, *c, "status"],
        "clawdbot-broker": [exe, *c, "run"],
        "clawdbot-request": [exe, *c, "--spool", spool, "--kind", "freeform", "--summary",
                             "footprint", "--reason", "measure", "--details", "nothing"],
        "clawdbot-exec": [exe, *c],
        "clawdbot-watchdog": [exe, *c, "--dry-run"],
        "clawdbot-secrets": [exe, *c],
    }.get(program)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin-dir", default=os.path.join(ROOT, "target", "release"))
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    need("gcc", "gcc")
    bindir = os.path.abspath(args.bin_dir)
    with tempfile.TemporaryDirectory(prefix="clawdbot-footprint-") as base:
        peakrss = launcher(base)
        instance = os.path.join(base, "instance")
        subprocess.run([os.path.join(bindir, "clawdbot"), "init", instance], check=True,
                       stdout=subprocess.DEVNULL)
        config = os.path.join(instance, "clawdbot.toml")
        subprocess.run([os.path.join(bindir, "clawdbot-broker"), "--config", config, "run"],
                       check=True, stdout=subprocess.DEVNULL)
        spool = os.path.join(base, "spool")
        os.mkdir(spool)
        seen, total = set(), 0
        print("| program | file | `--version`: wall, peak RSS | idle run: wall, peak RSS |")
        print("| --- | --- | --- | --- |")
        for program in PROGRAMS:
            exe = os.path.join(bindir, program)
            real = os.path.realpath(exe)
            st = os.stat(real)
            shared = (st.st_dev, st.st_ino) in seen
            if not shared:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
            size = (f"= `{os.path.basename(real)}`" if shared or real != exe
                    else f"{st.st_size / 1024:.0f} KiB")
            wall, rss, _ = timed(peakrss, [exe, "--version"], args.runs, base)
            idle = idle_argv(program, exe, config, spool)
            if idle:
                iwall, irss, codes = timed(peakrss, idle, args.runs, base)
                status = "" if codes == {0} else f" (exit {sorted(codes)})"
                idle_text = f"{iwall:.1f} ms, {irss:.1f} MiB{status}"
            else:
                idle_text = "–"
            print(f"| `{program}` | {size} | {wall:.1f} ms, {rss:.1f} MiB | {idle_text} |")
        print(f"\nprograms on disk: {total / 1024 / 1024:.1f} MiB in {len(seen)} files")


if __name__ == "__main__":
    main()
