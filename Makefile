# clawdbot: build, test and install. `make check` is the test command CI runs.
PREFIX ?= /usr
DESTDIR ?=
BINS := clawdbot clawdbot-broker clawdbot-request clawdbot-bridge clawdbot-exec clawdbot-mailpoll clawdbot-watchdog clawdbot-secrets clawdbot-maint
CARGO ?= cargo

.PHONY: all build release check test lint fmt bench bench-watchdog bench-maint bench-load demo install clean

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release

# Everything CI checks: formatting, lints, and every test (crash points included).
check: lint test

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets --features failpoints -- -D warnings

test:
	$(CARGO) test --features failpoints --tests

fmt:
	$(CARGO) fmt

bench: release
	python3 bench/bench.py

# The watchdog against 2,000 files of 1 MB and two of 1 GB grown to 5 GB (needs ~13 GB free).
bench-watchdog: release
	python3 bench/watchdog.py

# The maintenance tiers with 20 containers on the real Docker engine.
bench-maint: release
	python3 bench/maint.py

# 10,000 requests, 1,000 replies and 20,000 session files at once.
bench-load: release
	python3 bench/load.py

demo:
	$(CARGO) run --release --bin clawdbot -- demo

install: release
	install -D -m 0755 -t $(DESTDIR)$(PREFIX)/bin $(addprefix target/release/,$(BINS))
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/lib/systemd/system units/* timers/* paths/*
	install -D -m 0644 packaging/sysusers.conf $(DESTDIR)$(PREFIX)/lib/sysusers.d/clawdbot.conf
	install -D -m 0644 packaging/tmpfiles.conf $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/clawdbot.conf
	install -D -m 0644 packaging/clawdbot.toml $(DESTDIR)/etc/clawdbot/clawdbot.toml
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/clawdbot packaging/request.schema.json packaging/SKILL.md
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/clawdbot/README.md

clean:
	$(CARGO) clean
