# Two entry points for a fresh machine: `make demo` and `make test` (see README).
# Both create .venv from the lock, requirements/lock.txt, when it is missing or older than
# pyproject.toml or the lock; `make test` adds the quality extra from requirements/quality.txt.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
LOCK   := requirements/lock.txt
QSTAMP := $(VENV)/.installed-quality
QLOCK  := requirements/quality.txt

# torch's CPU build for the quality extra: PyPI's Linux torch is a CUDA build that pulls GBs
# of nvidia packages. It comes from a local wheel folder where one holds it (this machine keeps
# PyTorch's own file in /opt/wheels, so nothing but PyPI is contacted), else from PyTorch's
# CPU index. Moving torch means editing TORCH (a +cpu build).
TORCH        := torch==2.13.0+cpu
TORCH_WHEELS ?= /opt/wheels
TORCH_FROM   ?= $(if $(wildcard $(TORCH_WHEELS)/$(subst ==,-,$(TORCH))-*.whl),--find-links $(TORCH_WHEELS),--extra-index-url https://download.pytorch.org/whl/cpu)

.PHONY: demo test check install lock clean

install: $(STAMP)

# Every dependency exactly as locked (hash-checked), then the project itself, editable.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(LOCK)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

# The quality extra (torch, transformers) on top, for the tests of lab.quality.embed; the
# demo does without it.
$(QSTAMP): $(STAMP) $(QLOCK)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps $(TORCH_FROM) -r $(QLOCK)
	@touch $(QSTAMP)

# Refresh the lock after a dependency change in pyproject.toml. Existing pins are kept where
# they still fit; `make lock LOCK_ARGS=--upgrade` (or `LOCK_ARGS="--upgrade-package av"`)
# moves them. The runtime, test, bench, hosted and runpod dependencies are resolved for Linux and CPython
# 3.11 against PyPI alone (local pip configuration is ignored), with the hashes of every file
# PyPI serves for each pin, by a pinned pip-tools in a throwaway venv. Then the quality extra
# alone (read from pyproject.toml, fed on stdin: `-r -` in its annotations) into $(QLOCK),
# held to the main lock's pins (-c), with $(TORCH) from TORCH_FROM above.
PIP_TOOLS := pip==26.3 pip-tools==7.6.2
COMPILE   = env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_CONSTRAINT \
	  PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock  (Linux, CPython 3.11; $(1))" \
	  "$$tmp/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras \
	  --index-url https://pypi.org/simple --no-emit-index-url --no-emit-find-links $(LOCK_ARGS)
QUALITY_HEADER := -r - is the quality extra of pyproject.toml, held to lock.txt's pins; torch's CPU build from PyTorch, the rest from PyPI
QUALITY_EXTRA := import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["quality"], sep="\n")
lock:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m venv "$$tmp" && \
	"$$tmp/bin/python" -c 'import sys; sys.exit(None if sys.version_info[:2] == (3, 11) else "make lock needs CPython 3.11: PYTHON=python3.11 make lock")' && \
	"$$tmp/bin/pip" install --quiet --disable-pip-version-check $(PIP_TOOLS) && \
	$(call COMPILE,hashes of the files on PyPI) --extra test --extra bench --extra hosted --extra runpod \
	  --output-file $(LOCK) pyproject.toml && \
	extra=$$("$$tmp/bin/python" -c '$(QUALITY_EXTRA)') && printf '%s\n' "$$extra" '$(TORCH)' | \
	$(call COMPILE,$(QUALITY_HEADER)) \
	  $(TORCH_FROM) --constraint $(LOCK) --output-file $(QLOCK) -

# The main job against a simulator on loopback: deploy check, the pipeline and VACE sweeps
# (notebooks 02 and 03 through papermill), the research log filled in, an HTML report.
demo: $(STAMP)
	$(VENV)/bin/lab demo --out results

# Three pytest workers (pytest-xdist): most tests wait on real-time streams (the suite keeps
# about one core busy), so three share two cores and keep the suite under 10 minutes. Each
# test file stays on one worker (a notebook's cells run in order on one kernel; a module's
# fixtures are made once). TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 3
PARALLEL := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

test: $(QSTAMP) /usr/bin/chromium
	$(PY) -m pytest $(PARALLEL)

# The fast tier while editing: no real-time streaming, notebook kernels or browser (tests
# marked slow or browser, and the nbval notebooks, are left out; `make test` runs them).
check: $(QSTAMP)
	$(PY) -m pytest tests -m "not slow and not browser" -p no:cacheprovider $(PARALLEL)

# The browser test (tests/test_browser_live.py) drives Debian's Chromium through Playwright,
# which never downloads a browser of its own.
/usr/bin/chromium:
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

clean:
	rm -rf $(VENV) .pytest_cache
