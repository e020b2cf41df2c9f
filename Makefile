# Two commands: `make demo` (build the embedded corpus, then train on it) and `make test`;
# `make test-runners` runs the slow runner tests (venvs, installs, clusters) that CI adds.
# Each creates .venv and installs what it needs. A CUDA machine picks its own torch with
#   make demo TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
VENV ?= .venv
PYTHON ?= python3
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.codemix-installed

.PHONY: install demo test test-runners clean

install: $(STAMP)

$(STAMP): setup.cfg setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: an unpinned resolve would pull GBs of CUDA wheels.
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e '.[test,train]'
	touch $@

demo: install
	$(BIN)/codemix build configs/demo.yaml
	$(BIN)/codemix train configs/demo-train.yaml --nproc-per-node 2 --overwrite

test: install
	$(BIN)/python -m pytest -q tests --ignore=tests/runners

test-runners: install
	$(BIN)/python -m pytest -q tests/runners

clean:
	rm -rf $(VENV) out .cache/venvs
