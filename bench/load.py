#!/usr/bin/env python3
"""Load figures (issue 9): a broker pass over 10,000 requests dropped at once, a pass over
1,000 replies in the Maildir, and watchdog passes over 20,000 session files; release binaries,
file transport, drop-mode bridge, fsync on. Usage: make bench-load (or python3 bench/load.py)
"""
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
sys.path.insert(0, os.path.join(ROOT, "bench"))
from bench import launcher  # noqa: E402


def run(peakrss, argv):
    proc = subprocess.run([peakrss] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = proc.stderr.decode(errors="replace").splitlines()
    if proc.returncode != 0:
        sys.exit(f"{argv[0]} failed: " + "\n".join(lines[-20:]))
    wall, rss = lines[-1].split()
    return float(wall), int(rss), proc.stdout


def instance(base, name):
    d = os.path.join(base, name)
    subprocess.run([os.path.join(RELEASE, "clawdbot"), "init", d], check=True, stdout=subprocess.DEVNULL)
    return d


def main():
    rows = []
    with tempfile.TemporaryDirectory(dir="/var/tmp") as base:
        peakrss = launcher(base)
        d = instance(base, "flood")
        broker = [os.path.join(RELEASE, "clawdbot-broker"), "--config", os.path.join(d, "clawdbot.toml"), "run", "--json"]
        for i in range(10_000):
            with open(os.path.join(d, "requests", f"f{i:05}.json"), "w") as f:
                json.dump({"version": 1, "kind": "restart_container", "summary": f"Restart c{i}", "reason": "flood",
                           "params": {"container": f"c{i}"}}, f)
        wall, rss, out = run(peakrss, broker)
        report = json.loads(out)
        size = os.path.getsize(os.path.join(d, "state", "state.db"))
        rows.append(("broker pass over 10,000 requests dropped at once",
                     f"{wall:.2f} s ({report['accepted'] / wall:,.0f} requests/s), peak RSS {rss / 1024:.1f} MiB; "
                     f"{report['queued']} approval mails and {report['digests']} digest; database {size / 1e6:.1f} MB"))

        new = os.path.join(d, "state", "mail", "new")
        for i in range(1000):
            with open(os.path.join(new, f"m{i:04}.eml"), "w") as f:
                f.write("Authentication-Results: mx.google.com; dkim=pass header.i=@example.org; dmarc=pass header.from=example.org\r\n"
                        f"From: ops@example.org\r\nTo: clawdbot@example.org\r\nSubject: Re: hello {i}\r\n"
                        f"Message-ID: <r{i}@mail.example.org>\r\nIn-Reply-To: <x{i}@example.org>\r\n\r\nok\r\n")
        wall, rss, _ = run(peakrss, broker)
        rows.append(("broker pass over 1,000 replies in the Maildir at once", f"{wall:.2f} s, peak RSS {rss / 1024:.1f} MiB"))

        w = instance(base, "sessions")
        then = time.time() - 3600
        for agent in range(20):
            s = os.path.join(w, "openclaw", "agents", f"a{agent}", "sessions")
            os.makedirs(s)
            for n in range(1000):
                p = os.path.join(s, f"s{n}.jsonl")
                with open(p, "w") as f:
                    f.write('{"type":"session","version":3,"id":"s"}\n{"type":"custom","id":"c"}\n')
                os.utime(p, (then, then))
        watchdog = [os.path.join(RELEASE, "clawdbot-watchdog"), "--config", os.path.join(w, "clawdbot.toml"), "--json"]
        wall, rss, _ = run(peakrss, watchdog)
        rows.append(("watchdog pass over 20,000 small session files, first time", f"{wall:.2f} s, peak RSS {rss / 1024:.1f} MiB"))
        wall, rss, _ = run(peakrss, watchdog)
        rows.append(("the same, all unchanged", f"{wall * 1000:.0f} ms, peak RSS {rss / 1024:.1f} MiB"))
    print("| figure | result |\n| --- | --- |")
    for label, value in rows:
        print(f"| {label} | {value} |")


if __name__ == "__main__":
    main()
