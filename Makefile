# Two commands do all set-up: `make run` starts the tutor, `make test` runs every test.
# Both create .venv/ when missing, install the pinned dependencies, and build the
# default retrieval index when it is missing.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup run test index bench clean

$(STAMP): requirements.lock requirements-nodeps.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

setup: $(STAMP)

index: $(STAMP)
	$(PY) -m tutor index ensure

run: index
	$(PY) -m tutor serve

test: index
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/retrieval.py
	$(PY) bench/experiments.py

clean:
	rm -rf $(VENV) data
