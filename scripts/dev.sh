#!/usr/bin/env bash
# `make dev`: the demo provider's sandbox in the background on its fixed port (8765, the port the
# demo registered the integration against; refresh tokens kept in $DATA_DIR/sandbox, the same
# seed and size as `make demo`), then the Dagster UI with schedules and sensors on, a DuckDB writer
# pool of 1, and the instance under the data directory (the one `make demo` materialized into).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATA_DIR:=$PWD/.data}"
: "${DAGSTER_HOME:=$DATA_DIR/dagster_home}"
export DATA_DIR DAGSTER_HOME ENVIRONMENT="${ENVIRONMENT:-development}"
export ALLOW_LOCAL_PROVIDER_HOSTS="${ALLOW_LOCAL_PROVIDER_HOSTS:-true}"
mkdir -p "$DAGSTER_HOME"
cp -n dagster_project/dagster.yaml "$DAGSTER_HOME/dagster.yaml" 2>/dev/null || true
.venv/bin/platform sandbox --port "${SANDBOX_PORT:-8765}" --state-dir "$DATA_DIR/sandbox" &
SANDBOX_PID=$!
trap 'kill $SANDBOX_PID 2>/dev/null || true' EXIT
echo "sandbox on http://127.0.0.1:${SANDBOX_PORT:-8765}; run 'make demo' once to register the demo integration"
.venv/bin/dagster dev -m dagster_project.definitions -h 127.0.0.1 -p "${DAGSTER_PORT:-3000}"
