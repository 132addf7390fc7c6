# The two set-up commands of the README. Each creates .venv with Python 3.11 on first use.
#   make demo   evaluate the zoo's toy LHC-like DNNLikelihood: validate it, t_mu exact vs DNN, verdict, plot
#   make test   install every extra and the test dependencies (and, when npm is present, the
#               JavaScript reader's packages: readers/js), then ruff (lint and format), mypy,
#               and the whole test suite with the doctests of dnnlik/ (tests/README.md)
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= out

.PHONY: demo test quick venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

venv: $(BIN)/python

demo: venv
	$(BIN)/python -m pip install --quiet ".[plot]"
	mkdir -p $(OUT)
	$(BIN)/dnnlik validate zoo/toy-lhc-like/bundle
	$(BIN)/dnnlik zoo show toy-lhc-like --plot $(OUT)/toy-lhc-like-tmu.png
	$(BIN)/dnnlik plot zoo:toy-lhc-like --out $(OUT)/toy-lhc-like

test: venv
	$(BIN)/python -m pip install --quiet -e ".[all]"
	if command -v npm >/dev/null; then (cd readers/js && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error); fi
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

quick: venv   # the quick loop while working: no training, no SIGKILL, no Zenodo round trips (under a minute)
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(OUT) build dist .pytest_cache .hypothesis
