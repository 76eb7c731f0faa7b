#!/usr/bin/env bash
# REST ingestion under load: `lakeshift serve` beside the FastAPI + SQLAlchemy peer
# (../shared/peers/h_rest.sh: fastapi_app.py under uvicorn, load_client.py), in the same
# run, both on 127.0.0.1 over the peers' schema.sql with the same departments and jobs.
# 1000-record hired_employees batches at 1 and 16 connections; rows/s, p50/p99 latency,
# server peak RSS. lakeshift's load client is benches/rest_load.rs (bin rest-load).
#
#   benches/rest.sh              # 200 requests per run (200k rows)
#   benches/rest.sh 400
set -euo pipefail
cd "$(dirname "$0")/.."
# One build directory for the quickstart, the tests and the benches: cargo's own.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
REQUESTS="${1:-200}"
PEERS="$(cd ../shared/peers && pwd)"
ADMIN="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
BASE="${ADMIN%/*}"
export BENCH_DIR="${BENCH_DIR:-$HOME/.cache/lakeshift-bench}"
export VENV="$BENCH_DIR/venv"
WORK="$(mktemp -d)"
DB=lakeshift_bench_api
PORT=8089
SPID=
cleanup() {
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
  rm -rf "$WORK"
  psql "$ADMIN" -X -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "DROP DATABASE IF EXISTS bench_api WITH (FORCE)"
}
trap cleanup EXIT

# The peer's Python (once, outside the checkout).
if ! "$VENV/bin/python" -c 'import fastapi, uvicorn, sqlalchemy, psycopg2, httpx' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check fastapi uvicorn sqlalchemy psycopg2-binary httpx
fi
cargo build --release --quiet --features bench-client --bins
BIN="$CARGO_TARGET_DIR/release/lakeshift"
LOAD="$CARGO_TARGET_DIR/release/rest-load"

# Reference data both services check against (h_rest.sh loads the same files).
"$BIN" -q demo generate "$WORK/data" --rows 1000 --seed 1
mkdir -p "$BENCH_DIR"

# The peer (its database is bench_api), 1 and 2 uvicorn workers (2 cores), 1 and 16 connections.
psql "$ADMIN" -X -q -c "DROP DATABASE IF EXISTS bench_api" -c "CREATE DATABASE bench_api"
for workers in 1 2; do
  for c in 1 16; do
    (cd "$PEERS" && ./h_rest.sh "$workers" "$c" "$REQUESTS" "$WORK/data")
  done
done

# lakeshift over the same schema and reference data, in a database of its own.
psql "$ADMIN" -X -q -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
URL="$BASE/$DB"
psql "$URL" -X -q -f "$PEERS/schema.sql" 2>/dev/null \
  -c "\\copy departments FROM '$WORK/data/departments.csv' WITH (FORMAT csv)" \
  -c "\\copy jobs FROM '$WORK/data/jobs.csv' WITH (FORMAT csv)" -c "CHECKPOINT" >/dev/null
printf 'bench-password\n' | "$BIN" user hash >"$WORK/hash"
printf 'users:\n  - username: bench\n    password_hash: "%s"\n' "$(cat "$WORK/hash")" >"$WORK/api.yaml"
export LAKESHIFT_JWT_SECRET="benchmark-secret-benchmark-secret-0123"
for c in 1 16; do
  psql "$URL" -X -q -c "TRUNCATE hired_employees" -c "TRUNCATE lakeshift_ingest_rejects" 2>/dev/null || true
  "$BIN" -q serve --database-url "$URL" --bind "127.0.0.1:$PORT" --config "$WORK/api.yaml" &
  SPID=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  token=$(curl -sf "http://127.0.0.1:$PORT/api/v1/auth/token" -H 'content-type: application/json' \
    -d '{"username":"bench","password":"bench-password"}' | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  "$LOAD" "http://127.0.0.1:$PORT/api/v1/hired_employees" "$token" --concurrency "$c" \
    --requests "$REQUESTS" --time-limit 150 --name "lakeshift_c$c" | tr -d '\n'
  rss=$(ps -o rss= --pid "$SPID")
  rows=$(psql "$URL" -X -Atc "select count(*) from hired_employees")
  echo " server_rss_kb=$rss db_rows=$rows"
  kill "$SPID"; wait "$SPID" || true; SPID=
done
