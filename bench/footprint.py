#!/usr/bin/env python3
"""Footprint of the release programs: file size, and cold start and memory per program.

Usage: python3 bench/footprint.py [--bin-dir DIR] [--against OLD_DIR] [--runs N]

Each program is run under the static launcher (bench/peakrss.c) N times as a new process:
`--version` (loading and argument parsing only) and one idle run against a fresh
`clawdbot init` instance (configuration, database, nothing to do). Peak RSS counts the
executable's and the libraries' pages mapped from the page cache, shared with every other
process running them; three more runs with bench/exitmem.c preloaded give the anonymous
memory at exit, which each process has to itself. Sizes count each file once, however many
names (links) it has.

With --against, the programs of OLD_DIR (an earlier build, e.g. a worktree's target/release)
are measured too, each run alternating with the same run of the new ones, so that both see
the same machine; a table is printed for each. Prints Markdown for docs/benchmarks.md.
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


def tools(base):
    """The launcher and the preloaded exit reporter, compiled."""
    exe = os.path.join(base, "peakrss")
    subprocess.run(["gcc", "-O2", "-static", "-o", exe, os.path.join(ROOT, "bench", "peakrss.c")],
                   check=True)
    preload = os.path.join(base, "exitmem.so")
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", preload,
                    os.path.join(ROOT, "bench", "exitmem.c")], check=True)
    return exe, preload


class Side:
    """One build's programs, with an instance of its own (a newer schema is not an older one's)."""

    def __init__(self, bindir, base, name):
        self.bindir = os.path.abspath(bindir)
        for program in PROGRAMS:
            if not os.path.exists(os.path.join(self.bindir, program)):
                sys.exit(f"footprint: {program} is not in {self.bindir}; run make release")
        self.base = os.path.join(base, name)
        instance = os.path.join(self.base, "instance")
        subprocess.run([self.exe("clawdbot"), "init", instance], check=True,
                       stdout=subprocess.DEVNULL)
        self.config = os.path.join(instance, "clawdbot.toml")
        subprocess.run([self.exe("clawdbot-broker"), "--config", self.config, "run"], check=True,
                       stdout=subprocess.DEVNULL)
        self.spool = os.path.join(self.base, "spool")
        os.mkdir(self.spool)
        self.walls, self.rsss, self.codes = {}, {}, {}

    def exe(self, program):
        return os.path.join(self.bindir, program)

    def runs(self, program):
        """The runs measured for a program: `--version`, and its idle run where it has one."""
        exe, c = self.exe(program), ["--config", self.config]
        idle = {
            "clawdbot": [exe, *c, "status"],
            "clawdbot-broker": [exe, *c, "run"],
            "clawdbot-request": [exe, *c, "--spool", self.spool, "--kind", "freeform",
                                 "--summary", "footprint", "--reason", "measure", "--details",
                                 "nothing"],
            "clawdbot-exec": [exe, *c],
            "clawdbot-watchdog": [exe, *c, "--dry-run"],
            "clawdbot-secrets": [exe, *c],
        }.get(program)
        return {"version": [exe, "--version"], **({"idle": idle} if idle else {})}

    def run(self, launcher, key, argv):
        proc = subprocess.run([launcher] + argv, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, cwd=self.base, text=True)
        wall, rss = proc.stderr.strip().splitlines()[-1].split()
        self.walls.setdefault(key, []).append(float(wall) * 1000)
        self.rsss.setdefault(key, []).append(int(rss) / 1024)
        self.codes.setdefault(key, set()).add(proc.returncode)

    def anonymous(self, preload, argv):
        """The highest anonymous memory at exit of three runs, in MiB."""
        report = os.path.join(self.base, "exitmem.txt")
        env = dict(os.environ, LD_PRELOAD=preload, EXITMEM_OUT=report)
        for _ in range(3):
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           cwd=self.base, env=env)
        with open(report) as f:
            anon = max(int(line.split()[0]) for line in f)
        os.unlink(report)
        return anon / 1024

    def figure(self, key, anon):
        status = "" if self.codes[key] == {0} else f" (exit {sorted(self.codes[key])})"
        return (f"{statistics.median(self.walls[key]):.2f} ms, {max(self.rsss[key]):.1f} MiB, "
                f"{anon:.1f} MiB{status}")


def measure(sides, launcher, preload, runs):
    anon = {}
    for program in PROGRAMS:
        for _ in range(runs):
            for side in sides:
                for kind, argv in side.runs(program).items():
                    side.run(launcher, (program, kind), argv)
        for side in sides:
            for kind, argv in side.runs(program).items():
                anon[(side.bindir, program, kind)] = side.anonymous(preload, argv)
        print(f"footprint: {program} measured", file=sys.stderr)
    return anon


def table(side, anon, runs):
    seen, total = set(), 0
    print(f"{side.bindir}, median of {runs} runs:\n")
    print("| program | file | `--version`: wall, peak RSS, anonymous | "
          "idle run: wall, peak RSS, anonymous |")
    print("| --- | --- | --- | --- |")
    for program in PROGRAMS:
        exe = side.exe(program)
        real = os.path.realpath(exe)
        st = os.stat(real)
        shared = (st.st_dev, st.st_ino) in seen
        if not shared:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
        size = (f"= `{os.path.basename(real)}`" if shared or real != exe
                else f"{st.st_size / 1024:.0f} KiB")
        cells = [side.figure((program, kind), anon[(side.bindir, program, kind)])
                 if (program, kind) in side.walls else "–" for kind in ("version", "idle")]
        print(f"| `{program}` | {size} | {cells[0]} | {cells[1]} |")
    print(f"\nprograms on disk: {total / 1024 / 1024:.1f} MiB in {len(seen)} files\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin-dir", default=os.path.join(ROOT, "target", "release"))
    ap.add_argument("--against", metavar="OLD_DIR", help="an earlier build to measure alongside")
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    need("gcc", "gcc")
    with tempfile.TemporaryDirectory(prefix="clawdbot-footprint-") as base:
        launcher, preload = tools(base)
        sides = [Side(args.against, base, "old")] if args.against else []
        sides.append(Side(args.bin_dir, base, "new"))
        anon = measure(sides, launcher, preload, args.runs)
        for side in sides:
            table(side, anon, args.runs)


if __name__ == "__main__":
    main()
