#!/usr/bin/env bash
# A second local Postgres cluster for the connection tests, as a managed service is set up:
# TLS on with a certificate from this script's own CA, and pg_hba.conf allowing only
# `hostssl` with SCRAM passwords (no socket, no plaintext, no trust). Made with initdb and
# pg_ctl under the test cache folder, on its own port; started if it is not running.
# Prints the folder, which holds: port, user, password, ca.crt (the CA that signed the
# server's certificate for localhost and 127.0.0.1) and wrong-ca.crt (a CA that did not).
set -euo pipefail
BIN="${LAKESHIFT_PG_BIN:-/usr/lib/postgresql/15/bin}"
PORT="${LAKESHIFT_TLS_PG_PORT:-55433}"
CACHE="${LAKESHIFT_TEST_CACHE:-$HOME/.cache/lakeshift-test}"
DIR="$CACHE/tls-postgres"
DATA="$DIR/data"
log() { echo "tls-postgres: $*" >&2; }

[ -x "$BIN/initdb" ] || { echo "error: no initdb in $BIN (install PostgreSQL's server package, or set LAKESHIFT_PG_BIN)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "error: openssl is needed to make the test certificates" >&2; exit 1; }

# initdb and postgres refuse to run as root: then the cluster belongs to the postgres user,
# in a folder it can reach.
as_owner=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "error: running as root needs a postgres user to own the test cluster" >&2; exit 1; }
  as_owner=(runuser -u postgres --)
  DIR="${LAKESHIFT_TEST_CACHE:-/var/tmp/lakeshift-test}/tls-postgres"
  DATA="$DIR/data"
fi
mkdir -p "$DIR"

if [ ! -f "$DIR/ca.crt" ]; then
  log "making a CA and a server certificate in $DIR"
  (
    cd "$DIR"
    make_ca() {
      openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$2" \
        -keyout "$1.key" -out "$1.crt" 2>/dev/null
    }
    make_ca ca "lakeshift test CA"
    make_ca wrong-ca "some other CA"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
      -keyout server.key -out server.csr 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -days 3650 -extfile server.ext -out server.crt 2>/dev/null
    rm -f server.csr server.ext
  )
fi

if [ ! -f "$DATA/PG_VERSION" ]; then
  log "creating the cluster in $DATA (port $PORT)"
  echo lakeshift >"$DIR/user"
  openssl rand -hex 12 >"$DIR/password"
  rm -rf "$DATA"
  mkdir -p "$DATA"
  if [ ${#as_owner[@]} -gt 0 ]; then
    chown -R postgres "$DIR"
    chmod 755 "$DIR"
  fi
  chmod 700 "$DATA"
  "${as_owner[@]}" "$BIN/initdb" -D "$DATA" -U "$(cat "$DIR/user")" --pwfile="$DIR/password" \
    --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >>"$DATA/postgresql.conf" <<EOF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DATA'
ssl = on
ssl_cert_file = '$DIR/server.crt'
ssl_key_file = '$DIR/server.key'
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
EOF
  printf 'hostssl all all 127.0.0.1/32 scram-sha-256\n' >"$DATA/pg_hba.conf"
  chmod 600 "$DIR/server.key"
  [ ${#as_owner[@]} -gt 0 ] && chown postgres "$DIR/server.key" "$DATA/postgresql.conf" "$DATA/pg_hba.conf"
fi
# The tests read these as the invoking user.
chmod 644 "$DIR/ca.crt" "$DIR/wrong-ca.crt" "$DIR/port" "$DIR/user" "$DIR/password" 2>/dev/null || true
echo "$PORT" >"$DIR/port"

if ! "${as_owner[@]}" "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  log "starting the cluster on port $PORT"
  "${as_owner[@]}" "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 30 start >/dev/null ||
    { echo "error: the TLS test cluster did not start, see $DIR/server.log" >&2; exit 1; }
fi
echo "$DIR"
