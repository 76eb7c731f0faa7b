//! CSV import against a real Postgres: the historical HR files, every kind of reject, the
//! transaction rules, modes, sequences, and a differential check of the type parsing
//! against Postgres' own COPY.

use std::path::Path;

use lakeshift::formats::csv::CsvOptions;
use lakeshift::import::{CsvImport, DirImport, ImportOptions};
use lakeshift::postgres::write::LoadMode;

use crate::common::{TestDb, csv_rows, hr_data_dir, hr_schema};

fn write(dir: &Path, name: &str, content: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// The reject log's rows, without its header.
fn rejects(path: &Path) -> Vec<Vec<String>> {
    csv_rows(path).split_off(1)
}

#[tokio::test(flavor = "multi_thread")]
async fn real_hr_files_load_completely_with_empty_fields_as_null() {
    let db = TestDb::new().await;
    hr_schema(&db).await;
    let tmp = tempfile::tempdir().unwrap();
    for f in ["departments.csv", "jobs.csv", "hired_employees.csv"] {
        std::fs::copy(hr_data_dir().join(f), tmp.path().join(f)).unwrap();
    }
    let summaries = DirImport::new(db.url.clone(), tmp.path(), Default::default())
        .run()
        .await
        .unwrap();
    let tables: Vec<&str> = summaries.iter().map(|s| s.table.as_str()).collect();
    assert_eq!(
        tables,
        [
            "public.departments",
            "public.jobs",
            "public.hired_employees"
        ]
    );
    assert_eq!(
        summaries.iter().map(|s| s.rows_loaded).collect::<Vec<_>>(),
        [12, 183, 1999]
    );
    assert!(
        summaries
            .iter()
            .all(|s| s.rows_rejected == 0 && s.rejects_file.is_none())
    );
    assert_eq!(
        db.value("SELECT concat_ws(',', count(name), count(datetime), count(department_id), count(job_id)) FROM hired_employees").await,
        "1980,1985,1978,1983"
    );
    assert_eq!(
        db.value("SELECT name FROM hired_employees WHERE id = 58")
            .await,
        "Elia D'Enrico"
    );
    assert_eq!(
        db.value("SELECT datetime FROM hired_employees WHERE id = 1")
            .await,
        "2021-11-07 02:48:42"
    );
    assert!(
        !db.value("SELECT job FROM jobs WHERE id = 183")
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn not_null_columns_reject_the_70_incomplete_rows_with_their_lines() {
    let db = TestDb::new().await;
    hr_schema(&db).await;
    db.execute(
        "ALTER TABLE hired_employees ALTER name SET NOT NULL, ALTER datetime SET NOT NULL,
         ALTER department_id SET NOT NULL, ALTER job_id SET NOT NULL",
    )
    .await;
    let tmp = tempfile::tempdir().unwrap();
    for f in ["departments.csv", "jobs.csv", "hired_employees.csv"] {
        std::fs::copy(hr_data_dir().join(f), tmp.path().join(f)).unwrap();
    }
    let summaries = DirImport::new(db.url.clone(), tmp.path(), Default::default())
        .run()
        .await
        .unwrap();
    let employees = &summaries[2];
    assert_eq!(
        (
            employees.rows_read,
            employees.rows_loaded,
            employees.rows_rejected
        ),
        (1999, 1929, 70)
    );
    assert_eq!(db.count("hired_employees").await, 1929);
    let log = rejects(employees.rejects_file.as_ref().unwrap());
    assert_eq!(log.len(), 70);
    // Line 2 of the file is `2,Ty Hofer,2021-05-30T05:43:46Z,8,` (no job).
    assert_eq!(
        log[0][1..4],
        [
            "2".to_string(),
            "job_id".into(),
            "NULL in a NOT NULL column".into()
        ]
    );
    assert_eq!(log[0][4], "2,Ty Hofer,2021-05-30T05:43:46Z,8,");
    let by_column = |c: &str| log.iter().filter(|r| r[2] == c).count();
    assert_eq!(
        (
            by_column("name"),
            by_column("datetime"),
            by_column("department_id"),
            by_column("job_id")
        ),
        (19, 14, 21, 16)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_bad_row_is_rejected_and_the_rest_commits() {
    let db = TestDb::new().await;
    hr_schema(&db).await;
    db.execute(
        "INSERT INTO departments VALUES (1, 'Sales'); INSERT INTO jobs VALUES (1, 'Clerk');
                INSERT INTO hired_employees VALUES (100, 'Existing', NULL, 1, 1)",
    )
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "hired_employees.csv",
        "\u{feff}1,Ann,2021-01-01T00:00:00Z,1,1\r\n\
         2,Bob,2021-01-01,1\r\n\
         3,Cid,not a date,1,1\n\
         4,\"Dee, \"\"the\"\" first\",2021-03-01T10:00:00+02:00,1,1\n\
         1,Dup,2021-01-01T00:00:00Z,1,1\n\
         100,Old,2021-01-01T00:00:00Z,1,1\n\
         5,Eve,2021-01-01T00:00:00Z,99,1\n\
         6,Fay,2021-01-01T00:00:00Z,1,\n\
         x7,Gus,,1,1\n\
         8,\"Hal\nwith a newline\",2021-05-05 05:05:05,,\n\
         9,Ivy,2021-06-01T00:00:00,1,1",
    );
    let summary = CsvImport::new(db.url.clone(), "hired_employees", &file, Default::default())
        .run()
        .await
        .unwrap();
    assert_eq!(
        (
            summary.rows_read,
            summary.rows_loaded,
            summary.rows_rejected
        ),
        (11, 5, 6)
    );
    let log = rejects(summary.rejects_file.as_ref().unwrap());
    let lines: Vec<(&str, &str)> = log.iter().map(|r| (r[1].as_str(), r[3].as_str())).collect();
    assert_eq!(lines[0], ("2", "expected 5 fields, found 4"));
    assert_eq!(lines[1].0, "3");
    assert!(
        lines[1].1.starts_with("invalid timestamp \"not a date\""),
        "{lines:?}"
    );
    assert_eq!(lines[2], ("5", "duplicate primary key (id=1)"));
    assert_eq!(lines[3], ("6", "duplicate primary key (id=100)"));
    assert_eq!(lines[4].0, "7");
    assert!(
        lines[4].1.contains("no parent row for foreign key")
            && lines[4].1.contains("department_id=99"),
        "{lines:?}"
    );
    assert_eq!(lines[5].0, "9");
    assert!(lines[5].1.starts_with("invalid integer \"x7\""));
    assert_eq!(log[5][4], "x7,Gus,,1,1", "the raw line is kept");
    // The good rows, with quoting, offsets and a quoted newline handled.
    assert_eq!(
        db.value("SELECT name FROM hired_employees WHERE id = 4")
            .await,
        "Dee, \"the\" first"
    );
    assert_eq!(
        db.value("SELECT datetime FROM hired_employees WHERE id = 4")
            .await,
        "2021-03-01 08:00:00"
    );
    assert_eq!(
        db.value("SELECT name FROM hired_employees WHERE id = 8")
            .await,
        "Hal\nwith a newline"
    );
    assert_eq!(
        db.value("SELECT datetime FROM hired_employees WHERE id = 9")
            .await,
        "2021-06-01 00:00:00"
    );
    assert_eq!(db.count("hired_employees").await, 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_rejects_commit_nothing_and_a_rerun_loads_nothing_twice() {
    let db = TestDb::new().await;
    hr_schema(&db).await;
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "departments.csv", "1,A\n2,B\nx,C\ny,D\n");
    let err = CsvImport::new(
        db.url.clone(),
        "departments",
        &file,
        ImportOptions {
            max_rejects: Some(1),
            ..Default::default()
        },
    )
    .run()
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            lakeshift::Error::TooManyRejects {
                rejected: 2,
                max: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("2 rows rejected, more than max_rejects 1; nothing was committed"),
        "{err}"
    );
    assert_eq!(db.count("departments").await, 0);

    let good = write(tmp.path(), "good.csv", "1,A\n2,B\n");
    let first = CsvImport::new(db.url.clone(), "departments", &good, Default::default())
        .run()
        .await
        .unwrap();
    let again = CsvImport::new(db.url.clone(), "departments", &good, Default::default())
        .run()
        .await
        .unwrap();
    assert_eq!(
        (first.rows_loaded, again.rows_loaded, again.rows_rejected),
        (2, 0, 2)
    );
    assert_eq!(db.count("departments").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn replace_and_upsert_modes() {
    let db = TestDb::new().await;
    hr_schema(&db).await;
    db.execute("INSERT INTO departments VALUES (1, 'Old'), (7, 'Gone')")
        .await;
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "d.csv", "1,New\n2,Two\n");
    CsvImport::new(
        db.url.clone(),
        "departments",
        &file,
        ImportOptions {
            mode: LoadMode::Upsert,
            ..Default::default()
        },
    )
    .run()
    .await
    .unwrap();
    assert_eq!(
        db.value("SELECT string_agg(id || '=' || department, ',' ORDER BY id) FROM departments")
            .await,
        "1=New,2=Two,7=Gone"
    );
    CsvImport::new(
        db.url.clone(),
        "departments",
        &file,
        ImportOptions {
            mode: LoadMode::Replace,
            ..Default::default()
        },
    )
    .run()
    .await
    .unwrap();
    assert_eq!(
        db.value("SELECT string_agg(id || '=' || department, ',' ORDER BY id) FROM departments")
            .await,
        "1=New,2=Two"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn identity_sequences_move_past_loaded_ids() {
    let db = TestDb::new().await;
    db.execute(
        "CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
                CREATE TABLE s (id serial PRIMARY KEY, v text)",
    )
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "t.csv", "5,a\n41,b\n");
    CsvImport::new(db.url.clone(), "t", &file, Default::default())
        .run()
        .await
        .unwrap();
    CsvImport::new(db.url.clone(), "s", &file, Default::default())
        .run()
        .await
        .unwrap();
    db.execute("INSERT INTO t (v) VALUES ('next'); INSERT INTO s (v) VALUES ('next')")
        .await;
    assert_eq!(db.value("SELECT id FROM t WHERE v = 'next'").await, "42");
    assert_eq!(db.value("SELECT id FROM s WHERE v = 'next'").await, "42");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_type_parses_like_postgres_copy() {
    let db = TestDb::new().await;
    let columns = "id int8 PRIMARY KEY, b bool, i2 int2, i4 int4, f4 real, f8 float8, n numeric(30,4),
        nu numeric, t text, vc varchar(5), c char(3), by bytea, d date, tm time, ts timestamp,
        tz timestamptz, u uuid, j json, jb jsonb, ip inet, iv interval, m mood, arr int4[], tarr text[]";
    db.execute(&format!(
        "SET timezone = 'UTC'; ALTER DATABASE {} SET timezone = 'UTC';
         CREATE TYPE mood AS ENUM ('sad', 'happy');
         CREATE TABLE ours ({columns}); CREATE TABLE theirs ({columns});",
        db.url.database()
    ))
    .await;
    let csv = "1,t,-32768,2147483647,1.5,-0.000001,12345678901234567890123456.1235,3.14159265358979323846264338327950288,\"a,b\",abcde,ab,\\x00ff10,1969-07-20,23:59:59.999999,1900-01-01 00:00:00,2021-06-01T12:00:00Z,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,\"{\"\"a\"\": [1, {\"\"b\"\": null}]}\",\"{\"\"k\"\": \"\"v\"\"}\",192.168.0.1/24,1 day 02:03:04,happy,\"{1,NULL,3}\",\"{\"\"x y\"\",z}\"\n\
               2,,,,NaN,-Infinity,,,\"\",,,,,,,,,,,,,,{},{}\n\
               3,f,0,0,0,0,0,-1e-3,üñî,\"q\"\"uo\",x,\\\\,9999-12-31,00:00:00,9999-12-31 23:59:59,1960-01-01T00:00:00-05:00,,null,[],::1,-1 mon,sad,{},\"{NULL}\"\n";
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "types.csv", csv);
    let summary = CsvImport::new(db.url.clone(), "ours", &file, Default::default())
        .run()
        .await
        .unwrap();
    assert_eq!(
        (summary.rows_loaded, summary.rows_rejected),
        (3, 0),
        "{:?}",
        summary.rejects_file
    );
    let sink = db.client().await;
    let copy = sink
        .copy_in::<_, bytes::Bytes>("COPY theirs FROM STDIN (FORMAT csv)")
        .await
        .unwrap();
    futures::pin_mut!(copy);
    futures::SinkExt::send(&mut copy, bytes::Bytes::from(csv))
        .await
        .unwrap();
    copy.as_mut().finish().await.unwrap();
    let digest = |t: &str| format!("SELECT md5(string_agg(x::text, '|' ORDER BY id)) FROM {t} x");
    let (ours, theirs) = (
        db.value(&digest("ours")).await,
        db.value(&digest("theirs")).await,
    );
    if ours != theirs {
        let diff = db.value("SELECT string_agg(x::text, E'\\n') FROM (SELECT * FROM ours EXCEPT SELECT * FROM theirs) x").await;
        panic!("lakeshift and COPY disagree on:\n{diff}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn header_delimiter_and_null_string_options() {
    let db = TestDb::new().await;
    hr_schema(&db).await;
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "d.csv", "id;department\n1;NA\n2;'x;y'\n");
    let options = CsvOptions {
        delimiter: b';',
        quote: b'\'',
        header: true,
        null_string: Some("NA".into()),
        ..Default::default()
    };
    let summary = CsvImport::new(
        db.url.clone(),
        "departments",
        &file,
        ImportOptions {
            csv: options,
            ..Default::default()
        },
    )
    .run()
    .await
    .unwrap();
    assert_eq!(summary.rows_loaded, 2);
    assert_eq!(
        db.value("SELECT count(*) FROM departments WHERE department IS NULL")
            .await,
        "1"
    );
    assert_eq!(
        db.value("SELECT department FROM departments WHERE id = 2")
            .await,
        "x;y"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dir_import_in_replace_mode_empties_parents_and_children_together() {
    let db = TestDb::new().await;
    hr_schema(&db).await;
    let tmp = tempfile::tempdir().unwrap();
    lakeshift::demo::generate(tmp.path(), 500, 3).unwrap();
    for _ in 0..2 {
        let summaries = DirImport::new(
            db.url.clone(),
            tmp.path(),
            ImportOptions {
                mode: LoadMode::Replace,
                ..Default::default()
            },
        )
        .run()
        .await
        .unwrap();
        assert_eq!(summaries[2].rows_read, 500);
        assert_eq!(summaries[2].rows_loaded + summaries[2].rows_rejected, 500);
    }
    assert_eq!(db.count("departments").await, 12);
    assert_eq!(db.count("hired_employees").await, 500);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stray_file_stops_the_dir_import_before_anything_loads() {
    let db = TestDb::new().await;
    hr_schema(&db).await;
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "departments.csv", "1,A\n");
    write(tmp.path(), "jobz.csv", "1,A\n");
    let err = DirImport::new(db.url.clone(), tmp.path(), Default::default())
        .run()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no table jobz"), "{err}");
    assert_eq!(db.count("departments").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_loads_into_empty_tables_keep_every_constraint() {
    let db = TestDb::new().await;
    hr_schema(&db).await;
    db.execute(
        "COMMENT ON CONSTRAINT hired_employees_pkey ON hired_employees IS 'one row per hire';
         CREATE VIEW per_job AS SELECT j.id, j.job, count(*) FROM jobs j GROUP BY j.id;",
    )
    .await;
    let constraints = "SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), '; ' ORDER BY conname)
                       FROM pg_constraint WHERE conrelid IN ('hired_employees'::regclass, 'jobs'::regclass)";
    let before = db.value(constraints).await;
    let tmp = tempfile::tempdir().unwrap();
    lakeshift::demo::generate(tmp.path(), 3000, 5).unwrap();
    // jobs' key carries a view (GROUP BY on it) and a foreign key: it stays in place.
    let summaries = DirImport::new(db.url.clone(), tmp.path(), Default::default())
        .run()
        .await
        .unwrap();
    assert_eq!(summaries[2].rows_loaded + summaries[2].rows_rejected, 3000);
    assert_eq!(db.value(constraints).await, before);
    assert_eq!(
        db.value("SELECT obj_description(oid, 'pg_constraint') FROM pg_constraint WHERE conname = 'hired_employees_pkey'").await,
        "one row per hire"
    );
    let err = db
        .client()
        .await
        .batch_execute("INSERT INTO hired_employees VALUES (1, 'again', NULL, NULL, NULL)")
        .await
        .unwrap_err();
    assert!(
        format!("{err:?}").contains("hired_employees_pkey"),
        "the key is enforced again: {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn values_the_server_casts_are_rejects_too_when_they_do_not_cast() {
    let db = TestDb::new().await;
    db.execute(
        "CREATE TABLE t (id int PRIMARY KEY, span interval, host inet, tags int4[], n numeric)",
    )
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "t.csv",
        "1,1 day,10.0.0.1,\"{1,2}\",1.5\n\
         2,forever,10.0.0.2,{},2\n\
         3,2 hours,not-an-ip,{},3\n\
         4,,,\"{1,x}\",\n\
         5,3 mins,::1,{NULL},NaN\n\
         6,1 year,,,abc\n",
    );
    let summary = CsvImport::new(db.url.clone(), "t", &file, Default::default())
        .run()
        .await
        .unwrap();
    assert_eq!(
        (
            summary.rows_read,
            summary.rows_loaded,
            summary.rows_rejected
        ),
        (6, 2, 4)
    );
    let log = rejects(summary.rejects_file.as_ref().unwrap());
    let got: Vec<(&str, &str)> = log.iter().map(|r| (r[1].as_str(), r[2].as_str())).collect();
    assert_eq!(
        got,
        [("2", "span"), ("3", "host"), ("4", "tags"), ("6", "n")]
    );
    assert!(
        log[0][3].contains("invalid input syntax for type interval"),
        "{:?}",
        log[0]
    );
    assert_eq!(
        log[1][4], "3,2 hours,not-an-ip,{},3",
        "the raw line is read back"
    );
    assert_eq!(
        db.value("SELECT string_agg(id::text, ',' ORDER BY id) FROM t")
            .await,
        "1,5"
    );
    assert_eq!(db.value("SELECT span FROM t WHERE id = 1").await, "1 day");

    // Those rejects count against --max-rejects like any other.
    db.execute("TRUNCATE t").await;
    let err = CsvImport::new(
        db.url.clone(),
        "t",
        &file,
        ImportOptions {
            max_rejects: Some(3),
            ..Default::default()
        },
    )
    .run()
    .await
    .unwrap_err();
    assert!(
        matches!(err, lakeshift::Error::TooManyRejects { max: 3, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("more than max_rejects 3; nothing was committed"),
        "{err}"
    );
    assert_eq!(db.count("t").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_the_server_refuses_are_rejects_with_its_reason_and_the_rest_loads() {
    let db = TestDb::new().await;
    db.execute(
        r#"CREATE DOMAIN code AS text NOT NULL CHECK (VALUE ~ '^[A-Z]+$');
           CREATE TABLE u (id int PRIMARY KEY, email text UNIQUE, n int CHECK (n > 0),
                           note text, c code, during tsrange,
                           EXCLUDE USING gist (during WITH &&));
           CREATE UNIQUE INDEX u_note_folded ON u (lower(note));
           CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN IF NEW.note = 'forbidden' THEN RAISE EXCEPTION 'note % is forbidden', NEW.id;
           END IF; RETURN NEW; END $$;
           CREATE TRIGGER u_refuse BEFORE INSERT ON u FOR EACH ROW EXECUTE FUNCTION refuse();
           INSERT INTO u VALUES (100, 'old@x', 1, 'old', 'OLD', NULL);"#,
    )
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let url = db.url.clone();
    let import = |content: &str, mode: LoadMode| {
        let file = write(tmp.path(), "u.csv", content);
        let url = url.clone();
        let options = ImportOptions {
            mode,
            ..Default::default()
        };
        async move {
            CsvImport::new(url, "u", &file, options)
                .run()
                .await
                .unwrap()
        }
    };
    // Into the emptied table (its keys dropped for the bulk load, but not the unique ones).
    let summary = import(
        "1,a@x,1,ok1,AB,\"[2020-01-01,2020-01-02)\"\n\
         2,a@x,1,ok2,AB,\n\
         3,b@x,-1,ok3,AB,\n\
         4,c@x,1,ok4,ab,\n\
         5,d@x,1,ok5,,\n\
         6,e@x,1,OK1,AB,\n\
         7,f@x,1,forbidden,AB,\n\
         8,g@x,1,ok8,AB,\"[2020-01-01 12:00,2020-01-03)\"\n\
         9,h@x,2,ok9,AB,\"[2021-01-01,2021-01-02)\"\n",
        LoadMode::Replace,
    )
    .await;
    assert_eq!((summary.rows_loaded, summary.rows_rejected), (2, 7));
    let log = rejects(summary.rejects_file.as_ref().unwrap());
    let got: Vec<[&str; 3]> = log
        .iter()
        .map(|r| [r[1].as_str(), r[2].as_str(), r[3].as_str()])
        .collect();
    assert_eq!(
        got,
        [
            [
                "2",
                "email",
                r#"duplicate key value violates unique constraint "u_email_key" (Key (email)=(a@x) already exists.)"#
            ],
            [
                "3",
                "n",
                r#"new row for relation "u" violates check constraint "u_n_check""#
            ],
            [
                "4",
                "c",
                r#"value for domain code violates check constraint "code_check""#
            ],
            ["5", "c", "domain code does not allow null values"],
            [
                "6",
                "",
                r#"duplicate key value violates unique constraint "u_note_folded" (Key (lower(note))=(ok1) already exists.)"#
            ],
            ["7", "", "note 7 is forbidden"],
            ["8", "during", got[6][2]],
        ]
    );
    assert!(
        got[6][2].starts_with(r#"conflicting key value violates exclusion constraint"#),
        "{got:?}"
    );
    assert_eq!(
        db.value("SELECT string_agg(id::text, ',' ORDER BY id) FROM u")
            .await,
        "1,9"
    );
    // Appending: a clash with a row already in the table is a reject too.
    let summary = import("20,a@x,5,new,AB,\n21,z@x,5,new2,AB,\n", LoadMode::Append).await;
    assert_eq!((summary.rows_loaded, summary.rows_rejected), (1, 1));
    let log = rejects(summary.rejects_file.as_ref().unwrap());
    assert_eq!((log[0][1].as_str(), log[0][2].as_str()), ("1", "email"));
    assert_eq!(db.count("u").await, 3);
    assert!(
        db.value("SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint WHERE conrelid = 'u'::regclass")
            .await
            .contains("u_email_key,u_n_check,u_pkey"),
        "every constraint is in place after the loads"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_row_that_fits_no_partition_is_a_reject() {
    let db = TestDb::new().await;
    db.execute(
        "CREATE TABLE events (id int, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
         CREATE TABLE events_2020 PARTITION OF events FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');",
    )
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "events.csv",
        "1,2020-03-01\n2,1999-12-31\n3,2020-12-31\n",
    );
    let summary = CsvImport::new(db.url.clone(), "events", &file, Default::default())
        .run()
        .await
        .unwrap();
    assert_eq!((summary.rows_loaded, summary.rows_rejected), (2, 1));
    let log = rejects(summary.rejects_file.as_ref().unwrap());
    assert_eq!(log[0][1], "2");
    assert!(
        log[0][3].starts_with(r#"no partition of relation "events" found for row"#),
        "{:?}",
        log[0]
    );
    assert_eq!(db.count("events_2020").await, 2);
}
