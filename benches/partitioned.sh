#!/usr/bin/env bash
# Whole-database backup and restore of a table partitioned by year into 5 partitions:
# `lakeshift backup` (Avro and Parquet) beside `pg_dump -Fd -j 2` and `pg_dump -Fc`, and
# `lakeshift restore --create-database` beside `pg_restore -j 2` of the directory dump into
# a fresh database, in the same run. Whole processes; peak RSS from /usr/bin/time.
#
#   benches/partitioned.sh              # 10M rows, one round
#   benches/partitioned.sh 1000000
#   benches/partitioned.sh 10000000 3   # three rounds on the same data, then each ratio's median
#
# A single run on a shared two-core machine moves by 20%: a goal counts on the median of
# rounds, each round running the peers and lakeshift back to back.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
ADMIN="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
BASE="${ADMIN%/*}"
ROWS="${1:-10000000}"
ROUNDS="${2:-1}"
WORK="$(mktemp -d)"
DBS="lakeshift_bench_part lakeshift_bench_part_peer lakeshift_bench_part_dst"
cleanup() {
  rm -rf "$WORK"
  for db in $DBS; do psql "$ADMIN" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done
}
trap cleanup EXIT

cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/lakeshift"
SRC="$BASE/lakeshift_bench_part"
psql "$ADMIN" -X -q -c "DROP DATABASE IF EXISTS lakeshift_bench_part" -c "CREATE DATABASE lakeshift_bench_part"
psql "$SRC" -X -q -v ON_ERROR_STOP=1 -v rows="$ROWS" <<'SQL'
CREATE TABLE sales (
    id bigint NOT NULL,
    sold_at timestamptz NOT NULL,
    customer_id integer NOT NULL,
    amount numeric(12,2) NOT NULL,
    channel text NOT NULL,
    note text,
    PRIMARY KEY (id, sold_at)
) PARTITION BY RANGE (sold_at);
CREATE TABLE sales_2021 PARTITION OF sales FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
CREATE TABLE sales_2022 PARTITION OF sales FOR VALUES FROM ('2022-01-01') TO ('2023-01-01');
CREATE TABLE sales_2023 PARTITION OF sales FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE sales_2024 PARTITION OF sales FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE sales_2025 PARTITION OF sales FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE INDEX ON sales (customer_id);
-- Rows spread evenly over the five years, in id order.
INSERT INTO sales
SELECT i,
       timestamptz '2021-01-01 00:00:00+00' + (i::float8 / :rows) * interval '1826 days',
       (i * 7919) % 100000,
       ((i * 104729) % 10000000) / 100.0,
       (ARRAY['web', 'store', 'phone', 'partner'])[1 + i % 4],
       CASE WHEN i % 5 = 0 THEN NULL ELSE 'order ' || i || ' note' END
FROM generate_series(0::bigint, :rows - 1) AS i;
VACUUM ANALYZE sales;
SQL

seconds() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b-a}'; }
# Run a command, print "seconds peak_rss_mb".
timed() {
  local t0 t1 rss
  t0=$(date +%s.%N)
  rss=$(/usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -n 1)
  t1=$(date +%s.%N)
  echo "$(seconds "$t0" "$t1") $((rss / 1024))"
}
fingerprint() {
  # An order-free sum of row hashes: a string_agg of 10M rows would pass Postgres's 1 GB limit.
  psql "$1" -X -Atc "SELECT count(*) || ' ' || sum(hashtextextended(s::text, 0)) FROM sales s"
}
fresh() { psql "$ADMIN" -X -q -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)"; }
report() { # name seconds rss peer_name peer_seconds
  awk -v n="$1" -v s="$2" -v m="$3" -v r="$ROWS" -v pn="$4" -v p="$5" -v k="$round" \
    'BEGIN{printf "round=%d %s rows=%d seconds=%.3f rows_per_s=%.0f peak_rss_mb=%d vs_%s=%.2fx\n", k, n, r, s, r/s, m, pn, p/s}' \
    | tee -a "$WORK/ratios"
}
expected=$(fingerprint "$SRC")

for round in $(seq "$ROUNDS"); do
  rm -rf "$WORK/dump_fd" "$WORK/dump.fc" "$WORK/avro" "$WORK/parquet"
  # The peers: pg_dump and pg_restore themselves.
  read -r dump_fd dump_fd_rss < <(timed pg_dump "$SRC" -Fd -j 2 -f "$WORK/dump_fd")
  read -r dump_fc dump_fc_rss < <(timed pg_dump "$SRC" -Fc -f "$WORK/dump.fc")
  echo "round=$round pg_dump_Fd_j2 rows=$ROWS seconds=$dump_fd peak_rss_mb=$dump_fd_rss"
  echo "round=$round pg_dump_Fc rows=$ROWS seconds=$dump_fc peak_rss_mb=$dump_fc_rss"
  fresh lakeshift_bench_part_peer
  t0=$(date +%s.%N)
  psql "$ADMIN" -X -q -c "CREATE DATABASE lakeshift_bench_part_peer"
  read -r _ restore_rss < <(timed pg_restore -j 2 -d "$BASE/lakeshift_bench_part_peer" "$WORK/dump_fd")
  t1=$(date +%s.%N)
  restore=$(seconds "$t0" "$t1")
  echo "round=$round pg_restore_Fd_j2 rows=$ROWS seconds=$restore peak_rss_mb=$restore_rss"
  [ "$(fingerprint "$BASE/lakeshift_bench_part_peer")" = "$expected" ] || { echo "pg_restore: rows differ" >&2; exit 1; }

  for format in avro parquet; do
    read -r s rss < <(timed "$BIN" -q backup --source "$SRC" --to "$WORK/$format" --format "$format")
    report "lakeshift_backup_$format" "$s" "$rss" pg_dump_Fd_j2 "$dump_fd"
    report "lakeshift_backup_$format" "$s" "$rss" pg_dump_Fc "$dump_fc"

    # Into a fresh database: the timing includes creating it, as pg_restore's does.
    fresh lakeshift_bench_part_dst
    read -r s rss < <(timed "$BIN" -q restore --from "$WORK/$format" --target "$BASE/lakeshift_bench_part_dst" --create-database)
    report "lakeshift_restore_$format" "$s" "$rss" pg_restore_Fd_j2 "$restore"
    [ "$(fingerprint "$BASE/lakeshift_bench_part_dst")" = "$expected" ] || { echo "lakeshift restore ($format): rows differ" >&2; exit 1; }
    [ "$(psql "$BASE/lakeshift_bench_part_dst" -X -Atc "SELECT count(*) FROM pg_inherits WHERE inhparent = 'sales'::regclass")" = 5 ] \
      || { echo "lakeshift restore ($format): partitions missing" >&2; exit 1; }
  done
done

# Each ratio's median over the rounds.
awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^vs_/) { split($i, kv, "="); print $2, kv[1], kv[2] + 0 } }' \
  "$WORK/ratios" | sort -k1,2 -k3,3g | awk '
  function flush() { if (n) printf "median %s %s=%.2fx over %d rounds\n", name, peer, n % 2 ? xs[(n + 1) / 2] : (xs[n / 2] + xs[n / 2 + 1]) / 2, n }
  $1 " " $2 != name " " peer { flush(); name = $1; peer = $2; n = 0 }
  { xs[++n] = $3 }
  END { flush() }'
