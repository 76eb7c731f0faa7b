//! Postgres -> Arrow -> Postgres: `copy` reproduces table contents exactly, reads in one
//! snapshot, and is bounded by chunked reads.

use futures::TryStreamExt;
use lakeshift::postgres::catalog::Catalog;
use lakeshift::postgres::read::{ReadOptions, Snapshot, read_table};
use lakeshift::postgres::schema_copy::{self, SchemaCopyOptions};
use lakeshift::postgres::selection::TableSelection;
use lakeshift::postgres::transfer::{CopyOptions, TableCopy};
use lakeshift::postgres::write::LoadMode;

use crate::common::{EVERY_TYPE, EVERY_TYPE_ROWS, TestDb, digest, hr_schema, lakeshift, stderr};

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
    source
        .execute(&format!("{EVERY_TYPE} {EVERY_TYPE_ROWS}"))
        .await;
    schema_copy::copy(&source.url, &target.url, &SchemaCopyOptions::default())
        .await
        .unwrap();
    let summaries = TableCopy::new(source.url.clone(), target.url.clone(), Default::default())
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
    let options = CopyOptions {
        selection: TableSelection {
            tables: vec!["jobs".into()],
            ..Default::default()
        },
        mode: LoadMode::Append,
        ..Default::default()
    };
    let err = TableCopy::new(source.url.clone(), target.url.clone(), options)
        .run()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("duplicate key"), "{err}");
    assert_eq!(target.count("jobs").await, 183);
}
