# Two commands do all set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Debian packages that tests need (nginx as an owner's file server and the replicas' balancer,
# chromium for the dashboard test, postgresql for the second database engine, openssl for the
# README's certificate recipe, ...): installed by scripts/apt-ensure only when missing. Tests
# start their own servers on loopback ports.
TEST_DEBS := nginx chromium wrk curl postgresql openssl icecast2 ffmpeg

.PHONY: run test venv clean debs bench bench-load


venv: $(STAMP)

# The exact pins of requirements.txt (the lock), then the project itself, editable and without
# dependencies (pyproject.toml: they are all in the lock), so that `python -m host_server`,
# `python -m tools.owner`, ... and the media-* commands work from any folder.
$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# MicroPython stubs for the firmware type check, one folder per port (both define the same
# modules, so never site-packages): tests/hw/stubs-<port>.txt, pinned, without dependencies.
STUBS := $(VENV)/stubs/.installed
$(STUBS): $(STAMP) tests/hw/stubs-esp32.txt tests/hw/stubs-rp2.txt
	@for port in esp32 rp2; do rm -rf $(VENV)/stubs/$$port; \
	  $(BIN)/pip install -q --disable-pip-version-check --no-deps --target $(VENV)/stubs/$$port \
	    -r tests/hw/stubs-$$port.txt || exit 1; done
	touch $(STUBS)

# The CircuitPython path's libraries as a board gets them (tests/hw/cplib.txt), in .venv/cplib.
CPLIB := $(VENV)/cplib/.installed
$(CPLIB): $(STAMP) tests/hw/cplib.txt
	@rm -rf $(VENV)/cplib
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --target $(VENV)/cplib -r tests/hw/cplib.txt
	touch $(CPLIB)

# The main job: meta server, file servers A, B, C and alternate ABC, the radio's two Icecast
# servers (icecast2, ffmpeg: installed when missing), one device under micropython.
run: $(STAMP)
	scripts/apt-ensure icecast2 ffmpeg
	$(BIN)/python -m simulator $(ARGS)

debs:
	@if [ -n "$(strip $(TEST_DEBS))" ]; then scripts/apt-ensure $(TEST_DEBS); fi

test: $(STAMP) $(STUBS) $(CPLIB) debs
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

# Benchmarks, side by side with nginx, curl, requests and an aiohttp hello-world; writes
# BENCHMARKS.md (a few minutes). ARGS go to python -m bench (e.g. ARGS="--only failover").
bench: $(STAMP)
	scripts/apt-ensure nginx wrk curl postgresql icecast2 ffmpeg
	$(BIN)/python -m bench $(ARGS)

# A boot storm: N devices log in, take their next item and report, as after a power cut
# (python -m simulator.loadgen; ARGS e.g. "--devices 5000"): against one meta server process on
# SQLite, then against two replicas behind nginx sharing a throwaway PostgreSQL cluster.
bench-load: $(STAMP)
	scripts/apt-ensure nginx postgresql
	$(BIN)/python -m simulator.loadgen --devices 2000 $(ARGS)
	$(BIN)/python -m simulator.loadgen --devices 2000 --backend postgres --replicas 2 $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
