# clawdbot: build, test and install. `make check` is the test command CI runs.
PREFIX ?= /usr
DESTDIR ?=
# Four executables: the request writer, clawdbot-exec and the watchdog each link only what they
# call (clawdbot-task is a link to clawdbot-exec); every other program is a link to `clawdbot`, which picks the program by the name it is
# started under (docs/architecture.md).
BINS := clawdbot clawdbot-request clawdbot-exec clawdbot-watchdog
LINKS := clawdbot-broker clawdbot-bridge clawdbot-mailpoll clawdbot-secrets clawdbot-maint clawdbot-telegram clawdbot-calendar clawdbot-alert
CARGO ?= cargo

.PHONY: all build release test-all test-deps deb-tools system-test-tools check test lint fmt bench bench-watchdog bench-watchdog-unchanged bench-maint bench-load demo assets deb install system-test clean

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release
	for name in $(LINKS); do ln -sfn clawdbot target/release/$$name; done
	ln -sfn clawdbot-exec target/release/clawdbot-task

# The one test command (README.md; .ci/run runs it): install what the tests need on this
# Debian machine (root), then every check and test, the booted system test included.
test-all: test-deps
	$(MAKE) check system-test

# What the tests need (apt, pip, npm, cargo-deb, a running dockerd); tests/deps.sh --check
# only lists what is missing.
test-deps:
	tests/deps.sh

# Formatting, lints, and every test but the booted one (crash points included).
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

# A watchdog pass over 2,000 unchanged transcripts next to a plain find over them.
bench-watchdog-unchanged: release
	python3 bench/watchdog-unchanged.py

# The maintenance tiers with 20 containers on the real Docker engine.
bench-maint: release
	python3 bench/maint.py

# 10,000 requests, 1,000 replies and 20,000 session files at once.
bench-load: release
	python3 bench/load.py

demo:
	$(CARGO) run --release --bin clawdbot -- demo

# Man pages and shell completions, made from the binaries' clap definitions.
assets:
	rm -rf target/assets
	$(CARGO) run --quiet --example assets -- target/assets

# The Debian package (cargo-deb): target/debian/clawdbot_VERSION_ARCH.deb.
deb: deb-tools release assets
	$(CARGO) deb --no-build

# Tools checked before the release build the targets above start with, each named with what
# provides it (make test-deps installs them all).
deb-tools:
	@$(call need,cargo-deb,cargo install cargo-deb)
	@$(call need,dpkg-shlibdeps,apt-get install dpkg-dev)
system-test-tools:
	@$(call need,python3,apt-get install python3)
	@$(call need,debootstrap,apt-get install debootstrap)
	@$(call need,systemd-nspawn,apt-get install systemd-container)
	@$(call need,dpkg-shlibdeps,apt-get install dpkg-dev)
need = command -v $(1) >/dev/null || { echo "$(1) is missing: $(2) (or make test-deps)" >&2; exit 1; }

# The tree the package installs, for hosts without Debian packaging (tests/system/ checks
# that both are the same). Then: systemd-sysusers clawdbot.conf; systemd-tmpfiles --create
# clawdbot.conf; journalctl --update-catalog; systemctl enable --now clawdbot.target.
install: release assets
	install -D -m 0755 -t $(DESTDIR)$(PREFIX)/bin $(addprefix target/release/,$(BINS))
	for name in $(LINKS); do ln -sfn clawdbot $(DESTDIR)$(PREFIX)/bin/$$name; done
	ln -sfn clawdbot-exec $(DESTDIR)$(PREFIX)/bin/clawdbot-task
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/lib/systemd/system units/* timers/* paths/*
	install -D -m 0644 packaging/sysusers.conf $(DESTDIR)$(PREFIX)/lib/sysusers.d/clawdbot.conf
	install -D -m 0644 packaging/tmpfiles.conf $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/clawdbot.conf
	install -D -m 0644 packaging/clawdbot.toml $(DESTDIR)/etc/clawdbot/clawdbot.toml
	install -D -m 0644 packaging/clawdbot.catalog $(DESTDIR)$(PREFIX)/lib/systemd/catalog/clawdbot.catalog
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/clawdbot packaging/request.schema.json packaging/availability.schema.json
	install -D -m 0644 packaging/SKILL.md $(DESTDIR)$(PREFIX)/share/clawdbot/skill/clawdbot/SKILL.md
	install -D -m 0644 packaging/openclaw/clawdbot-verify.mjs $(DESTDIR)$(PREFIX)/share/clawdbot/openclaw/clawdbot-verify.mjs
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/clawdbot/wazuh packaging/wazuh/*
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/man/man1 target/assets/man/*
	gzip -9nf $(DESTDIR)$(PREFIX)/share/man/man1/clawdbot*.1
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/man/man5 target/assets/man5/*
	gzip -9nf $(DESTDIR)$(PREFIX)/share/man/man5/clawdbot.toml.5
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/bash-completion/completions target/assets/completions/bash/*
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions target/assets/completions/zsh/*
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d target/assets/completions/fish/*
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/clawdbot/README.md
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/doc/clawdbot/docs docs/*.md
	install -D -m 0644 packaging/clawdbot.toml.example $(DESTDIR)$(PREFIX)/share/doc/clawdbot/examples/clawdbot.toml

# Boot a Debian root under systemd-nspawn, install the package and walk the approval loop
# through the real units (root; debootstrap and systemd-container; see tests/system/).
system-test: system-test-tools deb
	python3 tests/system/run.py target/debian/clawdbot_*.deb

clean:
	$(CARGO) clean
