//! What a careless user or an attacker hands the binary: table names that look like paths,
//! names that only quoting tells apart, a reject-log path that holds someone's data.

use std::path::Path;

use crate::common::{TestDb, csv_rows, error_of, lakeshift, stdout_of};

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let entry = entry.unwrap().path();
            if entry.is_dir() {
                pending.push(entry.clone());
            }
            out.push(entry.strip_prefix(dir).unwrap().display().to_string());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn table_names_like_paths_stay_under_their_root_and_can_be_named() {
    let source = TestDb::new().await;
    source
        .execute(
            r#"CREATE TABLE "../escaped" (id int PRIMARY KEY); INSERT INTO "../escaped" VALUES (1);
               CREATE TABLE "a/b" (id int); INSERT INTO "a/b" VALUES (1), (2);
               CREATE TABLE a_b (id int); INSERT INTO a_b VALUES (3);"#,
        )
        .await;
    let outside = tempfile::tempdir().unwrap();
    let root = outside.path().join("lake/root");
    // Named unquoted, quoted, and schema-qualified with quotes: each finds the table.
    for name in ["../escaped", r#""../escaped""#, r#"public."../escaped""#] {
        stdout_of(&lakeshift(
            &source.url,
            &["-q", "lake", "sync", "--to", path(&root), "--tables", name],
        ));
    }
    let everything = files_under(outside.path());
    assert!(
        everything
            .iter()
            .all(|f| f == "lake" || Path::new(f).starts_with("lake/root"))
            && everything.len() > 3,
        "{everything:?}"
    );
    assert!(root.join("~2E~2E~2Fescaped/_delta_log").is_dir());

    // `a/b` and `a_b` get backup folders of their own, and restore apart.
    let backups = tempfile::tempdir().unwrap();
    stdout_of(&lakeshift(
        &source.url,
        &[
            "-q",
            "backup",
            "--to",
            path(backups.path()),
            "--tables",
            "a/b,a_b",
        ],
    ));
    let folders: Vec<String> = files_under(backups.path())
        .into_iter()
        .filter(|f| f.ends_with(".avro"))
        .collect();
    assert_eq!(folders.len(), 2, "{folders:?}");
    let target = TestDb::new().await;
    stdout_of(&lakeshift(
        &target.url,
        &[
            "-q",
            "restore",
            "--from",
            path(backups.path()),
            "--target",
            target.url.expose(),
        ],
    ));
    assert_eq!(
        target
            .value(r#"SELECT string_agg(id::text, ',' ORDER BY id) FROM "a/b""#)
            .await,
        "1,2"
    );
    assert_eq!(
        target
            .value("SELECT string_agg(id::text, ',') FROM a_b")
            .await,
        "3"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reject_log_path_holding_other_data_is_refused_and_left_alone() {
    let db = TestDb::new().await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY, n int)")
        .await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, "1,1\n2,x\n").unwrap();
    let precious = dir.path().join("precious.csv");
    std::fs::write(&precious, "keep me\n").unwrap();
    let import = |rejects: &Path| {
        lakeshift(
            &db.url,
            &[
                "-q",
                "import",
                "csv",
                "--table",
                "t",
                path(&csv),
                "--rejects",
                path(rejects),
            ],
        )
    };
    let refused = error_of(&import(&precious));
    assert!(
        refused.contains("not a reject log") && refused.contains("precious.csv"),
        "{refused}"
    );
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me\n");
    assert_eq!(db.count("t").await, 0);
    // A link to it is not followed either.
    #[cfg(unix)]
    {
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(&precious, &link).unwrap();
        let refused = error_of(&import(&link));
        assert!(refused.contains("symbolic link"), "{refused}");
        assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me\n");
    }
    // Its own log it replaces, and removes once a re-run has no rejects.
    let log = dir.path().join("t.rejects.csv");
    stdout_of(&import(&log));
    assert!(std::fs::read_to_string(&log).unwrap().contains("2,x"));
    std::fs::write(&csv, "3,3\n").unwrap();
    stdout_of(&import(&log));
    assert!(!log.exists());
    assert_eq!(db.count("t").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_header_maps_fields_to_columns_by_name() {
    let db = TestDb::new().await;
    db.execute("CREATE TABLE h (a text, \"B\" text, n int GENERATED ALWAYS AS (1) STORED)")
        .await;
    let dir = tempfile::tempdir().unwrap();
    let import = |content: &str| {
        let file = dir.path().join("h.csv");
        std::fs::write(&file, content).unwrap();
        lakeshift(
            &db.url,
            &[
                "-q",
                "import",
                "csv",
                "--table",
                "h",
                path(&file),
                "--header",
            ],
        )
    };
    // The header's order, not the table's; "b" finds "B" case-insensitively.
    stdout_of(&import("b,a\nvalue of B,value of a\n"));
    assert_eq!(
        db.value("SELECT a || '|' || \"B\" FROM h").await,
        "value of a|value of B"
    );
    for (content, expected) in [
        (
            "a,c\nx,y\n",
            r#"the header names "c", which is not a column (the columns are a, B)"#,
        ),
        ("a\nx\n", "the header lacks the columns B"),
        ("a,a,B\nx,y,z\n", "the header names a twice"),
    ] {
        let refused = error_of(&import(content));
        assert!(refused.contains(expected), "{content:?}: {refused}");
    }
    assert_eq!(db.count("h").await, 1, "nothing loaded by a refused header");
}

/// The reject log's rows (line, column, reason) in file order.
fn reject_log(file: &Path) -> Vec<(String, String, String)> {
    let log = csv_rows(&file.with_extension("csv.rejects.csv"));
    log.into_iter()
        .skip(1) // the header
        .map(|r| (r[1].clone(), r[2].clone(), r[3].clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stray_or_unclosed_quote_costs_its_own_line_and_the_rest_loads() {
    let db = TestDb::new().await;
    db.execute("CREATE TABLE s (id int PRIMARY KEY, name text, n int, note text)")
        .await;
    let dir = tempfile::tempdir().unwrap();
    let body: String = (2..=200_000)
        .map(|i| format!("{i},name {i},{i},x\n"))
        .collect();
    let import = |first: &str, extra: &[&str]| {
        let file = dir.path().join("s.csv");
        std::fs::write(&file, format!("{first}\n{body}")).unwrap();
        // Replace mode: each run starts from an empty table.
        let mut args = vec![
            "-q",
            "import",
            "csv",
            "--table",
            "s",
            path(&file),
            "--mode",
            "replace",
        ];
        args.extend_from_slice(extra);
        stdout_of(&lakeshift(&db.url, &args));
        reject_log(&file)
    };
    // A quote inside an unquoted field: that row is the reject, nothing else is.
    let log = import(r#"1,O"B,1,x"#, &[]);
    assert_eq!(
        log,
        [(
            "1".into(),
            "".into(),
            "a quote inside an unquoted field (quote the whole field and double its quotes)".into()
        )]
    );
    assert_eq!(db.count("s").await, 199_999);
    // A quoted field that never closes: its first line is the reject; the next loads.
    let log = import(r#"1,"OB,1,x"#, &[]);
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].0, "1");
    assert!(log[0].2.contains("never closes"), "{log:?}");
    assert_eq!(db.count("s").await, 199_999);
    // A record past --max-record-bytes is refused on its own, even when its quote closes.
    let long = format!("1,\"{}\n{}\",1,x", "a".repeat(300), "b".repeat(300));
    let log = import(&long, &["--max-record-bytes", "200"]);
    assert_eq!(
        log.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ["1", "2"],
        "the first line is refused at the bound; the second is a line of its own: {log:?}"
    );
    assert!(log[0].2.contains("200-byte limit"), "{log:?}");
    assert_eq!(db.count("s").await, 199_999);
    let refused = error_of(&lakeshift(
        &db.url,
        &[
            "import",
            "csv",
            "--table",
            "s",
            "x.csv",
            "--max-record-bytes",
            "0",
        ],
    ));
    assert!(refused.contains("max-record-bytes"), "{refused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn numbers_past_their_type_are_rejects_not_wrong_values() {
    let db = TestDb::new().await;
    db.execute("CREATE TABLE num (id int PRIMARY KEY, a numeric(10,2), r real, d float8)")
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("num.csv");
    std::fs::write(
        &file,
        "1,9e2147483647,1,1\n2,1,1e39,1\n3,1,1,1e400\n4,1e-2147483648,1,1\n5,12.345,1.5,-0\n",
    )
    .unwrap();
    stdout_of(&lakeshift(
        &db.url,
        &["-q", "import", "csv", "--table", "num", path(&file)],
    ));
    let log = reject_log(&file);
    let got: Vec<(&str, &str)> = log.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
    assert_eq!(
        got,
        [("1", "a"), ("2", "r"), ("3", "d"), ("4", "a")],
        "{log:?}"
    );
    assert!(log.iter().all(|r| r.2.contains("out of range")), "{log:?}");
    assert_eq!(
        db.value("SELECT concat_ws('|', id, a, r, d) FROM num")
            .await,
        "5|12.35|1.5|-0"
    );
}
