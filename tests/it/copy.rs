//! Postgres -> Arrow -> Postgres: `copy` reproduces table contents exactly, reads in one
//! snapshot, and is bounded by chunked reads.

use futures::TryStreamExt;
use lakeshift::postgres::catalog::Catalog;
use lakeshift::postgres::ddl;
use lakeshift::postgres::read::{ReadOptions, Snapshot, read_table};
use lakeshift::postgres::transfer::TableCopy;
use lakeshift::postgres::write::LoadMode;

use crate::common::{TestDb, hr_schema, lakeshift, stderr};

const TYPES: &str = "
    CREATE TYPE mood AS ENUM ('sad', 'happy');
    CREATE DOMAIN pos AS int4 CHECK (VALUE > 0);
    CREATE TABLE everything (
        id int8 PRIMARY KEY, b bool, i2 int2, i4 int4, f4 real, f8 float8, n numeric(30,4),
        nu numeric, n38 numeric(38,12), t text, vc varchar(5), c char(3), by bytea, d date, tm time,
        ts timestamp, tz timestamptz, u uuid, j json, jb jsonb, ip inet, iv interval, m mood,
        arr int4[], tarr text[], p pos, money_col money,
        g int8 GENERATED ALWAYS AS (id * 2) STORED
    );";

const ROWS: &str = "
    INSERT INTO everything (id, b, i2, i4, f4, f8, n, nu, n38, t, vc, c, by, d, tm, ts, tz, u, j, jb, ip, iv, m, arr, tarr, p, money_col) VALUES
    (1, true, -32768, 2147483647, 'NaN', '-Infinity', 12345678901234567890123456.1235,
     '3.14159265358979323846264338327950288419716939937510', 12345678901234567890.123456789012, 'a,b\"c', 'abcde', 'ab',
     '\\x00ff00', '1969-07-20', '23:59:59.999999', '1900-01-01 00:00:00', '2021-06-01 12:00:00+02',
     'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"b\": 1,  \"a\": [1, {\"c\": null}]}', '{\"k\": \"v\"}',
     '192.168.0.1/24', '1 year 2 mons 3 days 04:05:06.789', 'happy', '{1,NULL,3}', '{\"x y\",NULL,\"\"}', 7, 12.34),
    (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (3, false, 0, 0, 'Infinity', 5e-324, -0.0001, 'NaN', -0.000000000001, '', '', '', '', '9999-12-31', '00:00:00',
     '9999-12-31 23:59:59.999999', '1960-01-01 00:00:00-05', '00000000-0000-0000-0000-000000000000', '[]', 'null',
     '::1', '-1 mons', 'sad', '{}', '{}', 1, -1),
    (4, true, 1, 1, 1.5, 0.1, 1, 1e-20, 1, 'üñî ✓ 😀', 'ü', 'x', '\\x', '2000-02-29', '12:00:00', '1970-01-01 00:00:00',
     '2016-03-27 01:30:00+01', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '\"s\"', '[1, {\"a\": {\"b\": [true]}}]',
     '10.0.0.0/8', '0', 'happy', '{-1}', '{NULL}', 2147483647, 0)";

fn digest(table: &str) -> String {
    format!("SELECT md5(string_agg(x::text, '|' ORDER BY id)) FROM {table} x")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_type_and_edge_value_survives_a_copy() {
    let (source, target) = (TestDb::new().await, TestDb::new().await);
    for db in [&source, &target] {
        db.execute(&format!(
            "ALTER DATABASE {} SET timezone = 'UTC'",
            db.url.database()
        ))
        .await;
    }
    source.execute(&format!("{TYPES} {ROWS}")).await;
    ddl::copy(&source.url, &target.url, &["public".into()], false)
        .await
        .unwrap();
    let summaries = TableCopy::new(source.url.clone(), target.url.clone())
        .run()
        .await
        .unwrap();
    assert_eq!(summaries[0].rows, 4);
    let (ours, theirs) = (
        target.value(&digest("everything")).await,
        source.value(&digest("everything")).await,
    );
    if ours != theirs {
        let diff = target
            .value("SELECT string_agg(x::text, E'\\n' ORDER BY id) FROM everything x")
            .await;
        let want = source
            .value("SELECT string_agg(x::text, E'\\n' ORDER BY id) FROM everything x")
            .await;
        panic!("copy differs:\n{diff}\n---- source:\n{want}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_sees_its_snapshot_not_rows_committed_later() {
    let db = TestDb::new().await;
    hr_schema(&db).await;
    db.execute("INSERT INTO departments SELECT g, 'd' || g FROM generate_series(1, 5000) g")
        .await;
    let catalog = Catalog::load(&db.url, &["public".into()]).await.unwrap();
    let table = catalog.table("departments").unwrap();
    let snapshot = Snapshot::export(&db.url, &[table]).await.unwrap();
    db.execute("INSERT INTO departments SELECT g, 'late' FROM generate_series(5001, 6000) g")
        .await;
    // One page per chunk and two partitions: many chunks, all in the snapshot.
    let options = ReadOptions {
        batch_size: 100,
        partitions: 2,
        chunk_pages: 1,
    };
    let stream = read_table(&db.url, &snapshot, &catalog, table, options)
        .await
        .unwrap();
    let batches: Vec<_> = stream.try_collect().await.unwrap();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 5000);
    assert!(
        batches.len() > 10,
        "read in many chunks, got {}",
        batches.len()
    );
    let schema = batches[0].schema();
    assert_eq!(
        schema.field(0).data_type(),
        &arrow::datatypes::DataType::Int32,
        "int4 is not widened"
    );
    assert!(
        !schema.field(0).is_nullable(),
        "the primary key is NOT NULL"
    );
    assert_eq!(
        schema.field(1).metadata()["lakeshift.pg_type"],
        "character varying(255)"
    );
    snapshot.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_command_loads_parents_first_and_refuses_a_missing_target_table() {
    let (source, target) = (TestDb::new().await, TestDb::new().await);
    hr_schema(&source).await;
    source
        .execute(
            "INSERT INTO departments SELECT g, 'd' || g FROM generate_series(1, 12) g;
             INSERT INTO jobs SELECT g, 'j' || g FROM generate_series(1, 183) g;
             INSERT INTO hired_employees SELECT g, 'n' || g, timestamp '2021-01-01' + g * interval '1 minute',
                    1 + g % 12, 1 + g % 183 FROM generate_series(1, 20000) g;",
        )
        .await;
    let out = lakeshift(&source.url, &["copy", "--target", target.url.expose()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("run schema copy first"),
        "{}",
        stderr(&out)
    );

    hr_schema(&target).await;
    for _ in 0..2 {
        let out = lakeshift(
            &source.url,
            &["copy", "--target", target.url.expose(), "--mode", "replace"],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_eq!(
        target.value(&digest("hired_employees")).await,
        source.value(&digest("hired_employees")).await
    );
    assert_eq!(target.count("jobs").await, 183);

    // Appending the same rows again violates the primary key: nothing of it is committed.
    let err = TableCopy::new(source.url.clone(), target.url.clone())
        .with_tables(vec!["jobs".into()])
        .with_mode(LoadMode::Append)
        .run()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("duplicate key"), "{err}");
    assert_eq!(target.count("jobs").await, 183);
}
