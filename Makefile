# profd — two commands: `make demo` and `make test`. See README.md.
SWIFT ?= swift
STATE_DIR ?= ./.profd
DEMO_PACKAGE := Examples/profd-demo
APT_PACKAGES := libsystemd-dev systemd tmux curl python3 python3-jsonschema golang-go gzip chromium chromium-driver python3-selenium

INTEGRATIONS := Integrations/Hummingbird/profd-hummingbird:.build-hb \
                Integrations/Vapor/profd-vapor:.build-vapor \
                Integrations/Tracing:.build-tracing

.PHONY: demo test deps build release demo-build unit-test integration-test e2e-test browser-test html-bench bench-throughput clean install uninstall systemd-check systemd-test

## Install missing system packages (Debian), build in release, run the demo.
demo: deps release demo-build
	STATE_DIR=$(STATE_DIR) scripts/demo.sh

## Every test: unit, real-kernel integration, framework integrations, and the end-to-end demo path.
test: deps release demo-build unit-test integration-test e2e-test browser-test systemd-check systemd-test

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release

demo-build:
	$(SWIFT) build -c release --package-path $(DEMO_PACKAGE)

unit-test:
	$(SWIFT) test

## Hummingbird, Vapor and tracing: each its own package, each tested against a real server and a real profd
## (the debug profd that `swift test` built at the root).
integration-test:
	$(SWIFT) build
	@set -e; for entry in $(INTEGRATIONS); do \
	  package=$${entry%%:*}; scratch=$${entry##*:}; \
	  echo "==> $$package"; \
	  $(SWIFT) build --build-tests --package-path $$package --scratch-path $$scratch; \
	  $(SWIFT) test --skip-build --package-path $$package --scratch-path $$scratch; \
	done

e2e-test:
	Tests/EndToEnd/demo-e2e.sh

## The HTML report in headless Chromium: expand, search, zoom, no script injection; screenshots in artifacts/.
browser-test:
	Tests/Browser/html-report-test.sh

## First paint of a 1 M-sample, 50 k-node HTML report in Chromium (see BENCHMARKS.md).
html-bench:
	Tests/Browser/html-report-bench.sh

## wrk against the demo server: profiling off, on for 100% and for 10% of requests (see BENCHMARKS.md).
bench-throughput: deps release demo-build
	@command -v wrk >/dev/null || (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	benchmarks/throughput.sh

clean:
	rm -rf .build .build-hb .build-vapor .build-tracing $(DEMO_PACKAGE)/.build

## Install what `make release` built (install never builds): profd and profctl into $(BINDIR), the systemd
## units (ExecStart= pointing at $(BINDIR)), sysusers.d and tmpfiles.d entries. PREFIX, DESTDIR and the
## *_DIR variables are honoured; systemd loads units from /etc, /usr/lib and /usr/local/lib/systemd/system.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
SYSUSERS_DIR ?= $(PREFIX)/lib/sysusers.d
TMPFILES_DIR ?= $(PREFIX)/lib/tmpfiles.d
RELEASE_DIR ?= .build/release
INSTALLED_FILES = $(DESTDIR)$(BINDIR)/profd $(DESTDIR)$(BINDIR)/profctl \
                  $(DESTDIR)$(SYSTEMD_UNIT_DIR)/profd.service $(DESTDIR)$(SYSTEMD_UNIT_DIR)/profd.socket \
                  $(DESTDIR)$(SYSUSERS_DIR)/profd.conf $(DESTDIR)$(TMPFILES_DIR)/profd.conf

install:
	@for b in profd profctl; do [ -x "$(RELEASE_DIR)/$$b" ] || { \
	  echo "make install: $(RELEASE_DIR)/$$b is missing; build it first with 'make release' (install never builds)" >&2; exit 1; }; done
	install -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(SYSTEMD_UNIT_DIR)" "$(DESTDIR)$(SYSUSERS_DIR)" "$(DESTDIR)$(TMPFILES_DIR)"
	install -m 0755 "$(RELEASE_DIR)/profd" "$(RELEASE_DIR)/profctl" "$(DESTDIR)$(BINDIR)/"
	sed 's|@bindir@|$(BINDIR)|g' packaging/systemd/profd.service > "$(DESTDIR)$(SYSTEMD_UNIT_DIR)/profd.service.tmp"
	chmod 0644 "$(DESTDIR)$(SYSTEMD_UNIT_DIR)/profd.service.tmp"
	mv -f "$(DESTDIR)$(SYSTEMD_UNIT_DIR)/profd.service.tmp" "$(DESTDIR)$(SYSTEMD_UNIT_DIR)/profd.service"
	install -m 0644 packaging/systemd/profd.socket "$(DESTDIR)$(SYSTEMD_UNIT_DIR)/profd.socket"
	install -m 0644 packaging/systemd/profd.sysusers "$(DESTDIR)$(SYSUSERS_DIR)/profd.conf"
	install -m 0644 packaging/systemd/profd.tmpfiles "$(DESTDIR)$(TMPFILES_DIR)/profd.conf"
	@if [ -z "$(DESTDIR)" ]; then echo "installed; to run it: systemd-sysusers profd.conf && systemd-tmpfiles --create profd.conf && systemctl daemon-reload && systemctl enable --now profd.socket"; fi

## Removes exactly the files `make install` wrote (same variables). Leaves the profd user and /var/lib/profd (reports).
uninstall:
	rm -f $(foreach f,$(INSTALLED_FILES),"$(f)")

## The installed units: systemd-analyze verify, security exposure <= 1.5, sysusers/tmpfiles, install/uninstall round trip.
systemd-check:
	Tests/Systemd/unit-check.sh

## profd under a real systemd 252 (container): socket activation, notify, watchdog, journald, restarts, reports.
systemd-test:
	Tests/Systemd/systemd-e2e.sh
