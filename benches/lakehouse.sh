#!/usr/bin/env bash
# The lakehouse on a generated hired_employees table, in one run:
# - `lakeshift lake sync` of hired_employees beside connectorx + Python deltalake
#   (the peers' e1_delta.py, write_deltalake overwrite);
# - both HR reports (queries/*.sql) with `lakeshift sql` over the Delta tables, beside the
#   same SQL files in Postgres (psql) and in DuckDB over Parquet files (written by the peers'
#   d1_cx_parquet.py);
# every engine a whole process timed the same way (best of RUNS), peak RSS from /usr/bin/time.
# The peers' own in-process timings (g_postgres.sh, g_engines.py duckdb|datafusion, on their
# portable q1/q2) are printed too, for reference.
#
#   benches/lakehouse.sh             # 10M rows
#   benches/lakehouse.sh 1000000
source "$(dirname "$0")/source-db.sh"
RUNS="${RUNS:-3}"
export BENCH_DIR="${BENCH_DIR:-$HOME/.cache/lakeshift-bench}"
VENV="$BENCH_DIR/venv"
if ! "$VENV/bin/python" -c 'import duckdb, deltalake, connectorx, pyarrow, polars, datafusion' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check duckdb deltalake connectorx pyarrow polars datafusion
fi
PY="$VENV/bin/python"

# Run a command RUNS times; print "best_seconds peak_rss_mb_of_that_run".
timed() {
  local best="" rss t0 t1 s m
  for _ in $(seq "$RUNS"); do
    t0=$(date +%s.%N)
    m=$(/usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -n 1)
    t1=$(date +%s.%N)
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')
    if [ -z "$best" ] || awk -v s="$s" -v b="$best" 'BEGIN{exit !(s<b)}'; then best=$s; rss=$((m / 1024)); fi
  done
  echo "$best $rss"
}

# Delta sync: lakeshift vs connectorx + deltalake (each into a fresh directory every run).
sync_lakeshift() { rm -rf "$WORK/lake"; "$BIN" -q lake sync --source "$SRC" --to "$WORK/lake" --tables hired_employees; }
sync_python() { rm -rf "$WORK/pylake"; "$PY" "$PEERS/e1_delta.py" "$SRC" "$WORK/pylake"; }
duck() {
  "$PY" - "$WORK/parquet" "$1" <<'PY'
import sys, duckdb
con = duckdb.connect()
for t in ("departments", "jobs", "hired_employees"):
    con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{sys.argv[1]}/{t}.parquet')")
con.execute(open(sys.argv[2]).read()).fetchall()
PY
}
export -f sync_lakeshift sync_python duck
export BIN SRC WORK PY PEERS
read -r ours ours_rss < <(timed bash -c sync_lakeshift)
read -r theirs theirs_rss < <(timed bash -c sync_python)
awk -v r="$ROWS" -v s="$ours" -v m="$ours_rss" -v p="$theirs" -v pm="$theirs_rss" 'BEGIN{
  printf "connectorx_deltalake_sync rows=%d seconds=%.3f rows_per_s=%.0f peak_rss_mb=%d\n", r, p, r/p, pm;
  printf "lakeshift_lake_sync rows=%d seconds=%.3f rows_per_s=%.0f peak_rss_mb=%d vs_python_deltalake=%.2fx\n", r, s, r/s, m, p/s}'

# The tables for the reports: Delta (all three) for lakeshift, Parquet for DuckDB.
"$BIN" -q lake sync --source "$SRC" --to "$WORK/lake"
"$PY" "$PEERS/d1_cx_parquet.py" "$SRC" "$WORK/parquet" >/dev/null
tables=()
for t in departments jobs hired_employees; do tables+=(--table "$t=$WORK/lake/$t#delta"); done
for q in hired_by_quarter_2021 departments_above_mean_2021; do
  file="queries/$q.sql"
  read -r ls ls_rss < <(timed "$BIN" -q sql "$file" "${tables[@]}" --format csv -o "$WORK/$q.csv")
  read -r dk dk_rss < <(timed bash -c 'duck "$0"' "$file")
  read -r pg pg_rss < <(timed psql "$SRC" -X -q -o /dev/null -f "$file")
  awk -v q="$q" -v r="$ROWS" -v l="$ls" -v lm="$ls_rss" -v d="$dk" -v dm="$dk_rss" -v p="$pg" -v pm="$pg_rss" 'BEGIN{
    printf "postgres_%s rows=%d seconds=%.3f (psql client rss %d MB)\n", q, r, p, pm;
    printf "duckdb_parquet_%s rows=%d seconds=%.3f peak_rss_mb=%d\n", q, r, d, dm;
    printf "lakeshift_delta_%s rows=%d seconds=%.3f peak_rss_mb=%d vs_duckdb=%.2fx_its_time vs_postgres=%.2fx_faster\n", q, r, l, lm, l/d, p/l}'
done

# For reference: the peers' in-process timings of their portable q1/q2.
"$PEERS/g_postgres.sh" "$SRC"
"$PY" "$PEERS/g_engines.py" duckdb "$WORK/parquet"
"$PY" "$PEERS/g_engines.py" datafusion "$WORK/parquet"
