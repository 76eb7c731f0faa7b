//! SQL and reports: the shipped HR queries give exactly Postgres's answer over Delta
//! tables synced from it; every kind of table can be queried; bad SQL is pointed at; the
//! report page and its PNG charts hold what the queries returned.

use std::path::Path;

use crate::common::{TestDb, error_of, hr_demo, lakeshift, repo_file, stdout_of};

/// Edge rows on both sides of every boundary of 2021 and its quarters, plus rows the
/// joins drop and a department that hired nobody in 2021 (it counts in the mean).
const EDGES: &str = "
    INSERT INTO departments VALUES (13, 'Zero Hires'), (14, NULL);
    INSERT INTO hired_employees VALUES
      (900001, 'a', '2021-01-01 00:00:00', 1, 1), (900002, 'b', '2020-12-31 23:59:59.999999', 1, 1),
      (900003, 'c', '2021-03-31 23:59:59.999999', 2, 2), (900004, 'd', '2021-04-01 00:00:00', 2, 2),
      (900005, 'e', '2021-12-31 23:59:59.999999', 3, 3), (900006, 'f', '2022-01-01 00:00:00', 3, 3),
      (900007, 'g', NULL, 4, 4), (900008, 'h', '2021-05-05 05:05:05', NULL, 4),
      (900009, 'i', '2021-05-05 05:05:05', 5, NULL), (900010, 'j', '2020-06-01 00:00:00', 13, 1),
      (900011, 'k', '2021-07-01 00:00:00', 14, 5);";

fn catalog(lake: &Path) -> Vec<String> {
    ["departments", "jobs", "hired_employees"]
        .iter()
        .map(|t| format!("{t}={}#delta", lake.join(t).display()))
        .collect()
}

fn with_tables<'a>(args: &[&'a str], tables: &'a [String]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    for t in tables {
        all.extend(["--table", t.as_str()]);
    }
    all
}

