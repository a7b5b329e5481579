# Two commands do everything on a fresh machine:
#   make lab    create .venv if missing, install, open JupyterLab on notebooks/
#   make test   create .venv if missing, install, run unit tests + nbval on every notebook
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export MPLBACKEND := Agg

.PHONY: install parity lab test unit nbval notebooks bench clean

$(STAMP): pyproject.toml requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -e '.[lab,test]'
	touch $(STAMP)

install: $(STAMP)

# Optional: PyTorch CPU for the parity tests (skipped when torch is absent).
parity: $(STAMP)
	$(PY) -m pip install --quiet 'torch==2.13.0'

lab: $(STAMP)
	MPLBACKEND=module://matplotlib_inline.backend_inline $(VENV)/bin/jupyter lab notebooks/

test: $(STAMP)
	$(PY) -m pytest tests notebooks --nbval --nbval-current-env --durations=15 -p no:cacheprovider

unit: $(STAMP)
	$(PY) -m pytest tests -p no:cacheprovider

nbval: $(STAMP)
	$(PY) -m pytest notebooks --nbval --nbval-current-env -p no:cacheprovider

# Re-execute every notebook in place (outputs are committed; nbval compares them).
notebooks: $(STAMP)
	MPLBACKEND=module://matplotlib_inline.backend_inline $(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
	  --ExecutePreprocessor.timeout=3600 notebooks/*.ipynb

bench: $(STAMP)
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis site test-output
