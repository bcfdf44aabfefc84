#!/usr/bin/env python3
"""Benchmark the suite: the broker's cold pass, 1,000 requests in one pass, the bridge's cold
send and sign/verify per operation (sizes, start and memory per program: bench/footprint.py).

Runs the release binaries in target/release against fresh `clawdbot init` instances under a
temporary directory, with the file mail transport and drop-mode bridge (fsync included).
Prints a Markdown table for docs/benchmarks.md. Usage: make bench  (or: python3 bench/bench.py [--runs N])
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
BINS = ["clawdbot", "clawdbot-broker", "clawdbot-request", "clawdbot-bridge", "clawdbot-exec", "clawdbot-mailpoll", "clawdbot-watchdog", "clawdbot-secrets", "clawdbot-maint"]


def in_scratch(parent, name, run, args):
    """Run `run(base, args)` in a new directory under `parent`, removed afterwards."""
    base = os.path.join(parent, f"clawdbot-bench-{name}-{os.getpid()}")
    os.makedirs(base)
    try:
        run(base, args)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def launcher(base):
    """Compile bench/peakrss.c: a static launcher that reports wall time and peak RSS.

    Measuring from Python itself would charge the child with Python's own resident set (the
    kernel counts the forking process's memory at exec), about 14 MiB here."""
    exe = os.path.join(base, "peakrss")
    subprocess.run(["gcc", "-O2", "-static", "-o", exe, os.path.join(ROOT, "bench", "peakrss.c")], check=True)
    return exe


def timed(peakrss, argv):
    """Run argv under the launcher; return (wall seconds, peak RSS in KiB)."""
    # The broker logs a line per state change: a file, not a pipe, so it never blocks on it.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.run([peakrss] + argv, stdout=subprocess.DEVNULL, stderr=log)
        log.seek(0)
        lines = log.read().decode(errors="replace").splitlines()
    if proc.returncode != 0 or not lines:
        sys.exit(f"{argv[0]} failed: " + "\n".join(lines[-20:]))
    wall, rss = lines[-1].split()
    return float(wall), int(rss)


def instance(base, name):
    d = os.path.join(base, name)
    subprocess.run([os.path.join(RELEASE, "clawdbot"), "init", d], check=True, stdout=subprocess.DEVNULL)
    return d


def request(i):
    return json.dumps({
        "version": 1, "kind": "restart_container",
        "summary": f"Restart the c{i} container", "reason": "It stopped answering",
        "params": {"container": f"c{i}"},
    })


def drop(d, n):
    spool = os.path.join(d, "requests")
    for i in range(n):
        with open(os.path.join(spool, f"r{i:05}.json"), "w") as f:
            f.write(request(i))


def approval_pass(base, run, peakrss):
    """A whole approval pass, cold: a reply comes in, the action `true` runs, the confirmation
    mail and the agent's envelope go out (file transport, drop mode)."""
    d = instance(base, f"approval-{run}")
    with open(os.path.join(d, "clawdbot.toml"), "a") as f:
        f.write('\n[actions.noop]\ncommand = ["true"]\nrisk = "low"\n')
    with open(os.path.join(d, "requests", "a.json"), "w") as f:
        f.write(json.dumps({"version": 1, "kind": "noop", "summary": "Nothing", "reason": "bench"}))
    subprocess.run(broker(d), check=True, stderr=subprocess.DEVNULL)
    rid = json.loads(subprocess.run([os.path.join(RELEASE, "clawdbot"), "--config", os.path.join(d, "clawdbot.toml"), "--json", "status"], check=True, capture_output=True).stdout)[0]["id"]
    reply = (
        "Authentication-Results: mx.google.com; dkim=pass header.i=@example.org; dmarc=pass header.from=example.org\r\n"
        f"From: ops@example.org\r\nTo: clawdbot@example.org\r\nSubject: Re: [clawdbot {rid}] Approve?\r\n"
        f"Message-ID: <bench-{run}@example.org>\r\nIn-Reply-To: <{rid}.1@example.org>\r\n\r\nYes, go ahead.\r\n"
    )
    with open(os.path.join(d, "state", "mail", "new", "reply.eml"), "w") as f:
        f.write(reply)
    return timed(peakrss, broker(d))


