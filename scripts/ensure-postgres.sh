#!/usr/bin/env bash
# Make sure the Postgres the tests use (DATABASE_URL) answers: start the local cluster when
# it is installed but down, otherwise fail with a message that says what to do.
set -euo pipefail
url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

if pg_isready -q -d "$url" 2>/dev/null; then
  exit 0
fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  for version in $(ls /etc/postgresql); do
    echo "starting the local Postgres $version cluster" >&2
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 30); do
    pg_isready -q -d "$url" 2>/dev/null && exit 0
    sleep 1
  done
fi
echo "error: no Postgres answers at ${url//:*@/:***@} (set DATABASE_URL, or install and start PostgreSQL)" >&2
exit 1
