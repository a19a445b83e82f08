# mlpipe-lab: `make lab` sets everything up and starts JupyterLab; `make test` runs every test tier.
VENV ?= .venv
PYTHON ?= python3.11
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: lab test install build test-hardening test-python test-js test-ui test-airflow lint bench bench-browser clean

$(VENV)/.installed: pyproject.toml package.json yarn.lock scripts/dev-setup.sh
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/dev-setup.sh
	touch $@

install: $(VENV)/.installed

build: install
	jlpm build:prod

lab: install
	scripts/start-lab.sh

test: install
	scripts/test-all.sh

test-python: install
	pytest -m "not airflow" -q

# hostile requests, the openapi fuzzer, confinement (also part of test-python and test)
test-hardening: install
	pytest -m hardening -q -s

test-airflow: install
	MLPIPE_REQUIRE_AIRFLOW=1 pytest -m airflow -q

test-js: install
	jlpm test

test-ui: install
	scripts/test-ui.sh

lint: install
	ruff check mlpipe_lab tests benchmarks scripts
	ruff format --check mlpipe_lab tests benchmarks scripts
	jlpm lint:check

bench: install
	python benchmarks/compile.py

# the editor in real Chromium: 100/500/1,000-node open and drag frame rate
bench-browser: install
	scripts/install-chromium.sh
	cd ui-tests && jlpm install
	python benchmarks/browser.py

clean:
	rm -rf $(VENV) node_modules lib mlpipe_lab/labextension ui-tests/node_modules .mlpipe-dev
