//! Databases shaped like production ones: the schema is recreated as pg_dump sees it, and
//! every path moves every row into the same table and partition.
//! - tests/it/fixtures/partitioned_store.sql: three schemas, range/list/hash partitions on
//!   two levels with default partitions, legacy inheritance, foreign keys to and from
//!   partitioned tables, and every other object kind (aggregates, RLS, grants, ...).
//! - tests/it/fixtures/many_schemas.sql: six schemas leaning on each other (foreign keys
//!   across them, views on views, a materialized view over them, quoted names).

use std::path::Path;

use crate::common::{
    TestDb, all_files, error_of, fingerprints, lakeshift, lakeshift_s3, normalised_dump,
    normalised_dump_with, partitioned_store, repo_file, s3_prefix, stdout_of,
};

async fn fixture(name: &str) -> TestDb {
    let db = TestDb::new().await;
    let sql = std::fs::read_to_string(repo_file(&format!("tests/it/fixtures/{name}"))).unwrap();
    db.execute(&sql).await;
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
    // Column options as pg_dump shows them: the user's, not a stamp the server keeps itself
    // (`pg_attver`, on every column in some 15.x builds).
    let dump = stdout_of(&lakeshift(&source.url, &["schema", "dump"]));
    assert!(
        dump.contains("ALTER COLUMN sku SET (n_distinct = '-1')") && !dump.contains("pg_attver"),
        "{dump}"
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
        14,
        "every heap: partitions, parents and children (not the foreign partition's)"
    );
    assert_eq!(fingerprints(&target).await, rows);

    // Again in replace mode: an inheritance parent is emptied alone, children keep theirs;
    // a partitioned table's own partitions are emptied, never its foreign one (its server
    // is not even reached: nothing listens there).
    stdout_of(&lakeshift(
        &source.url,
        &[
            "copy",
            "--target",
            target.url.expose(),
            "--tables",
            "audit.events,sales.returns",
            "--mode",
            "replace",
        ],
    ));
    assert_eq!(fingerprints(&target).await, rows);
}

/// Where a test's backup goes: a local directory, or a prefix on the S3 test server.
enum Store {
    Local(tempfile::TempDir),
    S3(String),
}

impl Store {
    fn location(&self) -> &str {
        match self {
            Store::Local(dir) => path(dir.path()),
            Store::S3(prefix) => prefix,
        }
    }

    fn run(&self, db: &TestDb, args: &[&str]) -> String {
        match self {
            Store::Local(_) => stdout_of(&lakeshift(&db.url, args)),
            Store::S3(_) => stdout_of(&lakeshift_s3(&db.url, args)),
        }
    }
}

async fn backup_and_restore(format: &str, on_s3: bool) {
    let (source, target) = (partitioned_store().await, TestDb::new().await);
    let store = if on_s3 {
        Store::S3(s3_prefix(&source))
    } else {
        Store::Local(tempfile::tempdir().unwrap())
    };
    let to = store.location();
    store.run(
        &source,
        &[
            "backup",
            "--to",
            to,
            "--format",
            format,
            "--max-file-size",
            "50000",
        ],
    );
    let verified = store.run(&source, &["backup", "verify", "--at", to]);
    assert!(verified.contains("8392 rows"), "{verified}");
    store.run(
        &target,
        &["restore", "--from", to, "--target", target.url.expose()],
    );
    assert_eq!(fingerprints(&target).await, fingerprints(&source).await);
    assert_eq!(normalised_dump(&target, &[]), normalised_dump(&source, &[]));
}

