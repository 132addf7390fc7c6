# The two set-up commands of the README. Each creates .venv with Python 3.11 on first use.
#   make demo   build the example bundle, validate it and evaluate its likelihood
#   make test   install the test dependencies and run the whole test suite
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= out

.PHONY: demo test venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

venv: $(BIN)/python

demo: venv
	$(BIN)/python -m pip install --quiet .
	$(BIN)/dnnlik example $(OUT)/gaussian-4d --overwrite
	$(BIN)/dnnlik validate $(OUT)/gaussian-4d
	$(BIN)/dnnlik info $(OUT)/gaussian-4d
	$(BIN)/dnnlik eval $(OUT)/gaussian-4d --param mu=0.5 --grad
	$(BIN)/dnnlik tmu $(OUT)/gaussian-4d --values 0:1:0.25

test: venv
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(OUT) build dist .pytest_cache .hypothesis
