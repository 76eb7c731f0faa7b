#!/usr/bin/env bash
# Postgres -> Postgres table copy: `lakeshift schema copy` + `lakeshift copy` into a fresh
# database, beside pg_dump -Fc + pg_restore (the peers' c2_pg_dump.sh and f3_pg_restore.sh),
# in the same run, on the same generated hired_employees table.
#
#   benches/copy.sh              # 10M rows
#   benches/copy.sh 1000000
BENCH_DBS="lakeshift_bench_peer lakeshift_bench_dst"
source "$(dirname "$0")/source-db.sh"

# The peer: dump, then restore into a fresh database (its timing includes createdb).
dump=$("$PEERS/c2_pg_dump.sh" "$SRC" "$WORK/he.dump" Fc)
restore=$("$PEERS/f3_pg_restore.sh" "$WORK/he.dump" "$ADMIN" lakeshift_bench_peer)
echo "$dump"
echo "$restore"
awk -v a="$dump" -v b="$restore" 'BEGIN{split(a,x,"seconds=");split(x[2],y," ");split(b,p,"seconds=");split(p[2],q," ");
  printf "pg_dump_plus_restore seconds=%.3f\n", y[1]+q[1]}'

# lakeshift: fresh database, schema, then the data of that table.
t0=$(date +%s.%N)
psql "$ADMIN" -X -q -c "DROP DATABASE IF EXISTS lakeshift_bench_dst" -c "CREATE DATABASE lakeshift_bench_dst"
"$BIN" -q schema copy --source "$SRC" --target "$BASE/lakeshift_bench_dst"
rss=$(/usr/bin/time -f "%M" "$BIN" -q copy --source "$SRC" --target "$BASE/lakeshift_bench_dst" --tables hired_employees 2>&1 >/dev/null | tail -n 1)
t1=$(date +%s.%N)
rows=$(psql "$BASE/lakeshift_bench_dst" -X -Atc "select count(*) from hired_employees")
awk -v r="$rows" -v a="$t0" -v b="$t1" -v m="$rss" \
  'BEGIN{s=b-a; printf "lakeshift_schema_copy_plus_copy rows=%d seconds=%.3f rows_per_s=%.0f peak_rss_mb=%.0f\n", r, s, r/s, m/1024}'