#[tokio::test(flavor = "multi_thread")]
async fn avro_backup_restores_every_row_into_its_partition() {
    backup_and_restore("avro", false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn parquet_backup_restores_every_row_into_its_partition() {
    backup_and_restore("parquet", false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn avro_and_parquet_backups_on_s3_restore_every_row_into_its_partition() {
    backup_and_restore("avro", true).await;
    backup_and_restore("parquet", true).await;
}

/// pg_restore's -O and -x on a whole-schema restore: the schema equals what
/// `pg_dump -O -x` shows of the source, every row is there.
#[tokio::test(flavor = "multi_thread")]
async fn a_whole_restore_without_owners_or_privileges_matches_pg_dump_o_x() {
    let (source, target) = (partitioned_store().await, TestDb::new().await);
    let dir = tempfile::tempdir().unwrap();
    let to = path(dir.path());
    stdout_of(&lakeshift(&source.url, &["backup", "--to", to]));
    stdout_of(&lakeshift(
        &target.url,
        &[
            "restore",
            "--from",
            to,
            "--target",
            target.url.expose(),
            "--no-owner",
            "--no-privileges",
        ],
    ));
    let without = &["--no-owner", "--no-privileges"];
    assert_eq!(
        normalised_dump_with(&target, without),
        normalised_dump_with(&source, without)
    );
    assert_ne!(
        normalised_dump(&target, &[]),
        normalised_dump(&source, &[]),
        "owners and grants were left out"
    );
    assert_eq!(fingerprints(&target).await, fingerprints(&source).await);
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

/// A backup of some tables carries their tablespaces (and their partitions' and indexes'),
/// which a restore gives back, or leaves out under `--no-tablespaces`; and the functions a
/// range type of their columns is made with.
#[tokio::test(flavor = "multi_thread")]
async fn tables_restored_alone_keep_their_tablespaces() {
    let source = partitioned_store().await;
    // (Alone, without the table its foreign key references.)
    source
        .execute("ALTER TABLE sales.orders DROP CONSTRAINT orders_product_id_fkey")
        .await;
    let dir = tempfile::tempdir().unwrap();
    let tables = "audit.archive,sales.orders";
    stdout_of(&lakeshift(
        &source.url,
        &["backup", "--to", path(dir.path()), "--tables", tables],
    ));
    let placed = "SELECT string_agg(c.relname || ':' || t.spcname, ' ' ORDER BY c.relname)
        FROM pg_class c JOIN pg_tablespace t ON t.oid = c.reltablespace
        WHERE c.relnamespace::regnamespace::text IN ('sales', 'audit') AND c.relkind <> 'm'";
    let expected = source.value(placed).await;
    assert_eq!(
        expected,
        "archive:lakeshift_space archive_pkey:lakeshift_space \
         orders_2023:lakeshift_space orders_2023_qty_idx:lakeshift_space \
         orders_2024_h1_qty_idx:lakeshift_space orders_2024_qty_idx:lakeshift_space \
         orders_2024_rest_qty_idx:lakeshift_space orders_old_qty_idx:lakeshift_space \
         orders_qty_idx:lakeshift_space"
    );
    for (flags, expected) in [
        (&[][..], expected.as_str()),
        (&["--no-tablespaces"][..], ""),
    ] {
        let target = TestDb::new().await;
        let mut args = vec!["restore", "--from", path(dir.path()), "--tables", tables];
        args.extend(flags);
        stdout_of(&lakeshift(&target.url, &args));
        assert_eq!(target.value(placed).await, expected, "{flags:?}");
        assert_eq!(target.count("sales.orders").await, 6000);
        let archive = "SELECT md5(string_agg(a::text, '|' ORDER BY id)) FROM audit.archive a";
        assert_eq!(target.value(archive).await, source.value(archive).await);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scope_never_fails_for_what_it_leaves_out() {
    let source = partitioned_store().await;
    // A reader with every privilege but SELECT on one table: reading that table fails
    // naming it and the flag that leaves it out, and fails only the commands that read it.
    source
        .execute(
            "CREATE TABLE public.odd (id int PRIMARY KEY, n numeric(10,2), a int[]);
             INSERT INTO public.odd VALUES (1, 'NaN', '{{1,2},{3,4}}'), (2, 2.5, '[0:1]={7,8}'), (3, NULL, NULL);
             CREATE TABLE public.unreadable (id int, at timestamptz);
             DO $$ BEGIN CREATE ROLE lakeshift_scope_reader LOGIN BYPASSRLS;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
             GRANT USAGE ON SCHEMA public, catalog, sales, audit TO lakeshift_scope_reader;
             GRANT SELECT ON ALL TABLES IN SCHEMA public, catalog, sales, audit TO lakeshift_scope_reader;
             GRANT SELECT ON ALL SEQUENCES IN SCHEMA public, catalog, sales, audit TO lakeshift_scope_reader;
             REVOKE SELECT ON public.unreadable FROM lakeshift_scope_reader;",
        )
        .await;
    let reader = lakeshift::postgres::DbUrl::parse(&source.url.expose().replacen(
        "://postgres@",
        "://lakeshift_scope_reader@",
        1,
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let to = path(dir.path());
    let failed = error_of(&lakeshift(&reader, &["backup", "--to", to]));
    assert!(
        failed.contains("cannot read public.unreadable")
            && failed.contains("--exclude-table public.unreadable")
            && failed.contains("SELECT privilege"),
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
        stdout_of(&lakeshift(&reader, &args));
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

/// Dates and timestamps Arrow cannot carry (infinity, years past ±262142, alone or in
/// arrays) travel as text on every path and come back as they were, not clamped or refused.
#[tokio::test(flavor = "multi_thread")]
async fn infinite_and_distant_dates_and_timestamps_survive_copy_and_backups() {
    let source = TestDb::new().await;
    source
        .execute(
            "CREATE TABLE public.far (id int PRIMARY KEY, d date, ts timestamp, tz timestamptz,
                 days date[], stamps timestamptz[], plain timestamptz);
             INSERT INTO public.far VALUES
                 (1, 'infinity', '-infinity', 'infinity', '{infinity,2020-01-01}', '{-infinity}', now()),
                 (2, '5874897-12-31', '294276-12-31 23:59:59', '294276-12-31 23:59:59+00',
                  '{4713-01-01 BC}', '{294276-12-31 23:59:59+00,NULL}', '2024-02-29 12:00:00+00'),
                 (3, '2024-02-29', '1900-01-01 00:00:00.000001', '4713-01-01 00:00:00+00 BC', NULL, NULL, NULL);",
        )
        .await;
    let expected = fingerprints(&source).await;
    let copied = TestDb::new().await;
    for command in ["schema copy", "copy"] {
        let mut args: Vec<&str> = command.split(' ').collect();
        args.extend(["--target", copied.url.expose()]);
        stdout_of(&lakeshift(&source.url, &args));
    }
    assert_eq!(fingerprints(&copied).await, expected);
    // The column without such values keeps its Arrow type.
    for format in ["avro", "parquet"] {
        let (dir, restored) = (tempfile::tempdir().unwrap(), TestDb::new().await);
        let to = path(dir.path());
        let out = lakeshift(&source.url, &["backup", "--to", to, "--format", format]);
        stdout_of(&out);
        // Five such columns: found all at once after the first, the table is read twice.
        let again = crate::common::stderr(&out);
        assert_eq!(
            again.matches("reading the table again").count(),
            1,
            "{again}"
        );
        let types = arrow_types(dir.path());
        assert!(
            types.contains(&("public.far.d".into(), "Utf8".into()))
                && types.contains(&("public.far.stamps".into(), "Utf8".into()))
                && !types.contains(&("public.far.plain".into(), "Utf8".into())),
            "{types:?}"
        );
        stdout_of(&lakeshift(
            &restored.url,
            &["restore", "--from", to, "--target", restored.url.expose()],
        ));
        assert_eq!(fingerprints(&restored).await, expected, "{format}");
    }
}

/// A value Arrow cannot carry in one partition sends that column as text for the whole
/// table, and only that column, only of that table: found as a backup reads (the table read
/// again), or before a copy reads, by probing the partitions on several connections.
#[tokio::test(flavor = "multi_thread")]
async fn values_arrow_cannot_carry_are_found_in_any_partition() {
    let source = TestDb::new().await;
    source
        .execute(
            "CREATE TABLE public.readings (id int, taken date, amount numeric(8,2), at timestamptz,
                 PRIMARY KEY (id, taken)) PARTITION BY RANGE (taken);
             CREATE TABLE public.readings_old PARTITION OF public.readings
                 FOR VALUES FROM (MINVALUE) TO ('2020-01-01');
             CREATE TABLE public.readings_new PARTITION OF public.readings
                 FOR VALUES FROM ('2020-01-01') TO ('2030-01-01');
             CREATE TABLE public.readings_rest PARTITION OF public.readings DEFAULT;
             INSERT INTO public.readings
                 SELECT i, date '2010-01-01' + i, i / 4.0, timestamptz '2015-01-01' + i * interval '1 hour'
                 FROM generate_series(1, 6000) i;
             INSERT INTO public.readings VALUES (0, '2024-06-01', 'NaN', now()),
                 (-1, '2031-01-01', 1.5, '-infinity');
             CREATE TABLE public.clean (id int PRIMARY KEY, amount numeric(8,2), at timestamptz);
             INSERT INTO public.clean VALUES (1, 2.5, now());",
        )
        .await;
    let expected = fingerprints(&source).await;
    let (dir, restored) = (tempfile::tempdir().unwrap(), TestDb::new().await);
    let to = path(dir.path());
    stdout_of(&lakeshift(
        &source.url,
        &["backup", "--to", to, "--partitions", "2"],
    ));
    let text: Vec<String> = (arrow_types(dir.path()).into_iter())
        .filter(|(_, t)| t == "Utf8")
        .map(|(c, _)| c)
        .collect();
    assert_eq!(text, ["public.readings.amount", "public.readings.at"]);
    // The table read again is counted once, and its first read's files are gone.
    let backup = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(backup.join("manifest.json")).unwrap())
            .unwrap();
    let readings = (manifest["tables"].as_array().unwrap().iter())
        .find(|t| t["name"] == "readings")
        .unwrap();
    assert_eq!(readings["rows"], 6002);
    let listed = readings["files"].as_array().unwrap().len();
    let on_disk = (all_files(&backup).iter())
        .filter(|f| f.to_string_lossy().contains("readings"))
        .count();
    assert_eq!(on_disk, listed);
    stdout_of(&lakeshift(
        &restored.url,
        &["restore", "--from", to, "--target", restored.url.expose()],
    ));
    assert_eq!(fingerprints(&restored).await, expected);
    // On S3 too, where the first read's uploads may still be open when it fails.
    let (on_s3, restored) = (s3_prefix(&source), TestDb::new().await);
    let backup = [
        "backup",
        "--to",
        &on_s3,
        "--partitions",
        "2",
        "--max-file-size",
        "20000",
    ];
    stdout_of(&lakeshift_s3(&source.url, &backup));
    let verified = stdout_of(&lakeshift_s3(
        &source.url,
        &["backup", "verify", "--at", &on_s3],
    ));
    assert!(verified.contains("6003 rows"), "{verified}");
    let target = restored.url.expose();
    stdout_of(&lakeshift_s3(
        &restored.url,
        &["restore", "--from", &on_s3, "--target", target],
    ));
    assert_eq!(fingerprints(&restored).await, expected);

    let copied = TestDb::new().await;
    for command in [&["schema", "copy"][..], &["copy", "--partitions", "2"]] {
        let args = [command, &["--target", copied.url.expose()]].concat();
        stdout_of(&lakeshift(&source.url, &args));
    }
    assert_eq!(fingerprints(&copied).await, expected);
}

/// `(schema.table.column, Arrow type)` of every column of the one backup under `dir`.
fn arrow_types(dir: &Path) -> Vec<(String, String)> {
    let manifest = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path().join("manifest.json"))
        .find(|p| p.exists())
        .unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(manifest).unwrap()).unwrap();
    let text = |v: &serde_json::Value| v.as_str().unwrap().to_string();
    let mut types = Vec::new();
    for table in manifest["tables"].as_array().unwrap() {
        for column in table["columns"].as_array().unwrap() {
            let name = [&table["schema"], &table["name"], &column["name"]].map(text);
            types.push((name.join("."), text(&column["arrow_type"])));
        }
    }
    types
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
         -- A timestamp column: a lake sync checks its values before reading the rows.
         CREATE TABLE public.stamped (id int PRIMARY KEY, at timestamptz);
         INSERT INTO public.stamped SELECT g, now() FROM generate_series(1, 10) g;
         ALTER TABLE public.stamped ENABLE ROW LEVEL SECURITY;
         CREATE POLICY even ON public.stamped USING (id % 2 = 0);
         GRANT USAGE ON SCHEMA public TO lakeshift_rls_reader;
         GRANT SELECT ON public.notes, public.stamped TO lakeshift_rls_reader;",
    )
    .await;
    let as_reader = db
        .url
        .expose()
        .replacen("://postgres@", "://lakeshift_rls_reader@", 1);
    assert_ne!(as_reader, db.url.expose(), "the test URL names its user");
    let reader = lakeshift::postgres::DbUrl::parse(&as_reader).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for table in ["public.notes", "public.stamped"] {
        for command in [&["backup"][..], &["lake", "sync"]] {
            let args = [command, &["--to", path(dir.path()), "--tables", table]].concat();
            let failed = error_of(&lakeshift(&reader, &args));
            assert!(
                failed.contains(&format!("--exclude-table {table}"))
                    && failed.contains("row-level security"),
                "{command:?}: {failed}"
            );
        }
    }
    // The owner (or a role with BYPASSRLS) reads every row.
    stdout_of(&lakeshift(&db.url, &["backup", "--to", path(dir.path())]));
}

#[tokio::test(flavor = "multi_thread")]
async fn many_schemas_with_cross_schema_keys_and_views_on_views_survive_every_path() {
    let source = fixture("many_schemas.sql").await;
    let expected = normalised_dump(&source, &[]);
    let rows = fingerprints(&source).await;
    assert_eq!(rows.len(), 6, "{rows:?}");
    let top = "SELECT count(*) || ':' || sum(amount) FROM reporting.top_departments";

    let target = TestDb::new().await;
    let to_target = ["--target", target.url.expose()];
    stdout_of(&lakeshift(
        &source.url,
        &[&["schema", "copy"][..], &to_target].concat(),
    ));
    assert_eq!(normalised_dump(&target, &[]), expected);
    stdout_of(&lakeshift(
        &source.url,
        &[&["copy"][..], &to_target].concat(),
    ));
    assert_eq!(fingerprints(&target).await, rows);

    for format in ["avro", "parquet"] {
        let dir = tempfile::tempdir().unwrap();
        stdout_of(&lakeshift(
            &source.url,
            &["backup", "--to", path(dir.path()), "--format", format],
        ));
        let restored = TestDb::new().await;
        stdout_of(&lakeshift(
            &restored.url,
            &[
                "restore",
                "--from",
                path(dir.path()),
                "--target",
                restored.url.expose(),
            ],
        ));
        assert_eq!(normalised_dump(&restored, &[]), expected, "{format}");
        assert_eq!(fingerprints(&restored).await, rows, "{format}");
        // The materialized view is computed from the restored rows.
        assert_eq!(
            restored.value(top).await,
            source.value(top).await,
            "{format}"
        );
    }

    // The schema alone, then the rows alone into it (keys, triggers in place).
    let dir = tempfile::tempdir().unwrap();
    let at = path(dir.path());
    stdout_of(&lakeshift(&source.url, &["backup", "--to", at]));
    let split = TestDb::new().await;
    let restore = |extra: &str| {
        lakeshift(
            &split.url,
            &[
                "restore",
                "--from",
                at,
                "--target",
                split.url.expose(),
                extra,
            ],
        )
    };
    stdout_of(&restore("--schema-only"));
    assert_eq!(normalised_dump(&split, &[]), expected);
    let empty = fingerprints(&split).await;
    assert!(empty.values().all(|f| f.starts_with("0:")), "{empty:?}");
    stdout_of(&restore("--data-only"));
    assert_eq!(fingerprints(&split).await, rows);
    assert_eq!(normalised_dump(&split, &[]), expected);
    // Data alone needs the tables; the schema alone needs a backup of every table.
    let fresh = TestDb::new().await;
    let refused = error_of(&lakeshift(
        &fresh.url,
        &[
            "restore",
            "--from",
            at,
            "--target",
            fresh.url.expose(),
            "--data-only",
        ],
    ));
    assert!(
        refused.contains("does not exist") && refused.contains("data-only"),
        "{refused}"
    );
    let some = tempfile::tempdir().unwrap();
    stdout_of(&lakeshift(
        &source.url,
        &["backup", "--to", path(some.path()), "--tables", "ref.codes"],
    ));
    let refused = error_of(&lakeshift(
        &fresh.url,
        &[
            "restore",
            "--from",
            path(some.path()),
            "--target",
            fresh.url.expose(),
            "--schema-only",
        ],
    ));
    assert!(refused.contains("holds no whole schema"), "{refused}");
}

/// The partition columns of a Delta table's newest metadata, read from its log.
fn delta_partition_columns(table: &Path) -> Vec<String> {
    let log = table.join("_delta_log");
    let mut commits: Vec<_> = std::fs::read_dir(&log)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    commits.sort();
    let mut columns = None;
    for commit in commits {
        for line in std::fs::read_to_string(commit).unwrap().lines() {
            let action: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(partitions) = action["metaData"]["partitionColumns"].as_array() {
                columns = Some(
                    partitions
                        .iter()
                        .map(|c| c.as_str().unwrap().into())
                        .collect(),
                );
            }
        }
    }
    columns.expect("a Delta table has metadata")
}

/// `lake` over the Delta table and the live table: `lake,live` counts, with `condition`.
fn lake_and_live(source: &TestDb, delta: &Path, table: &str, condition: &str) -> String {
    let out = stdout_of(&lakeshift(
        &source.url,
        &[
            "sql",
            "-e",
            &format!(
                "SELECT (SELECT count(*) FROM d WHERE {condition}) AS lake, \
                 (SELECT count(*) FROM p WHERE {condition}) AS live"
            ),
            "--table",
            &format!("d={}#delta", delta.display()),
            "--table",
            &format!("p={}#postgres:{table}", source.url.expose()),
            "--format",
            "csv",
        ],
    ));
    out.trim().lines().nth(1).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn delta_tables_keep_a_list_layout_and_take_the_partitioning_asked_for() {
    let source = partitioned_store().await;
    let lake = tempfile::tempdir().unwrap();
    let root = path(lake.path());
    let sync = |args: &[&str]| {
        let mut all = vec!["-q", "lake", "sync", "--to", root];
        all.extend_from_slice(args);
        lakeshift(&source.url, &all)
    };
    // By default a LIST key of plain columns becomes the Delta layout; a RANGE key does not.
    stdout_of(&sync(&["--tables", "catalog.regional_prices,sales.orders"]));
    let prices = lake.path().join("catalog.regional_prices");
    let orders = lake.path().join("sales.orders");
    assert_eq!(delta_partition_columns(&prices), ["region"]);
    assert!(prices.join("region=eu").is_dir());
    assert_eq!(delta_partition_columns(&orders), Vec::<String>::new());
    let both = lake_and_live(&source, &prices, "catalog.regional_prices", "region = 'uk'");
    assert_eq!(both, "50,50");

    // A replace may change the layout.
    stdout_of(&sync(&[
        "--tables",
        "sales.orders",
        "--partition-by",
        "region",
    ]));
    assert_eq!(delta_partition_columns(&orders), ["region"]);
    assert!(orders.join("region=apac").is_dir());

    // Chosen columns on a new table, then increments and merges on that layout.
    let second = tempfile::tempdir().unwrap();
    let orders = second.path().join("sales.orders");
    let sync = |args: &[&str]| {
        let mut all = vec!["-q", "lake", "sync", "--to", path(second.path())];
        all.extend_from_slice(args);
        lakeshift(&source.url, &all)
    };
    let incremental = [
        "--tables",
        "sales.orders",
        "--partition-by",
        "region",
        "--mode",
        "append",
        "--incremental-column",
        "id",
    ];
    stdout_of(&sync(&incremental));
    assert_eq!(delta_partition_columns(&orders), ["region"]);
    source
        .execute(
            "INSERT INTO sales.orders (id, ordered_at, region, product_id)
             SELECT i, timestamptz '2025-03-01' + i * interval '1 hour', 'eu', 1
             FROM generate_series(6001, 6010) i",
        )
        .await;
    stdout_of(&sync(&incremental));
    assert_eq!(
        lake_and_live(&source, &orders, "sales.orders", "true"),
        "6010,6010"
    );
    source
        .execute("UPDATE sales.orders SET note = 'changed' WHERE id % 100 = 0")
        .await;
    stdout_of(&sync(&["--tables", "sales.orders", "--mode", "merge"]));
    assert_eq!(
        lake_and_live(&source, &orders, "sales.orders", "note = 'changed'"),
        "60,60"
    );
    assert_eq!(
        lake_and_live(&source, &orders, "sales.orders", "true"),
        "6010,6010"
    );
    assert_eq!(delta_partition_columns(&orders), ["region"]);

    // Another layout needs a replace; a merge names both.
    let refused = error_of(&sync(&[
        "--tables",
        "sales.orders",
        "--mode",
        "merge",
        "--partition-by",
        "none",
    ]));
    assert!(
        refused.contains("partitioned by [region], not []") && refused.contains("--mode replace"),
        "{refused}"
    );
    let missing = error_of(&sync(&[
        "--tables",
        "sales.orders",
        "--partition-by",
        "nope",
    ]));
    assert!(
        missing.contains("nope: sales.orders has no such column"),
        "{missing}"
    );
    stdout_of(&sync(&[
        "--tables",
        "sales.orders",
        "--partition-by",
        "none",
    ]));
    assert_eq!(delta_partition_columns(&orders), Vec::<String>::new());
    assert_eq!(
        lake_and_live(&source, &orders, "sales.orders", "true"),
        "6010,6010"
    );
}
