# The quick-start commands. Each one sets everything up first (idempotent: the virtual environment is
# built once, and again only when pyproject.toml changes), then does its job.
#   make demo   set up, then run the main example (receptive fields on the assignment's graph)
#   make test   set up, then run the whole test suite
#   make lint   set up, then ruff check, ruff format --check and mypy (CI runs it before the tests)
#
# TORCH pins the CPU wheel that lies on disk on the project's machines; override it elsewhere,
# e.g. `make test TORCH=torch` to take whatever build pip picks for your platform.
# EXTRAS: the optional dependencies installed with gnnhw (CI adds ray: `make test EXTRAS=dev,ray`).
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
EXTRAS ?= dev
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.gnnhw-installed

.PHONY: setup demo test bench lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[$(EXTRAS)]"
	touch $(STAMP)

demo: setup
	$(PY) examples/receptive_field.py --out out/receptive_field

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/gcn_layer.py

lint: setup
	$(VENV)/bin/ruff check gnnhw tests examples benchmarks
	$(VENV)/bin/ruff format --check gnnhw tests examples benchmarks
	$(PY) -m mypy   # files and settings: [tool.mypy] in pyproject.toml

clean:
	rm -rf $(VENV) out
