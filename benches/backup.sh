#!/usr/bin/env bash
# Backup and restore of a generated hired_employees table: `lakeshift backup` to Avro and to
# Parquet beside `pg_dump -Fc -t hired_employees` (the peers' c2_pg_dump.sh), and
# `lakeshift restore` beside `pg_restore` of that dump (f3_pg_restore.sh), both into a fresh
# database, in the same run. Whole processes; peak RSS from /usr/bin/time.
#
#   benches/backup.sh              # 10M rows
#   benches/backup.sh 1000000
BENCH_DBS="lakeshift_bench_peer lakeshift_bench_dst"
source "$(dirname "$0")/source-db.sh"

seconds() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b-a}'; }

# Run a lakeshift command, print "seconds peak_rss_mb".
timed() {
  local t0 t1 rss
  t0=$(date +%s.%N)
  rss=$(/usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -n 1)
  t1=$(date +%s.%N)
  echo "$(seconds "$t0" "$t1") $((rss / 1024))"
}

# The peers.
dump=$("$PEERS/c2_pg_dump.sh" "$SRC" "$WORK/he.dump" Fc)
restore=$("$PEERS/f3_pg_restore.sh" "$WORK/he.dump" "$ADMIN" lakeshift_bench_peer)
echo "$dump"
echo "$restore"
field() { echo "$1" | sed -E "s/.*$2=([0-9.]+).*/\1/"; }
dump_s=$(field "$dump" seconds)
restore_s=$(field "$restore" seconds)

for format in avro parquet; do
  read -r s rss < <(timed "$BIN" -q backup --source "$SRC" --to "$WORK/$format" --tables hired_employees --format "$format")
  mb=$(du -sm --apparent-size "$WORK/$format" | cut -f1)
  awk -v f="$format" -v s="$s" -v m="$rss" -v r="$ROWS" -v p="$dump_s" -v mb="$mb" \
    'BEGIN{printf "lakeshift_backup_%s rows=%d seconds=%.3f rows_per_s=%.0f peak_rss_mb=%d files_mb=%d vs_pg_dump_Fc=%.2fx\n", f, r, s, r/s, m, mb, p/s}'

  # Restore into a fresh database (timing includes createdb, as the peer's does).
  t0=$(date +%s.%N)
  psql "$ADMIN" -X -q -c "DROP DATABASE IF EXISTS lakeshift_bench_dst" -c "CREATE DATABASE lakeshift_bench_dst"
  read -r _ rss < <(timed "$BIN" -q restore --from "$WORK/$format" --target "$BASE/lakeshift_bench_dst")
  t1=$(date +%s.%N)
  s=$(seconds "$t0" "$t1")
  rows=$(psql "$BASE/lakeshift_bench_dst" -X -Atc "select count(*) from hired_employees")
  awk -v f="$format" -v s="$s" -v m="$rss" -v r="$rows" -v p="$restore_s" \
    'BEGIN{printf "lakeshift_restore_%s rows=%d seconds=%.3f rows_per_s=%.0f peak_rss_mb=%d vs_pg_restore=%.2fx\n", f, r, s, r/s, m, p/s}'
done
