# jurigged-rs: the two commands a fresh machine needs are `make run` and `make test`.
CARGO ?= cargo
# Another Python to build and test against: make test-python PYO3_PYTHON=/path/to/python3.12
PYO3_PYTHON ?=
NEXTEST := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo yes)

.PHONY: build release run test test-python lint bench clean-bench

build:
	$(CARGO) build

release:
	$(CARGO) build --release

## Build, then start the bundled demo (Ctrl-C stops it).
run: build
	./target/debug/jurigged -v assets/demo/orbit.py

## Build and run every test (unit, differential, pty, venv), then the lints.
test: lint
ifeq ($(NEXTEST),yes)
	$(CARGO) nextest run --no-fail-fast
else
	$(CARGO) test --no-fail-fast
endif

## Build and test against another Python, in its own target directory.
test-python:
	@test -n "$(PYO3_PYTHON)" || { echo "usage: make test-python PYO3_PYTHON=/path/to/python3.X"; exit 2; }
	PYO3_PYTHON=$(PYO3_PYTHON) CARGO_TARGET_DIR=target/$(notdir $(PYO3_PYTHON)) \
		$(MAKE) --no-print-directory test

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets --quiet -- -D warnings

## Side-by-side benchmarks with python and jurigged 0.6.1; rewrites README's tables.
bench:
	python3 bench/bench.py

clean-bench:
	rm -rf bench/.venv
