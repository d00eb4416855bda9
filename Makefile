# Two commands do all set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Debian packages that tests need (nginx as an owner's file server, chromium for the dashboard
# test, ...): installed by scripts/apt-ensure only when missing.
TEST_DEBS := nginx chromium

.PHONY: run test venv clean debs


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

clean:
	rm -rf $(VENV) .pytest_cache
