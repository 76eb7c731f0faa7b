#!/usr/bin/env bash
# A second local Postgres cluster with `wal_level = logical`, for the change-data-capture
# tests (the default server runs `replica`, which cannot decode). Made with initdb and
# pg_ctl under the test cache folder, on its own port, trust auth on 127.0.0.1 only;
# started if it is not running. Prints a connection URL to its `postgres` database.
# LAKESHIFT_LOGICAL_PG_NAME names another such cluster (its own folder), and
# LAKESHIFT_LOGICAL_PG_CONF adds settings to a new one (tests that need a small WAL budget).
set -euo pipefail
BIN="${LAKESHIFT_PG_BIN:-/usr/lib/postgresql/15/bin}"
PORT="${LAKESHIFT_LOGICAL_PG_PORT:-55434}"
CACHE="${LAKESHIFT_TEST_CACHE:-$HOME/.cache/lakeshift-test}"
log() { echo "logical-postgres: $*" >&2; }

[ -x "$BIN/initdb" ] || { echo "error: no initdb in $BIN (install PostgreSQL's server package, or set LAKESHIFT_PG_BIN)" >&2; exit 1; }

# initdb and postgres refuse to run as root: then the cluster belongs to the postgres user,
# in a folder it can reach.
as_owner=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "error: running as root needs a postgres user to own the test cluster" >&2; exit 1; }
  as_owner=(runuser -u postgres --)
  CACHE="${LAKESHIFT_TEST_CACHE:-/var/tmp/lakeshift-test}"
fi
DIR="$CACHE/${LAKESHIFT_LOGICAL_PG_NAME:-logical-postgres}"
DATA="$DIR/data"
mkdir -p "$DIR"

if [ ! -f "$DATA/PG_VERSION" ]; then
  log "creating the cluster in $DATA (port $PORT)"
  rm -rf "$DATA"
  mkdir -p "$DATA"
  [ ${#as_owner[@]} -gt 0 ] && chown -R postgres "$DIR" && chmod 755 "$DIR"
  chmod 700 "$DATA"
  "${as_owner[@]}" "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >>"$DATA/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DATA'
wal_level = logical
max_replication_slots = 64
max_wal_senders = 16
max_connections = 200
fsync = off
synchronous_commit = off
${LAKESHIFT_LOGICAL_PG_CONF:-}
CONF
fi

if ! "${as_owner[@]}" "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  log "starting the cluster on port $PORT"
  "${as_owner[@]}" "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 30 start >/dev/null ||
    { echo "error: the logical-decoding test cluster did not start, see $DIR/server.log" >&2; exit 1; }
fi
echo "postgres://postgres@127.0.0.1:$PORT/postgres"
