# profd — two commands: `make demo` and `make test`. See README.md.
SWIFT ?= swift
STATE_DIR ?= ./.profd
DEMO_PACKAGE := Examples/profd-demo
APT_PACKAGES := libsystemd-dev curl python3 python3-jsonschema golang-go gzip chromium chromium-driver python3-selenium

INTEGRATIONS := Integrations/Hummingbird/profd-hummingbird:.build-hb \
                Integrations/Vapor/profd-vapor:.build-vapor \
                Integrations/Tracing:.build-tracing

.PHONY: demo test deps build release demo-build unit-test integration-test e2e-test browser-test html-bench bench-throughput clean

## Install missing system packages (Debian), build in release, run the demo.
demo: deps release demo-build
	STATE_DIR=$(STATE_DIR) scripts/demo.sh

## Every test: unit, real-kernel integration, framework integrations, and the end-to-end demo path.
test: deps release demo-build unit-test integration-test e2e-test browser-test

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
