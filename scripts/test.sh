#!/usr/bin/env bash
# The test suite: unit tests and the integration tests, which need a real Postgres
# (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres); each test creates and
# drops a database of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
# One build directory for the quickstart, the tests and the benches: cargo's own.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
scripts/ensure-postgres.sh
# Independent readers (fastavro, pyarrow) and a real S3-compatible server (moto) for the
# backup tests, installed from PyPI outside the checkout.
# (Assigned before export: a failing script then stops this one.)
LAKESHIFT_PYTHON="${LAKESHIFT_PYTHON:-$(scripts/python-env.sh)}"
LAKESHIFT_TEST_S3_ENDPOINT="${LAKESHIFT_TEST_S3_ENDPOINT:-$(scripts/s3-server.sh)}"
# A second cluster that only takes TLS with SCRAM passwords, for the connection tests.
LAKESHIFT_TEST_TLS_PG="${LAKESHIFT_TEST_TLS_PG:-$(scripts/tls-postgres.sh)}"
# A third with wal_level = logical, for change data capture.
LAKESHIFT_TEST_LOGICAL_PG="${LAKESHIFT_TEST_LOGICAL_PG:-$(scripts/logical-postgres.sh)}"
export LAKESHIFT_PYTHON LAKESHIFT_TEST_S3_ENDPOINT LAKESHIFT_TEST_TLS_PG LAKESHIFT_TEST_LOGICAL_PG
# Unit and integration tests (there are no doc tests; benches run with `cargo bench`).
cargo test --locked --lib --bins --tests "$@"
