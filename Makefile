# Two commands do all set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Debian packages that tests need (nginx as an owner's file server, chromium for the dashboard
# test, ...): installed by scripts/apt-ensure only when missing.
TEST_DEBS := nginx chromium wrk curl

.PHONY: run test venv clean debs bench


venv: $(STAMP)

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

# The main job: meta server, file servers A, B, C and alternate ABC, one device under micropython.
run: $(STAMP)
	$(BIN)/python -m simulator $(ARGS)

debs:
	@if [ -n "$(strip $(TEST_DEBS))" ]; then scripts/apt-ensure $(TEST_DEBS); fi

test: $(STAMP) debs
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

# Benchmarks, side by side with nginx, curl, requests and an aiohttp hello-world; writes
# BENCHMARKS.md (a few minutes). ARGS go to python -m bench (e.g. ARGS="--only failover").
bench: $(STAMP)
	scripts/apt-ensure nginx wrk curl
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
