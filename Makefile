# The project's commands. Everything installs into .venv from the lock file; data lives in .data/.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export DATA_DIR ?= $(CURDIR)/.data
export DAGSTER_HOME ?= $(DATA_DIR)/dagster_home
export RUNTIME__DLTHUB_TELEMETRY ?= false
# The demo and `make dev` talk to the local sandbox on 127.0.0.1: host policy must allow it.
export ALLOW_LOCAL_PROVIDER_HOSTS ?= true

.PHONY: setup peers demo test dev bench bench-tools lint format clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# Peer connectors (tests/integration/test_hubspot_peer_clients.py) run from their own venv: their
# pins conflict with ours (see pyproject's 'peers' extra).
PEERS_VENV ?= .venv-peers
peers: $(PEERS_VENV)/.installed

$(PEERS_VENV)/.installed: requirements-peers.lock
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/pip install --quiet -r requirements-peers.lock
	touch $@

demo: setup
	mkdir -p $(DAGSTER_HOME)
	cp -n dagster_project/dagster.yaml $(DAGSTER_HOME)/dagster.yaml 2>/dev/null || true
	$(BIN)/platform demo

test: setup peers
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n 2 --dist loadfile -q

dev: setup
	bash scripts/dev.sh

# wrk drives the webhook throughput benchmark: installed with apt-get when running as root,
# otherwise a clear failure (the benchmark itself also fails without it, never skips quietly).
bench-tools:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && apt-get install -y -qq wrk; \
	  else \
	    echo "make bench needs wrk: install it (apt-get install wrk, brew install wrk)" >&2; exit 1; \
	  fi; }

bench: setup bench-tools
	$(BIN)/python -m bench.hubspot_full_sync
	$(BIN)/python -m bench.hubspot_incremental
	$(BIN)/python -m bench.hubspot_faults
	$(BIN)/python -m bench.webhook_throughput
	$(BIN)/python -m bench.webhook_fuzz
	$(BIN)/python -m bench.mapping_throughput
	$(BIN)/python -m bench.entity_resolution
	$(BIN)/python -m bench.entity_resolution_febrl

lint:
	$(BIN)/ruff check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(DATA_DIR)
