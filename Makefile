# The two set-up commands of the README. Each creates .venv with Python 3.11 on first use.
#   make demo   evaluate the zoo's toy LHC-like DNNLikelihood: validate it, t_mu exact vs DNN, verdict, plot
#   make test   install every extra and the test dependencies (and, when npm is present, the
#               JavaScript reader's packages: readers/js), run the whole test suite
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
	$(BIN)/python -m pip install --quiet ".[plot]"
	mkdir -p $(OUT)
	$(BIN)/dnnlik validate zoo/toy-lhc-like/bundle
	$(BIN)/dnnlik zoo show toy-lhc-like --plot $(OUT)/toy-lhc-like-tmu.png
	$(BIN)/dnnlik plot zoo:toy-lhc-like --out $(OUT)/toy-lhc-like

test: venv
	$(BIN)/python -m pip install --quiet -e ".[all]"
	if command -v npm >/dev/null; then (cd readers/js && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error); fi
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(OUT) build dist .pytest_cache .hypothesis
