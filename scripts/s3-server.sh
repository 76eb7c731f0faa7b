#!/usr/bin/env bash
# A real S3-compatible server for the tests: moto in server mode on 127.0.0.1, with the
# bucket the tests use. Starts it if nothing answers on the port; prints the endpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${LAKESHIFT_S3_PORT:-5599}"
ENDPOINT="http://127.0.0.1:$PORT"
BUCKET="${LAKESHIFT_S3_BUCKET:-lakeshift-test}"
PYTHON="$(scripts/python-env.sh)"
if ! curl -s -o /dev/null "$ENDPOINT"; then
  LOG="${TMPDIR:-/tmp}/lakeshift-moto-$PORT.log"
  nohup "$(dirname "$PYTHON")/moto_server" -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 &
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "$ENDPOINT" && break
    sleep 0.1
  done
  curl -s -o /dev/null "$ENDPOINT" || { echo "moto did not start, see $LOG" >&2; exit 1; }
fi
curl -s -o /dev/null -X PUT "$ENDPOINT/$BUCKET"
echo "$ENDPOINT"
