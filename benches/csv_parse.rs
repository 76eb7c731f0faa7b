//! Micro benchmark of the CSV hot path: split, parse by column type, build Arrow batches.
//! `cargo bench --bench csv_parse`; end-to-end numbers come from `benches/import.sh`.

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lakeshift::formats::csv::rejects::RejectLog;
use lakeshift::formats::csv::{CsvOptions, Refusal, RowCheck, TargetColumn, TypedCsvReader};
use lakeshift::postgres::types::PgKind;
use lakeshift::values::Value;

struct AcceptAll;

impl RowCheck for AcceptAll {
    fn check(&mut self, _: &[Value], _: &[u8]) -> Result<(), Refusal> {
        Ok(())
    }
}

fn hired_employees() -> Vec<TargetColumn> {
    let column = |name: &str, kind: PgKind| TargetColumn {
        name: name.into(),
        field: Arc::new(arrow::datatypes::Field::new(name, kind.arrow_type(), true)),
        kind,
        not_null: false,
    };
    vec![
        column("id", PgKind::Int4),
        column(
            "name",
            PgKind::Text {
                max_chars: Some(255),
            },
        ),
        column("datetime", PgKind::Timestamp),
        column("department_id", PgKind::Int4),
        column("job_id", PgKind::Int4),
    ]
}

fn parse(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let rows = 200_000;
    lakeshift::demo::generate(dir.path(), rows, 1).unwrap();
    let data = std::fs::read(dir.path().join("hired_employees.csv")).unwrap();
    let columns = hired_employees();
    let mut group = c.benchmark_group("csv_parse");
    group.throughput(Throughput::Elements(rows));
    group.bench_function("hired_employees_200k", |b| {
        b.iter(|| {
            let rejects = RejectLog::new(dir.path().join("rejects.csv")).unwrap();
            let mut reader = TypedCsvReader::new(
                data.as_slice(),
                "bench.csv".into(),
                CsvOptions::default(),
                columns.clone(),
                rejects,
                None,
                64 * 1024,
            );
            let mut loaded = 0;
            while let Some(batch) = reader.next_batch(&mut AcceptAll).unwrap() {
                loaded += batch.num_rows();
            }
            assert_eq!(loaded as u64, rows);
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
