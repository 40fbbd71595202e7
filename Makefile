# The two quick-start commands: `make console` and `make test`.
# Each creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: console test lint bench serve install

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

console: $(STAMP)
	$(VENV)/bin/redline console

serve: $(STAMP)
	$(VENV)/bin/redline serve

test: $(STAMP)
	$(VENV)/bin/python -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(VENV)/bin/python bench/bench_policy.py
	$(VENV)/bin/python bench/bench_ack.py
	$(VENV)/bin/python bench/bench_audit.py
