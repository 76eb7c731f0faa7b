#!/usr/bin/env bash
# End-to-end CSV import: lakeshift beside psql \copy, on the same generated files, in the
# same run. Whole processes are timed; lakeshift's peak RSS is measured too.
#
#   benches/import.sh                 # 1M and 10M hired_employees rows
#   benches/import.sh 100000          # other sizes
#
# Needs DATABASE_URL's server (default local) and ../shared/peers beside the checkout. It
# creates and drops the database lakeshift_bench. Prints one line per tool and size:
#   NAME rows=... seconds=... rows_per_s=... [peak_rss_mb=...]
set -euo pipefail
cd "$(dirname "$0")/.."
# One build directory for the quickstart, the tests and the benches: cargo's own.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
PEERS="$(cd ../shared/peers && pwd)"
ADMIN="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
URL="${ADMIN%/*}/lakeshift_bench"
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(1000000 10000000)

cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/lakeshift"
psql "$ADMIN" -X -q -c "DROP DATABASE IF EXISTS lakeshift_bench" -c "CREATE DATABASE lakeshift_bench"
trap 'psql "$ADMIN" -X -q -c "DROP DATABASE IF EXISTS lakeshift_bench WITH (FORCE)"' EXIT
DATA="$(mktemp -d)"; trap 'rm -rf "$DATA"; psql "$ADMIN" -X -q -c "DROP DATABASE IF EXISTS lakeshift_bench WITH (FORCE)"' EXIT

now() { date +%s.%N; }
# timed NAME ROWS CMD...: run CMD, print the line with wall seconds and peak RSS.
timed() {
  local name=$1 rows=$2; shift 2
  local t0 t1 rss
  t0=$(now)
  rss=$(/usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -n 1)
  t1=$(now)
  awk -v n="$name" -v r="$rows" -v a="$t0" -v b="$t1" -v m="$rss" \
    'BEGIN{s=b-a; printf "%s rows=%d seconds=%.3f rows_per_s=%.0f peak_rss_mb=%.0f\n", n, r, s, r/s, m/1024}'
}
# copy_with_psql NAME ROWS: \copy the three files into the tables as they are, timed.
copy_with_psql() {
  local t0 t1
  t0=$(now)
  psql "$URL" -X -q -v ON_ERROR_STOP=1 \
    -c "\\copy departments FROM '$DATA/departments.csv' WITH (FORMAT csv)" \
    -c "\\copy jobs FROM '$DATA/jobs.csv' WITH (FORMAT csv)" \
    -c "\\copy hired_employees FROM '$DATA/hired_employees.csv' WITH (FORMAT csv)" >/dev/null
  t1=$(now)
  awk -v n="$1" -v r="$2" -v a="$t0" -v b="$t1" \
    'BEGIN{s=b-a; printf "%s rows=%d seconds=%.3f rows_per_s=%.0f\n", n, r, s, r/s}'
}
reset_tables() { psql "$URL" -X -q -f "$1" >/dev/null 2>&1; }
drop_tables() {
  psql "$URL" -X -q -c "DROP TABLE IF EXISTS hired_employees, jobs, departments CASCADE" >/dev/null 2>&1
}
check_schema() {
  drop_tables
  reset_tables "$PEERS/schema.sql"
  psql "$URL" -X -q -c "ALTER TABLE hired_employees ADD CHECK (id > 0)" >/dev/null
}
fk_schema() {
  drop_tables
  psql "$URL" -X -q -f pipelines/hr/schema.sql >/dev/null
}

for rows in "${SIZES[@]}"; do
  rm -rf "$DATA"/*
  "$BIN" -q demo generate "$DATA" --rows "$rows" --seed 1
  cat "$DATA"/*.csv >/dev/null   # warm the page cache for every tool alike

  # Tables without foreign keys (the peers' schema.sql): the peer recreates them itself.
  "$PEERS/a1_psql_copy.sh" "$DATA" "$URL"
  reset_tables "$PEERS/schema.sql"
  timed lakeshift_import "$rows" "$BIN" -q import dir "$DATA" --target "$URL"

  # The HR schema with foreign keys: both load into the same empty tables; lakeshift also
  # checks the keys itself to turn violations into rejects.
  fk_schema
  copy_with_psql psql_copy_fk "$rows"
  fk_schema
  timed lakeshift_import_fk "$rows" "$BIN" -q import dir "$DATA" --target "$URL"

  # A CHECK constraint on hired_employees: lakeshift stages its rows (COPY into a temporary
  # table, one INSERT ... SELECT) so that a violation is a reject; \copy just fails.
  check_schema
  copy_with_psql psql_copy_check "$rows"
  check_schema
  timed lakeshift_import_check "$rows" "$BIN" -q import dir "$DATA" --target "$URL"
done
