# Two commands on a fresh machine (python3 with venv + pip is all it needs):
#   make report   set up .venv on first use, build reports/<run-id>/ from data/sample/
#   make test     set up .venv on first use, run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: report test validate sample benchmark clean

report: $(VENV)/.installed
	$(BIN)/lclib run $(ARGS)

test: $(VENV)/.installed
	$(BIN)/python -m pytest $(ARGS)

validate: $(VENV)/.installed
	$(BIN)/lclib validate $(ARGS)

sample: $(VENV)/.installed
	$(BIN)/lclib sample --out data/sample --messy tests/fixtures/messy_shop_export.csv

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache
