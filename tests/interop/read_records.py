"""Read an Avro file with fastavro or a Parquet file with pyarrow (independent
implementations) and print its records as JSON, values normalised so the Rust test can
compare them: bytes as hex, decimals, uuids and times as strings, NaN and infinities as
strings. Usage: read_records.py avro|parquet FILE"""
import base64, datetime, decimal, json, math, sys, uuid


def normal(value):
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc)
        return value.isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return [normal(v) for v in value]
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    return value


def main():
    kind, path = sys.argv[1], sys.argv[2]
    if kind == "avro":
        import fastavro

        with open(path, "rb") as f:
            records = list(fastavro.reader(f))
    else:
        import pyarrow.parquet

        records = pyarrow.parquet.read_table(path).to_pylist()
    print(json.dumps([normal(r) for r in records]))


main()
