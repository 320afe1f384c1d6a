# `make train` sets up .venv if needed and trains the default agent; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup train test

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip==26.3"
	# torch first: 2.13.0 resolves to the local CPU wheel (other versions pull CUDA packages)
	$(BIN)/pip install --quiet torch==2.13.0
	# visdom 0.2.4 is an sdist whose build needs pkg_resources (setuptools<81)
	echo "setuptools<81" > $(VENV)/build-constraints.txt
	PIP_BUILD_CONSTRAINT=$(CURDIR)/$(VENV)/build-constraints.txt $(BIN)/pip install --quiet -r requirements.lock
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

train: $(STAMP)
	$(BIN)/python main.py $(ARGS)

test: $(STAMP)
	scripts/system-deps.sh
	$(BIN)/python -m pytest $(ARGS)
