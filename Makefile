# Two entry points for a fresh machine: `make demo` and `make test` (see README).
# Both create .venv from pyproject.toml when it is missing or older than pyproject.toml.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

# The main job against a simulator on loopback: deploy check, the pipeline and VACE sweeps
# (notebooks 02 and 03 through papermill), the research log filled in, an HTML report.
demo: $(STAMP)
	$(VENV)/bin/lab demo --out results

test: $(STAMP) /usr/bin/chromium
	$(PY) -m pytest

# The browser test (tests/test_browser_live.py) drives Debian's Chromium through Playwright,
# which never downloads a browser of its own.
/usr/bin/chromium:
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

clean:
	rm -rf $(VENV) .pytest_cache
