# Sourced by the table benchmarks (copy.sh, backup.sh): the release binary, the peers, and a
# source database lakeshift_bench_src holding ROWS generated hired_employees rows. Sets BIN,
# PEERS, ADMIN, BASE, ROWS, WORK and SRC; on exit drops the databases named in BENCH_DBS
# and removes WORK.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# One build directory for the quickstart, the tests and the benches: cargo's own.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
PEERS="$(cd ../shared/peers && pwd)"
ADMIN="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
BASE="${ADMIN%/*}"
ROWS="${1:-10000000}"
WORK="$(mktemp -d)"
BENCH_DBS="lakeshift_bench_src ${BENCH_DBS:-}"
cleanup() {
  rm -rf "$WORK"
  for db in $BENCH_DBS; do
    psql "$ADMIN" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
  done
}
trap cleanup EXIT

cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/lakeshift"
psql "$ADMIN" -X -q -c "DROP DATABASE IF EXISTS lakeshift_bench_src" -c "CREATE DATABASE lakeshift_bench_src"
SRC="$BASE/lakeshift_bench_src"
psql "$SRC" -X -q -f "$PEERS/schema.sql" 2>/dev/null
"$BIN" -q demo generate "$WORK/data" --rows "$ROWS" --seed 1
"$BIN" -q import dir "$WORK/data" --target "$SRC"
psql "$SRC" -X -q -c "VACUUM ANALYZE"
rm -rf "$WORK/data"
