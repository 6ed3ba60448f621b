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

# The main job against the embedded simulator (loads 10x faster than real time; streaming is real time).
demo: $(STAMP)
	-LAB_SIM_SPEED=10 $(VENV)/bin/lab doctor sim
	LAB_SIM_SPEED=10 $(VENV)/bin/lab measure sim --pipeline passthrough --duration 5
	LAB_SIM_SPEED=10 $(VENV)/bin/lab measure sim --pipeline longlive --duration 12
	@echo
	@echo "All numbers above are SIMULATED. Next: .venv/bin/jupyter lab notebooks/ (add --allow-root as root):"
	@echo "  01-deploy-check, 04-warmup-latency (plots of these trials); README explains every figure."

test: $(STAMP)
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache
