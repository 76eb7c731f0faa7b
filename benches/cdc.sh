#!/usr/bin/env bash
# Change data capture into Delta: `lakeshift cdc` applying changes to the mirror of a 1M-row
# table, beside what a team without CDC runs instead, a full `lake sync --mode merge` of the
# same table, in the same run, on the wal_level = logical cluster of scripts/logical-postgres.sh.
#
#   1. the initial copy (cdc's first run) and one full `lake sync --mode merge`;
#   2. apply rate for CHANGES inserts, and for CHANGES changes of a 50/30/20
#      insert/update/delete load (transactions of 1000 changes), each caught up by
#      `cdc --until caught-up` (whole process, peak RSS from /usr/bin/time);
#   3. lag under a steady 10k changes/s for 60 s with cdc running continuously: the commit-to-
#      Delta-commit lag of every batch (p50 / p99 / max), against the merge sync, whose lag is
#      at least one full merge.
#
#   benches/cdc.sh                  # 1M rows, 300k changes
#   benches/cdc.sh 100000 30000
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
ROWS="${1:-1000000}"
CHANGES="${2:-300000}"
ADMIN="$(scripts/logical-postgres.sh)"
URL="${ADMIN%/*}/lakeshift_bench_cdc"
WORK="$(mktemp -d)"
cleanup() {
  [ -n "${STREAM:-}" ] && kill "$STREAM" 2>/dev/null || true
  rm -rf "$WORK"
  psql "$ADMIN" -X -q -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'lakeshift_lakeshift_bench_cdc' AND NOT active" >/dev/null 2>&1 || true
  psql "$ADMIN" -X -q -c "DROP DATABASE IF EXISTS lakeshift_bench_cdc WITH (FORCE)" 2>/dev/null || true
}
trap cleanup EXIT

STEADY_SECONDS="${STEADY_SECONDS:-60}"
read -r -a EXTRA <<<"${CDC_ARGS:-}" # extra cdc options, e.g. CDC_ARGS="--max-batch-rows 50000"
if [ -z "${LAKESHIFT_BIN:-}" ]; then cargo build --release --quiet; fi
BIN="${LAKESHIFT_BIN:-$CARGO_TARGET_DIR/release/lakeshift}"
psql "$ADMIN" -X -q -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'lakeshift_lakeshift_bench_cdc'" >/dev/null
psql "$ADMIN" -X -q -c "DROP DATABASE IF EXISTS lakeshift_bench_cdc" -c "CREATE DATABASE lakeshift_bench_cdc"
psql "$URL" -X -q -v ON_ERROR_STOP=1 -v rows="$ROWS" <<'SQL'
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    customer text NOT NULL,
    qty integer NOT NULL,
    price numeric(12,2) NOT NULL,
    note text,
    updated timestamptz NOT NULL DEFAULT now()
);
INSERT INTO orders (id, customer, qty, price, note)
SELECT g, 'customer ' || (g % 50000), g % 100, (g % 10000) / 100.0, md5(g::text)
FROM generate_series(1, :rows) g;
VACUUM ANALYZE orders;
-- n changes in transactions of 1000: inserts, updates and deletes in the given shares.
CREATE PROCEDURE load(n int, inserts int, updates int, deletes int, per_second int DEFAULT 0)
LANGUAGE plpgsql AS $$
DECLARE
  next_id bigint := (SELECT max(id) FROM orders) + 1;
  started timestamptz := clock_timestamp();
  done int := 0;
BEGIN
  WHILE done < n LOOP
    INSERT INTO orders (id, customer, qty, price, note)
      SELECT next_id + g, 'new ' || g, g % 100, g / 100.0, md5(g::text)
      FROM generate_series(0, inserts - 1) g;
    next_id := next_id + inserts;
    UPDATE orders SET qty = qty + 1, updated = now()
      WHERE id IN (SELECT 1 + (random() * (next_id - 2))::bigint FROM generate_series(1, updates));
    DELETE FROM orders
      WHERE id IN (SELECT 1 + (random() * (next_id - 2))::bigint FROM generate_series(1, deletes));
    COMMIT;
    done := done + inserts + updates + deletes;
    IF per_second > 0 THEN
      PERFORM pg_sleep(greatest(0, done::float8 / per_second
                                   - extract(epoch FROM clock_timestamp() - started)));
    END IF;
  END LOOP;
END $$;
SQL
LAKE="$WORK/lake"
timed() { # label, command...: prints "label seconds peak_rss_mb"
  local label="$1"; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
  read -r seconds kb <"$WORK/time"
  echo "$label seconds=$seconds peak_rss_mb=$((kb / 1024))"
}
rate() { python3 -c "import sys; print(f'{int(sys.argv[1]) / float(sys.argv[2]):,.0f}')" "$1" "$2"; }

echo "# $ROWS rows, $CHANGES changes per phase"
timed "initial copy (cdc, first run)" "$BIN" -q cdc --source "$URL" --to "$LAKE" --until caught-up "${EXTRA[@]}"
timed "lake sync --mode merge (whole table)" "$BIN" -q lake sync --source "$URL" --to "$WORK/merge" --tables orders
timed "lake sync --mode merge (whole table, onto the copy)" "$BIN" -q lake sync --source "$URL" --to "$WORK/merge" --tables orders --mode merge
MERGE_SECONDS=$(cut -d' ' -f1 "$WORK/time")

psql "$URL" -X -q -c "CALL load($CHANGES, 1000, 0, 0)"
timed "cdc --until caught-up, $CHANGES inserts" "$BIN" -q cdc --source "$URL" --to "$LAKE" --until caught-up "${EXTRA[@]}"
echo "  inserts applied per second: $(rate "$CHANGES" "$(cut -d' ' -f1 "$WORK/time")")"

psql "$URL" -X -q -c "CALL load($CHANGES, 500, 300, 200)"
timed "cdc --until caught-up, $CHANGES mixed 50/30/20" "$BIN" -q cdc --source "$URL" --to "$LAKE" --until caught-up "${EXTRA[@]}"
echo "  mixed changes applied per second: $(rate "$CHANGES" "$(cut -d' ' -f1 "$WORK/time")")"

# Steady load: 10k changes/s for STEADY_SECONDS (60) s, cdc running continuously beside it.
/usr/bin/time -f "%e %M" -o "$WORK/stream-time" "$BIN" cdc --source "$URL" --to "$LAKE" \
  --max-lag 1 --poll 0.2 --metrics-file "$WORK/cdc.prom" "${EXTRA[@]}" 2>"$WORK/stream-err" &
STREAM=$!
sleep 2
psql "$URL" -X -q -c "CALL load($((STEADY_SECONDS * 10000)), 500, 300, 200, 10000)"
sleep 5
pkill -TERM -P "$STREAM" # lakeshift, under /usr/bin/time
wait "$STREAM" || true
STREAM=
read -r _ kb <"$WORK/stream-time"
echo "steady 10k changes/s for $STEADY_SECONDS s: $(grep -o 'lag p50[^)]*' "$WORK/stream-err") peak_rss_mb=$((kb / 1024))"
echo "  a scheduled full merge sync lags by at least one merge: ${MERGE_SECONDS} s"
grep -E '^lakeshift_cdc_(changes_applied_total|apply_lag_seconds)' "$WORK/cdc.prom" | sed 's/^/  /'
