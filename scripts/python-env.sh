#!/usr/bin/env bash
# The Python tools the tests use as independent peers: fastavro and pyarrow (do other
# implementations read lakeshift's Avro and Parquet files?), moto (a real S3-compatible
# server on 127.0.0.1) and schemathesis (fuzzes the REST API from its OpenAPI document). Installed once from PyPI into a virtualenv outside the checkout;
# prints the interpreter's path.
set -euo pipefail
VENV="${LAKESHIFT_PY_VENV:-$HOME/.cache/lakeshift-py}"
PACKAGES=(fastavro==1.* pyarrow moto[server]==5.* boto3 schemathesis==4.*)
if ! "$VENV/bin/python" -c 'import fastavro, pyarrow, moto, boto3, schemathesis' 2>/dev/null; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PACKAGES[@]}" >&2
fi
echo "$VENV/bin/python"
