//! `schema copy` / `schema dump`: a rich source schema is recreated exactly (compared with a
//! normalised `pg_dump --schema-only`), and the script is idempotent.

use std::process::Command;

use lakeshift::postgres::catalog::Catalog;
use lakeshift::postgres::schema_copy::{self, SchemaCopyOptions};
use lakeshift::postgres::selection::SchemaScope;

use crate::common::{
    TestDb, error_of, hr_schema, lakeshift, normalised_dump, repo_file, stderr, stdout_of,
};

async fn rich_source() -> TestDb {
    let db = TestDb::new().await;
    db.execute(&std::fs::read_to_string(repo_file("tests/it/fixtures/rich_schema.sql")).unwrap())
        .await;
    db
}

#[tokio::test(flavor = "multi_thread")]
async fn rich_schema_is_recreated_exactly_and_copy_is_idempotent() {
    let (source, target) = (rich_source().await, TestDb::new().await);
    // The target already has some of the objects: they are kept, the rest is added.
    target
        .execute(
            "CREATE SCHEMA shop; CREATE TYPE shop.mood AS ENUM ('sad', 'ok', 'happy');
             CREATE SEQUENCE shop.invoice_no AS bigint START WITH 1000 INCREMENT BY 5 MINVALUE 10 MAXVALUE 999999 CACHE 3 CYCLE;",
        )
        .await;
    let schemas = SchemaCopyOptions::new(SchemaScope::named(["shop"]));
    let summary = schema_copy::copy(&source.url, &target.url, &schemas)
        .await
        .unwrap();
    assert_eq!(
        (summary.tables, summary.views, summary.functions),
        (3, 4, 4)
    );
    let expected = normalised_dump(&source, &["shop"]);
    assert!(
        expected.contains("CREATE MATERIALIZED VIEW shop.daily_sales"),
        "fixture is dumped"
    );
    assert_eq!(normalised_dump(&target, &["shop"]), expected);

    // Again, over the existing objects: succeeds and changes nothing.
    schema_copy::copy(&source.url, &target.url, &schemas)
        .await
        .unwrap();
    assert_eq!(normalised_dump(&target, &["shop"]), expected);

    // The recreated objects work: identity, serial, domain default, trigger, views, procedure.
    target
        .execute(
            "INSERT INTO shop.customers (email, name) VALUES ('a@b', 'Ann');
             INSERT INTO shop.products (sku, price, rate) VALUES ('x', 200, 0.5);
             INSERT INTO shop.orders (customer_id, sku, qty) VALUES (10, 'x', 2);
             CALL shop.restock('x', 4);",
        )
        .await;
    assert_eq!(target.value("SELECT note FROM shop.orders").await, "none");
    assert_eq!(
        target.value("SELECT invoice FROM shop.orders").await,
        "1000"
    );
    assert_eq!(target.value("SELECT stock FROM shop.products").await, "5");
    assert_eq!(
        target.value("SELECT spent FROM shop.a_top_customers").await,
        "200.00"
    );
    assert_eq!(target.value("SELECT shop.customer_count()").await, "1");
    assert_eq!(
        target
            .value("SELECT extname FROM pg_extension WHERE extname = 'citext'")
            .await,
        "citext"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dumped_script_runs_twice_with_psql() {
    let (source, target) = (rich_source().await, TestDb::new().await);
    let out = lakeshift(&source.url, &["schema", "dump", "--schema", "shop"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(script.starts_with("-- lakeshift schema dump of"));
    for _ in 0..2 {
        let psql = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                target.url.expose(),
                "-c",
                &script,
            ])
            .output()
            .expect("psql must be installed");
        assert!(
            psql.status.success(),
            "{}",
            String::from_utf8_lossy(&psql.stderr)
        );
    }
    assert_eq!(
        normalised_dump(&target, &["shop"]),
        normalised_dump(&source, &["shop"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hr_schema_round_trips_with_its_function_and_view() {
    let (source, target) = (TestDb::new().await, TestDb::new().await);
    hr_schema(&source).await;
    let catalog = Catalog::load(&source.url, &["public".to_string()])
        .await
        .unwrap();
    let names: Vec<&str> = catalog
        .tables_in_fk_order()
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(
        names.last(),
        Some(&"hired_employees"),
        "children after parents: {names:?}"
    );
    let employees = catalog.table("hired_employees").unwrap();
    assert_eq!(employees.primary_key(), ["id"]);
    let types: Vec<&str> = employees
        .columns
        .iter()
        .map(|c| c.type_sql.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "integer",
            "character varying(255)",
            "timestamp without time zone",
            "integer",
            "integer"
        ]
    );

    let out = lakeshift(
        &source.url,
        &["schema", "copy", "--target", target.url.expose()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        normalised_dump(&target, &["public"]),
        normalised_dump(&source, &["public"])
    );
    assert_eq!(target.value("SELECT hello_world()").await, "Hello, World!");
    assert_eq!(
        target
            .value("SELECT count(*) FROM view_example_hired_employees")
            .await,
        "0"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_statement_leaves_the_target_untouched() {
    let (source, target) = (rich_source().await, TestDb::new().await);
    // A conflicting object makes the copy fail half-way: nothing of it may remain.
    target
        .execute("CREATE SCHEMA shop; CREATE TABLE shop.order_lines (x int)")
        .await;
    let shop = SchemaCopyOptions::new(SchemaScope::named(["shop"]));
    let err = schema_copy::copy(&source.url, &target.url, &shop)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("order_lines"), "{err}");
    assert_eq!(
        target
            .value("SELECT count(*) FROM pg_class WHERE relnamespace = 'shop'::regnamespace")
            .await,
        "1"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_schema_is_a_clear_error() {
    let db = TestDb::new().await;
    let out = lakeshift(&db.url, &["schema", "dump", "--schema", "nope"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("schema nope does not exist"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// Security labels are dumped as pg_dump writes them. Recreating one needs its provider
/// (`sepgsql`) loaded in the target, which a stock server cannot do: the labels here are
/// written straight into the catalog, and the copy fails naming the provider, leaving the
/// target as it was (as pg_restore would fail on them).
#[tokio::test(flavor = "multi_thread")]
async fn security_labels_are_dumped_and_need_their_provider() {
    let source = TestDb::new().await;
    source
        .execute(
            "CREATE TABLE public.secret (id int, code text);
             INSERT INTO pg_seclabel VALUES
                 ('public.secret'::regclass, 'pg_class'::regclass, 0, 'lakeshift_test', 'top secret'),
                 ('public.secret'::regclass, 'pg_class'::regclass, 2, 'lakeshift_test', 'it''s classified');",
        )
        .await;
    let dump = stdout_of(&lakeshift(&source.url, &["schema", "dump"]));
    assert!(
        !dump.contains("COMMENT ON LANGUAGE"),
        "built-in languages are not dumped"
    );
    for statement in [
        "SECURITY LABEL FOR \"lakeshift_test\" ON TABLE public.secret IS 'top secret';",
        "SECURITY LABEL FOR \"lakeshift_test\" ON COLUMN public.secret.code IS 'it''s classified';",
    ] {
        assert!(dump.contains(statement), "{dump}");
    }
    let target = TestDb::new().await;
    let failed = error_of(&lakeshift(
        &source.url,
        &["schema", "copy", "--target", target.url.expose()],
    ));
    assert!(
        failed.contains("security label provider \"lakeshift_test\" is not loaded"),
        "{failed}"
    );
    assert_eq!(
        target
            .value("SELECT count(*) FROM pg_class WHERE relname = 'secret'")
            .await,
        "0"
    );
}
