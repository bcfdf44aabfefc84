"""50 hostile entries for the request spool, written by the agent user inside the machine."""

COUNT = 50

# Run as `python3 -c SCRIPT SPOOL`; names end in .json so that the .path unit sees them.
SCRIPT = r'''
import json, os, sys
spool = sys.argv[1]
def put(name, data):
    with open(os.path.join(spool, name), "wb") as f:
        f.write(data)
good = {"version": 1, "kind": "touch_flag", "summary": "x", "reason": "y", "params": {"name": "ok"}}
for n in range(10):
    put(f"garbage-{n}.json", [b"not json", b"{", b"\xff\xfe\x00", b"", b"[]"][n % 5] * (n + 1))
for n in range(10):
    bad = dict(good, kind=f"rm_rf_{n}") if n % 2 else dict(good, extra="field", version=99)
    put(f"unknown-{n}.json", json.dumps(bad).encode())
for n in range(5):
    os.symlink("/etc/shadow", os.path.join(spool, f"link-{n}.json"))
for n in range(5):
    os.mkfifo(os.path.join(spool, f"fifo-{n}.json"))
for n in range(5):
    os.mkdir(os.path.join(spool, f"dir-{n}.json"))
    if n % 2:
        put(f"dir-{n}.json/inside", b"the broker cannot remove this")
for n in range(5):
    put(f"huge-{n}.json", b" " * 70000 + json.dumps(good).encode())
for n in range(5):
    put(f"inject-{n}.json", json.dumps(dict(good, params={"name": f"a; rm -rf / #{n}"})).encode())
for n in range(5):
    put(f"deep-{n}.json", b"[" * 10000 + b"]" * 10000)
'''