def broker(d):
    return [os.path.join(RELEASE, "clawdbot-broker"), "--config", os.path.join(d, "clawdbot.toml"), "run"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="repetitions of the one-request pass")
    args = parser.parse_args()
    for b in BINS:
        if not os.path.exists(os.path.join(RELEASE, b)):
            sys.exit(f"{b} not built: run make release first")
    base = tempfile.mkdtemp(prefix="clawdbot-bench-")
    try:
        peakrss = launcher(base)
        _, true_rss = timed(peakrss, ["/bin/true"])
        one_wall, one_rss, py_wall, py_rss = [], [], [], []
        for run in range(args.runs):
            d = instance(base, f"one-{run}")
            drop(d, 1)
            w, r = timed(peakrss, broker(d))
            one_wall.append(w)
            one_rss.append(r)
            w, r = timed(peakrss, [sys.executable, "-c", "import json, sqlite3, smtplib, email"])
            py_wall.append(w)
            py_rss.append(r)
        bridge_wall, bridge_rss, swh_wall = [], [], []
        d = instance(base, "bridge")
        # `clawdbot init` made a 0600 secret and drop mode: the envelope lands in d/inbox.
        send = [os.path.join(RELEASE, "clawdbot-bridge"), "--config", os.path.join(d, "clawdbot.toml"), "send", "--message", "Done: searxng restarted"]
        for run in range(args.runs):
            w, r = timed(peakrss, send)
            bridge_wall.append(w)
            bridge_rss.append(r)
            w, _ = timed(peakrss, [sys.executable, "-c", "import standardwebhooks"])
            swh_wall.append(w)
        approval_wall, approval_rss = [], []
        for run in range(args.runs):
            approval_wall_run, approval_rss_run = approval_pass(base, run, peakrss)
            approval_wall.append(approval_wall_run)
            approval_rss.append(approval_rss_run)
        fixtures = sorted(os.listdir(os.path.join(ROOT, "tests", "fixtures", "replies")))
        fixture = os.path.join(ROOT, "tests", "fixtures", "replies", next(f for f in fixtures if f.endswith(".eml")))
        interpret_wall = [timed(peakrss, [os.path.join(RELEASE, "clawdbot-broker"), "interpret", fixture])[0] for _ in range(args.runs)]
        d = instance(base, "thousand")
        drop(d, 1000)
        thousand_wall, thousand_rss = timed(peakrss, broker(d))
    finally:
        shutil.rmtree(base, ignore_errors=True)

    med = statistics.median
    ratio = med(one_wall) / med(py_wall)
    print(f"| figure | result |")
    print(f"| --- | --- |")
    print(f"| one request, cold `clawdbot-broker run` (median of {args.runs}) | {med(one_wall)*1000:.1f} ms, peak RSS {max(one_rss)/1024:.1f} MiB |")
    print(f"| bare `python3 -c 'import json, sqlite3, smtplib, email'` (median of {args.runs}) | {med(py_wall)*1000:.1f} ms, peak RSS {max(py_rss)/1024:.1f} MiB |")
    print(f"| broker pass / interpreter start | {ratio:.2f} |")
    print(f"| `/bin/true` under the same launcher (the floor of any exec) | peak RSS {true_rss/1024:.1f} MiB |")
    print(f"| 1,000 requests in one pass | {thousand_wall:.2f} s, peak RSS {thousand_rss/1024:.1f} MiB |")
    print(f"| whole approval pass, cold: reply in, `true` run, mail and envelope out (median of {args.runs}) | {med(approval_wall)*1000:.1f} ms, peak RSS {max(approval_rss)/1024:.1f} MiB |")
    print(f"| cold `clawdbot-broker interpret FILE.eml` (median of {args.runs}) | {med(interpret_wall)*1000:.1f} ms |")
    interp = subprocess.run(["cargo", "bench", "--quiet", "--bench", "interpret"], cwd=ROOT, check=True, capture_output=True, text=True)
    print(f"| `cargo bench --bench interpret` | {interp.stdout.strip()} |")
    print(f"| cold `clawdbot-bridge send`, drop mode (median of {args.runs}) | {med(bridge_wall)*1000:.1f} ms, peak RSS {max(bridge_rss)/1024:.1f} MiB |")
    print(f"| bare `python3 -c 'import standardwebhooks'` (median of {args.runs}) | {med(swh_wall)*1000:.1f} ms |")
    bench = subprocess.run(["cargo", "bench", "--quiet", "--bench", "bridge"], cwd=ROOT, check=True, capture_output=True, text=True)
    print(f"| `cargo bench --bench bridge` | {bench.stdout.strip()} |")
    poller = subprocess.run(["cargo", "bench", "--quiet", "--bench", "mailpoll"], cwd=ROOT, check=True, capture_output=True, text=True)
    print(poller.stdout.strip())


if __name__ == "__main__":
    main()