/// The query's result in Postgres, as CSV with a header (what `--format csv` writes).
async fn postgres_csv(db: &TestDb, sql: &str) -> String {
    use futures::TryStreamExt;
    let client = db.client().await;
    let copy = format!("COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)");
    let chunks: Vec<bytes::Bytes> = client
        .copy_out(&copy)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    String::from_utf8(chunks.concat()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shipped_reports_give_exactly_what_postgres_gives() {
    let db = TestDb::bytewise_utc().await;
    hr_demo(&db, 30_000).await;
    db.execute(EDGES).await;
    let lake = tempfile::tempdir().unwrap();
    stdout_of(&lakeshift(
        &db.url,
        &["-q", "lake", "sync", "--to", lake.path().to_str().unwrap()],
    ));
    let tables = catalog(lake.path());
    for (file, rows_at_least) in [
        ("queries/hired_by_quarter_2021.sql", 1000),
        ("queries/departments_above_mean_2021.sql", 3),
    ] {
        let path = repo_file(file);
        let sql = std::fs::read_to_string(&path).unwrap();
        let expected = postgres_csv(&db, &sql).await;
        let args = ["sql", path.to_str().unwrap(), "--format", "csv"];
        let ours = stdout_of(&lakeshift(&db.url, &with_tables(&args, &tables)));
        assert_eq!(ours, expected, "{file} differs from Postgres");
        assert!(ours.lines().count() > rows_at_least, "{file}: {ours}");
    }
    // Every department appears in the quarterly report; the boundary rows landed right.
    let quarterly = postgres_csv(&db, "SELECT * FROM departments WHERE id <= 12").await;
    let ours = stdout_of(&lakeshift(
        &db.url,
        &with_tables(
            &[
                "sql",
                repo_file("queries/hired_by_quarter_2021.sql")
                    .to_str()
                    .unwrap(),
                "--format",
                "csv",
            ],
            &tables,
        ),
    ));
    for line in quarterly.lines().skip(1) {
        let name = line.split_once(',').unwrap().1.trim_matches('"');
        assert!(ours.contains(&format!("\n{name},")), "{name} missing");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_table_can_be_queried() {
    let db = TestDb::new().await;
    hr_demo(&db, 3000).await;
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let backups = dir.path().join("backups");
    let url = db.url.expose().to_string();
    stdout_of(&lakeshift(
        &db.url,
        &[
            "-q",
            "lake",
            "sync",
            "--to",
            lake.to_str().unwrap(),
            "--tables",
            "jobs",
        ],
    ));
    stdout_of(&lakeshift(
        &db.url,
        &[
            "-q",
            "backup",
            "--to",
            backups.to_str().unwrap(),
            "--tables",
            "jobs",
        ],
    ));
    let delta = format!("jobs={}", lake.join("jobs").display());
    let parquet = dir.path().join("jobs.parquet");
    let csv = dir.path().join("jobs.csv");
    for out in [&parquet, &csv] {
        let run = lakeshift(
            &db.url,
            &[
                "sql",
                "-e",
                "SELECT * FROM jobs",
                "--table",
                &delta,
                "-o",
                out.to_str().unwrap(),
            ],
        );
        assert!(
            crate::common::stderr(&run).contains("183 rows written"),
            "{}",
            crate::common::stderr(&run)
        );
    }
    let backup_dir = std::fs::read_dir(&backups)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let avro_dir = backup_dir.join("public.jobs");
    let sources = [
        delta.clone(),
        format!("jobs={}#delta@0", lake.join("jobs").display()),
        format!("jobs={}", parquet.display()),
        format!("jobs={}", csv.display()),
        format!("jobs={}", backups.display()),
        format!("jobs={}#backup:public.jobs", backup_dir.display()),
        format!("jobs={}#avro", avro_dir.display()),
        format!("jobs={url}"),
        format!("jobs={url}#postgres:public.jobs"),
    ];
    let sql = "SELECT count(*) AS n, sum(id) AS ids, max(job) AS last FROM jobs";
    let expected = postgres_csv(&db, sql).await;
    for source in &sources {
        let out = lakeshift(
            &db.url,
            &["sql", "-e", sql, "--table", source, "--format", "csv"],
        );
        assert_eq!(stdout_of(&out), expected, "{source}");
    }
    // A live table named twice in one query is read twice.
    let self_join = "SELECT count(*) AS n FROM jobs a JOIN jobs b ON a.id = b.id";
    let out = lakeshift(
        &db.url,
        &[
            "sql",
            "-e",
            self_join,
            "--table",
            &format!("jobs={url}"),
            "--format",
            "csv",
        ],
    );
    assert_eq!(stdout_of(&out), "n\n183\n");
}

/// A live table whose values its columns' Arrow types cannot carry (NaN in a numeric(p,s),
/// infinite timestamps) is queried with those columns as text: no error, nothing mangled.
#[tokio::test(flavor = "multi_thread")]
async fn a_live_table_with_values_arrow_cannot_carry_is_queried_as_text() {
    let db = TestDb::new().await;
    db.execute(
        "CREATE TABLE public.odd (id int, amount numeric(8,2), at timestamptz, day date);
         INSERT INTO public.odd VALUES (1, 'NaN', '-infinity', '2024-02-29'),
             (2, 2.5, '2024-01-01 00:00:00+00', 'infinity');",
    )
    .await;
    let sql = "SELECT id, amount, at, day FROM odd ORDER BY id";
    let table = format!("odd={}#postgres:public.odd", db.url.expose());
    let out = stdout_of(&lakeshift(
        &db.url,
        &["sql", "-e", sql, "--table", &table, "--format", "csv"],
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "id,amount,at,day");
    assert!(lines[1].starts_with("1,NaN,-infinity,2024-02-29"), "{out}");
    assert!(
        lines[2].starts_with("2,2.50,2024-01-01 00:00:00+00,infinity"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_sql_and_bad_tables_are_pointed_at() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.sql");
    std::fs::write(&file, "SELECT 1;\n\nSELECT id\n  FROM jobs WHERE;\n").unwrap();
    let err = error_of(&lakeshift(&db.url, &["sql", file.to_str().unwrap()]));
    assert!(
        err.starts_with(&format!(
            "error: {}:4:18: syntax error: Expected: an expression, found: ;",
            file.display()
        )),
        "{err}"
    );
    std::fs::write(&file, "SELECT 1;\n\nSELECT id\n  FROM nosuch;\n").unwrap();
    let table = format!("jobs={}#csv", file.display());
    let err = error_of(&lakeshift(
        &db.url,
        &["sql", file.to_str().unwrap(), "--table", &table],
    ));
    assert_eq!(
        err,
        format!(
            "error: {}:3: unknown table nosuch (known tables: jobs)",
            file.display()
        )
    );
    let err = error_of(&lakeshift(
        &db.url,
        &["sql", "-e", "SELECT 1", "--format", "parquet"],
    ));
    assert!(
        err.contains("--format parquet needs an output file"),
        "{err}"
    );
    let err = error_of(&lakeshift(
        &db.url,
        &["sql", "-e", "SELECT 1", "--table", "x=/no/where"],
    ));
    assert!(err.contains("/no/where does not exist"), "{err}");
    let err = error_of(&lakeshift(
        &db.url,
        &["sql", "-e", "SELECT 1", "--table", "x=y#orc"],
    ));
    assert!(err.contains("unknown format #orc"), "{err}");
    let err = error_of(&lakeshift(
        &db.url,
        &[
            "sql",
            "-e",
            "SELECT 1",
            "--table",
            &format!("t={}", db.url.expose()),
        ],
    ));
    assert!(err.contains("table t does not exist"), "{err}");
    // A failed write leaves no output file behind.
    let out = dir.path().join("out.csv");
    let err = error_of(&lakeshift(
        &db.url,
        &[
            "sql",
            "-e",
            "SELECT 1 / 0 AS x",
            "-o",
            out.to_str().unwrap(),
        ],
    ));
    assert!(err.contains("Divide by zero"), "{err}");
    assert!(!out.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_shows_each_result_as_a_chart_and_a_table() {
    let db = TestDb::new().await;
    hr_demo(&db, 5000).await;
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    stdout_of(&lakeshift(
        &db.url,
        &["-q", "lake", "sync", "--to", lake.to_str().unwrap()],
    ));
    let tables = catalog(&lake);
    let page = dir.path().join("out/report.html");
    let charts = dir.path().join("charts");
    let q1 = repo_file("queries/hired_by_quarter_2021.sql");
    let q2 = repo_file("queries/departments_above_mean_2021.sql");
    let args = [
        "report",
        "--query",
        q1.to_str().unwrap(),
        "--query",
        q2.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
        "--png",
        charts.to_str().unwrap(),
        "--title",
        "HR <2021>",
    ];
    stdout_of(&lakeshift(&db.url, &with_tables(&args, &tables)));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<title>HR &lt;2021&gt;</title>"));
    assert_eq!(html.matches("<svg").count(), 2);
    assert!(html.contains("Employees hired in 2021 by department, job and quarter"));
    for legend in [">Q1<", ">Q4<", "mean of all departments: "] {
        assert!(html.contains(legend), "{legend} missing from the charts");
    }
    assert!(!html.contains("<script"), "self-contained, no scripts");
    let q1_rows = stdout_of(&lakeshift(
        &db.url,
        &with_tables(&["sql", q1.to_str().unwrap(), "--format", "csv"], &tables),
    ))
    .lines()
    .count()
        - 1;
    assert!(
        html.contains(&format!("{q1_rows} rows")),
        "the table has every row"
    );
    for name in [
        "hired_by_quarter_2021.png",
        "departments_above_mean_2021.png",
    ] {
        let png = std::fs::read(charts.join(name)).unwrap();
        assert_eq!(&png[..4], b"\x89PNG");
    }
    // A chart asking for a column the result lacks is refused, and no page is written.
    let bad = dir.path().join("bad.sql");
    std::fs::write(&bad, "-- chart: bar\n-- values: nope\nSELECT job FROM jobs").unwrap();
    let other = dir.path().join("other.html");
    let args = [
        "report",
        "--query",
        bad.to_str().unwrap(),
        "-o",
        other.to_str().unwrap(),
    ];
    let err = error_of(&lakeshift(&db.url, &with_tables(&args, &tables)));
    assert!(
        err.contains("chart: the result has no column nope (it has job)"),
        "{err}"
    );
    assert!(!other.exists());
}
