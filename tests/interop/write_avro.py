"""Write an Avro file with fastavro, as another tool (Spark, a Python job) would, for
`lakeshift restore file`. Usage: write_avro.py OUT"""
import datetime, decimal, sys, uuid

import fastavro

schema = fastavro.parse_schema({
    "type": "record",
    "name": "payment",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "payee", "type": "string"},
        {"name": "paid_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
        {"name": "department", "type": ["null", "int"]},
        {"name": "ref", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    ],
})
utc = datetime.timezone.utc
records = [
    {"id": 1, "payee": "Ada", "paid_at": datetime.datetime(2021, 6, 1, 12, 0, tzinfo=utc),
     "amount": decimal.Decimal("1234.50"), "department": 3,
     "ref": uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "day": datetime.date(1969, 7, 20)},
    {"id": 2, "payee": "Grace ✓", "paid_at": datetime.datetime(1960, 1, 1, 5, 0, tzinfo=utc),
     "amount": decimal.Decimal("-0.01"), "department": None,
     "ref": uuid.UUID("00000000-0000-0000-0000-000000000000"), "day": datetime.date(9999, 12, 31)},
]
with open(sys.argv[1], "wb") as f:
    fastavro.writer(f, schema, records, codec="deflate")
