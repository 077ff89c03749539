# Two commands on a fresh machine (python3 with venv + pip is all it needs):
#   make report   set up .venv on first use, build reports/<run-id>/ from data/sample/
#   make test     set up .venv on first use, run the whole test suite
#   make lab      JupyterLab on the project's .venv (registers the Jupyter kernel "lclib" if needed)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: report test validate sample benchmark clean lab

report: $(VENV)/.installed
	$(BIN)/lclib run $(ARGS)

test: $(VENV)/.installed
	$(BIN)/python -m pytest $(ARGS)

validate: $(VENV)/.installed
	$(BIN)/lclib validate $(ARGS)

sample: $(VENV)/.installed
	$(BIN)/lclib sample --out data/sample --messy tests/fixtures/messy_shop_export.csv

# JupyterLab of the .venv, started in the repository (notebooks open with CONFIG = None: the
# repository's lclib.yaml, or $$LCLIB_CONFIG). The kernel "lclib" (this .venv's python, for other
# Jupyter front ends too) is registered for the user when it is missing or names another python.
lab: $(VENV)/.installed
	@$(BIN)/python -c "import sys; from jupyter_client.kernelspec import get_kernel_spec; \
	sys.exit(get_kernel_spec('lclib').argv[0] != sys.executable)" 2>/dev/null \
	  || $(BIN)/python -m ipykernel install --user --name lclib --display-name "Python (lclib)"
	$(BIN)/jupyter lab $(ARGS)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache
