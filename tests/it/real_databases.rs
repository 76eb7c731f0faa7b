//! Databases shaped like production ones (tests/it/fixtures/partitioned_store.sql: three
//! schemas, range/list/hash partitions on two levels with default partitions, legacy
//! inheritance, foreign keys to and from partitioned tables): the schema is recreated as
//! pg_dump sees it, and every path moves every row into the same partition.

use std::path::Path;

use crate::common::{
    TestDb, error_of, fingerprints, lakeshift, normalised_dump, repo_file, stdout_of,
};

async fn partitioned_store() -> TestDb {
    let db = TestDb::new().await;
    db.execute(
        &std::fs::read_to_string(repo_file("tests/it/fixtures/partitioned_store.sql")).unwrap(),
    )
    .await;
    db
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn whole_database_schema_copy_matches_pg_dump_and_copy_keeps_every_partition() {
    let (source, target) = (partitioned_store().await, TestDb::new().await);
    let expected = normalised_dump(&source, &[]);
    assert!(
        expected.contains("ATTACH PARTITION sales.orders_2024_h1"),
        "fixture is dumped"
    );
    // No --schema: every schema, as pg_dump.
    let copy = ["schema", "copy", "--target", target.url.expose()];
    stdout_of(&lakeshift(&source.url, &copy));
    assert_eq!(normalised_dump(&target, &[]), expected);
    stdout_of(&lakeshift(&source.url, &copy));
    assert_eq!(normalised_dump(&target, &[]), expected, "idempotent");

    let out = lakeshift(&source.url, &["copy", "--target", target.url.expose()]);
    let out = format!("{}{}", stdout_of(&out), crate::common::stderr(&out));
    // Partitioned tables are one table each; their partitions are not listed.
    assert!(out.contains("sales.orders: 6000 rows"), "{out}");
    assert!(!out.contains("orders_2023"), "{out}");
    assert!(out.contains("audit.login_events: 40 rows"), "{out}");
    let rows = fingerprints(&source).await;
    assert_eq!(
        rows.len(),
        12,
        "every heap: partitions, parents and children"
    );
    assert_eq!(fingerprints(&target).await, rows);

    // Again in replace mode: an inheritance parent is emptied alone, children keep theirs.
    lakeshift(
        &source.url,
        &[
            "copy",
            "--target",
            target.url.expose(),
            "--tables",
            "audit.events",
            "--mode",
            "replace",
        ],
    );
    assert_eq!(fingerprints(&target).await, rows);
}

async fn backup_and_restore(format: &str) {
    let (source, target) = (partitioned_store().await, TestDb::new().await);
    let dir = tempfile::tempdir().unwrap();
    stdout_of(&lakeshift(
        &source.url,
        &[
            "backup",
            "--to",
            path(dir.path()),
            "--format",
            format,
            "--max-file-size",
            "50000",
        ],
    ));
    let verified = stdout_of(&lakeshift(
        &source.url,
        &["backup", "verify", "--at", path(dir.path())],
    ));
    assert!(verified.contains("8370 rows"), "{verified}");
    stdout_of(&lakeshift(
        &target.url,
        &[
            "restore",
            "--from",
            path(dir.path()),
            "--target",
            target.url.expose(),
        ],
    ));
    assert_eq!(fingerprints(&target).await, fingerprints(&source).await);
    assert_eq!(normalised_dump(&target, &[]), normalised_dump(&source, &[]));
}

#[tokio::test(flavor = "multi_thread")]
async fn avro_backup_restores_every_row_into_its_partition() {
    backup_and_restore("avro").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn parquet_backup_restores_every_row_into_its_partition() {
    backup_and_restore("parquet").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_routes_rows_through_a_parent_partitioned_differently() {
    let (source, target) = (partitioned_store().await, TestDb::new().await);
    let dir = tempfile::tempdir().unwrap();
    stdout_of(&lakeshift(
        &source.url,
        &[
            "backup",
            "--to",
            path(dir.path()),
            "--tables",
            "catalog.products,sales.orders",
        ],
    ));
    target
        .execute(
            "CREATE SCHEMA catalog; CREATE SCHEMA sales;
             CREATE TYPE catalog.size AS ENUM ('s', 'm', 'l');
             CREATE DOMAIN catalog.price AS numeric(12,2);
             CREATE TABLE sales.orders (id bigint NOT NULL, ordered_at timestamptz NOT NULL,
                 region text NOT NULL, product_id int NOT NULL, qty int NOT NULL, note text)
                 PARTITION BY LIST (region);
             CREATE TABLE sales.orders_eu PARTITION OF sales.orders FOR VALUES IN ('eu');
             CREATE TABLE sales.orders_rest PARTITION OF sales.orders DEFAULT;",
        )
        .await;
    stdout_of(&lakeshift(
        &target.url,
        &[
            "restore",
            "--from",
            path(dir.path()),
            "--tables",
            "sales.orders",
            "--mode",
            "append",
        ],
    ));
    assert_eq!(target.count("sales.orders").await, 6000);
    assert_eq!(target.count("ONLY sales.orders_eu").await, 1500);
    assert_eq!(
        target
            .value("SELECT count(DISTINCT region) FROM sales.orders_rest")
            .await,
        "3"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scope_never_fails_for_what_it_leaves_out() {
    let source = partitioned_store().await;
    // Values no Arrow type of their column holds travel as text; timestamps beyond chrono's
    // range are refused, and fail only the commands that read them.
    source
        .execute(
            "CREATE TABLE public.odd (id int PRIMARY KEY, n numeric(10,2), a int[]);
             INSERT INTO public.odd VALUES (1, 'NaN', '{{1,2},{3,4}}'), (2, 2.5, '[0:1]={7,8}'), (3, NULL, NULL);
             CREATE TABLE public.unreadable (id int, at timestamptz);
             INSERT INTO public.unreadable VALUES (1, '294276-12-31 23:59:59+00');",
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let to = path(dir.path());
    let failed = error_of(&lakeshift(&source.url, &["backup", "--to", to]));
    assert!(
        failed.contains("public.unreadable")
            && failed.contains("--exclude-table public.unreadable")
            && failed.contains("infinite"),
        "{failed}"
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "a failed backup leaves nothing behind"
    );
    // Left out by name, by pattern, by schema; or not asked for.
    for scope in [
        vec!["--exclude-table", "unreadable"],
        vec!["-T", "public.unread*"],
        vec!["--tables", "sales.*,audit.events"],
    ] {
        let mut args = vec!["backup", "--to", to];
        args.extend(scope.iter());
        stdout_of(&lakeshift(&source.url, &args));
    }
    let listed = stdout_of(&lakeshift(&source.url, &["backup", "list", "--at", to]));
    assert_eq!(listed.matches("complete").count(), 3, "{listed}");

    let target = TestDb::new().await;
    let lake = tempfile::tempdir().unwrap();
    stdout_of(&lakeshift(
        &source.url,
        &[
            "schema",
            "copy",
            "--target",
            target.url.expose(),
            "--exclude-schema",
            "audit",
        ],
    ));
    assert_eq!(
        target
            .value("SELECT count(*) FROM pg_namespace WHERE nspname = 'audit'")
            .await,
        "0"
    );
    stdout_of(&lakeshift(
        &source.url,
        &[
            "copy",
            "--target",
            target.url.expose(),
            "-N",
            "audit",
            "-T",
            "unreadable",
        ],
    ));
    assert_eq!(
        target
            .value("SELECT n::text || a::text FROM public.odd WHERE id = 1")
            .await,
        "NaN{{1,2},{3,4}}"
    );
    assert_eq!(
        target
            .value("SELECT a::text FROM public.odd WHERE id = 2")
            .await,
        "[0:1]={7,8}"
    );

    // One Delta table per partitioned table, read back whole.
    stdout_of(&lakeshift(
        &source.url,
        &[
            "-q",
            "lake",
            "sync",
            "--to",
            path(lake.path()),
            "--tables",
            "sales.orders",
        ],
    ));
    let names: Vec<String> = std::fs::read_dir(lake.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["sales.orders"]);
    let location = format!("o={}#delta", lake.path().join("sales.orders").display());
    let live = format!("p={}#postgres:sales.orders", source.url.expose());
    let out = stdout_of(&lakeshift(
        &source.url,
        &[
            "sql",
            "-e",
            "SELECT (SELECT count(*) FROM o) AS lake, (SELECT count(*) FROM p) AS live",
            "--table",
            &location,
            "--table",
            &live,
            "--format",
            "csv",
        ],
    ));
    assert_eq!(out.trim(), "lake,live\n6000,6000");

    // A pattern or a name that matches nothing is an error.
    let none = error_of(&lakeshift(
        &source.url,
        &["backup", "--to", to, "--tables", "nope*"],
    ));
    assert!(none.contains("nope*"), "{none}");
    let none = error_of(&lakeshift(
        &source.url,
        &["backup", "--to", to, "--schema", "nope"],
    ));
    assert!(none.contains("schema nope does not exist"), "{none}");
}

/// A reader a table's policies apply to would see some of its rows only: the read fails
/// naming the table rather than leave rows out of a backup silently.
#[tokio::test(flavor = "multi_thread")]
async fn row_level_security_never_hides_rows_from_a_read() {
    let db = TestDb::new().await;
    db.execute(
        "DO $$ BEGIN CREATE ROLE lakeshift_rls_reader LOGIN;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
         CREATE TABLE public.notes (id int PRIMARY KEY, author text);
         INSERT INTO public.notes SELECT g, CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END
         FROM generate_series(1, 10) g;
         ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
         CREATE POLICY only_a ON public.notes USING (author = 'a');
         GRANT USAGE ON SCHEMA public TO lakeshift_rls_reader;
         GRANT SELECT ON public.notes TO lakeshift_rls_reader;",
    )
    .await;
    let as_reader = db
        .url
        .expose()
        .replacen("://postgres@", "://lakeshift_rls_reader@", 1);
    assert_ne!(as_reader, db.url.expose(), "the test URL names its user");
    let reader = lakeshift::postgres::DbUrl::parse(&as_reader).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let failed = error_of(&lakeshift(&reader, &["backup", "--to", path(dir.path())]));
    assert!(
        failed.contains("public.notes") && failed.contains("row-level security"),
        "{failed}"
    );
    // The owner (or a role with BYPASSRLS) reads every row.
    stdout_of(&lakeshift(&db.url, &["backup", "--to", path(dir.path())]));
}
