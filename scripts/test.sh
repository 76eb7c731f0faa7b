#!/usr/bin/env bash
# The test suite: unit tests and the integration tests, which need a real Postgres
# (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres); each test creates and
# drops a database of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lakeshift-target}"
scripts/ensure-postgres.sh
# Unit and integration tests (there are no doc tests; benches run with `cargo bench`).
cargo test --locked --lib --bins --tests "$@"
