#!/usr/bin/env bash
# The test suite: unit tests and the integration tests, which need a real Postgres
# (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres); each test creates and
# drops a database of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lakeshift-target}"
scripts/ensure-postgres.sh
# Independent readers (fastavro, pyarrow) and a real S3-compatible server (moto) for the
# backup tests, installed from PyPI outside the checkout.
export LAKESHIFT_PYTHON="${LAKESHIFT_PYTHON:-$(scripts/python-env.sh)}"
export LAKESHIFT_TEST_S3_ENDPOINT="${LAKESHIFT_TEST_S3_ENDPOINT:-$(scripts/s3-server.sh)}"
# Unit and integration tests (there are no doc tests; benches run with `cargo bench`).
cargo test --locked --lib --bins --tests "$@"
