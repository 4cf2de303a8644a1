# profd — two commands: `make demo` and `make test`. See README.md.
SWIFT ?= swift
STATE_DIR ?= ./.profd
DEMO_PACKAGE := Examples/profd-demo
APT_PACKAGES := libsystemd-dev curl python3 python3-jsonschema

.PHONY: demo test deps build release demo-build unit-test e2e-test clean

## Install missing system packages (Debian), build in release, run the demo.
demo: deps release demo-build
	STATE_DIR=$(STATE_DIR) scripts/demo.sh

## Every test: unit, real-kernel integration, and the end-to-end demo path.
test: deps release demo-build unit-test e2e-test

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

e2e-test:
	Tests/EndToEnd/demo-e2e.sh

clean:
	rm -rf .build $(DEMO_PACKAGE)/.build
