# Two commands do everything on a fresh machine:
#   make lab    create .venv if missing, install, open JupyterLab on notebooks/
#   make test   create .venv if missing, install, run unit tests + nbval on every notebook
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export MPLBACKEND := Agg
# OpenBLAS's idle threads spin for ~0.1 s after each matmul; on shared virtual
# CPUs a busy core can halve the speed of the main thread (see README, Benchmarks).
export OPENBLAS_THREAD_TIMEOUT ?= 4

.PHONY: install parity browser-deps lab test test-browser unit unit-1thread lint nbval notebooks html slides student \
  test-student experiments bench clean

$(STAMP): pyproject.toml requirements.txt setup.py cnnlab/engine/_direct.c cnnlab/engine/_direct_kernels.h
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt -e '.[lab,test]'
	touch $(STAMP)

install: $(STAMP)

# Optional: PyTorch CPU for the parity tests (skipped when torch is absent).
parity: $(STAMP)
	$(PY) -m pip install --quiet 'torch==2.13.0'

# Optional: Playwright (Python) and Debian's Chromium for the browser tests.
# Playwright's own browser download does not work offline, so Chromium comes from apt.
browser-deps: $(STAMP)
	$(PY) -m pip install --quiet -e '.[browser]'
	command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "could not install chromium: browser tests will be skipped"

lab: $(STAMP)
	MPLBACKEND=module://matplotlib_inline.backend_inline $(VENV)/bin/jupyter lab notebooks/ \
	  $(if $(filter 0,$(shell id -u)),--allow-root)

test: $(STAMP)
	$(PY) -m pytest tests cnnlab notebooks --doctest-modules --nbval --nbval-current-env --durations=15 \
	  -p no:cacheprovider

test-browser: browser-deps
	$(PY) -m pytest tests -m browser -p no:cacheprovider

unit: $(STAMP)
	$(PY) -m pytest tests cnnlab --doctest-modules -p no:cacheprovider

# The unit tests again with one intra-op thread (CI runs this after `make test`):
# results of 1 and several threads must agree within the tolerance rule of tests/tolerance.py.
unit-1thread: $(STAMP)
	CNNLAB_NUM_THREADS=1 $(PY) -m pytest tests cnnlab --doctest-modules -m "not browser" -p no:cacheprovider

nbval: $(STAMP)
	$(PY) -m pytest notebooks --nbval --nbval-current-env -p no:cacheprovider

# Lint: pyflakes, pycodestyle and import order (settings in pyproject.toml); CI fails on findings.
lint: $(STAMP)
	$(VENV)/bin/ruff check cnnlab tests benchmarks tools

# Re-execute every notebook in place (outputs are committed; nbval compares them).
notebooks: $(STAMP)
	MPLBACKEND=module://matplotlib_inline.backend_inline $(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
	  --ExecutePreprocessor.timeout=3600 notebooks/*.ipynb

# Static HTML edition in site/: executes every notebook, one page each plus an index.
html: $(STAMP)
	$(PY) -m tools.site --out site

# Lecture mode: one reveal.js deck per notebook in site/slides/ (committed outputs, not executed), with
# reveal.js and MathJax vendored into site/_static/ so the decks work offline. Slide types: tools/slides.py.
slides: $(STAMP)
	$(PY) -m tools.slides build --out site/slides

# Student edition in student/: every solution region (### BEGIN/END SOLUTION) replaced by a stub,
# outputs cleared. Uses nbgrader's ClearSolutions (optional extra, next to the pinned packages).
student: $(STAMP)
	$(PY) -m pip install --quiet -e '.[student]'
	$(PY) -m tools.student --out student

# Runs the student edition (stub cells are tagged raises-exception, the checkers print NOT YET), and the
# edition's own tests, which need nbgrader (skipped by `make test`, which runs before it is installed).
test-student: student
	$(PY) -m pytest tests/test_student.py student --nbval-lax --nbval-current-env -p no:cacheprovider

# Every declared experiment (cnnlab/nn/experiments.py), results in experiments/results/: hours of training.
# Results of other code are refused unless FORCE=1 (train again) or KEEP=1 (keep its finished runs);
# finished checkpoints in runs/ are reused either way.
experiments: $(STAMP)
	$(PY) -m cnnlab experiment all $(if $(FORCE),--force) $(if $(KEEP),--keep)

bench: $(STAMP)
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis site student test-output
