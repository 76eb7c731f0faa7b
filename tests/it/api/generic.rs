//! `POST /api/v1/tables/{table}/records` and `GET /api/v1/tables`: any table, typed by its
//! catalog.

use lakeshift::api::config::ServeConfig;
use serde_json::{Value, json};

use super::{Api, config, hr_db};
use crate::common::{EVERY_TYPE, TestDb};

#[tokio::test]
async fn tables_are_listed_with_their_record_fields() {
    let api = Api::start().await;
    let token = api.token().await;
    let (status, text) = api.get("/api/v1/tables", Some(&token)).await;
    assert_eq!(status, 200, "{text}");
    let tables: Vec<Value> = serde_json::from_str(&text).unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "public.departments",
            "public.hired_employees",
            "public.jobs"
        ]
    );
    let employees = &tables[1];
    assert_eq!(employees["generated_id"], "id");
    assert_eq!(
        employees["endpoint"],
        "/api/v1/tables/public.hired_employees/records"
    );
    let name = employees["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "name")
        .unwrap();
    assert_eq!(
        name,
        &json!({"name": "name", "pg_type": "character varying(255)", "json_type": "string",
                "required": false, "nullable": true, "max_length": 255})
    );
    let datetime = employees["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "datetime")
        .unwrap();
    assert_eq!(datetime["format"], "date-time");
    let (status, _) = api.get("/api/v1/tables", None).await;
    assert_eq!(status, 401);
    api.stop().await;
}

#[tokio::test]
async fn every_type_is_typed_by_the_catalog_and_bad_casts_are_rejects() {
    let db = TestDb::new().await;
    db.execute(EVERY_TYPE).await;
    let config = ServeConfig {
        explicit_ids: vec!["everything".into()],
        ..config()
    };
    let api = Api::start_with(db, config).await;
    let token = api.token().await;
    let full = json!({
        "b": true, "i2": -32768, "i4": 2147483647, "f4": 1.5, "f8": "NaN",
        "n": "12345678901234567890123456.1235", "nu": "3.141592653589793238462643383279",
        "n38": 0.5, "t": "a,b\"c", "vc": "abcde", "c": "ab", "by": "\\x00ff00", "d": "1969-07-20",
        "tm": "23:59:59.999999", "ts": "1900-01-01T00:00:00", "tz": "2021-06-01T12:00:00+02:00",
        "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "j": {"b": 1, "a": [1, {"c": null}]},
        "jb": [1, "two"], "ip": "192.168.0.1/24", "iv": "1 year 2 mons", "m": "happy",
        "arr": "{1,NULL,3}", "tarr": "{\"x y\",NULL}", "p": 7, "money_col": 12.34
    });
    let records = json!({"records": [
        full,
        {},
        {"ip": "not-an-address"},
        {"vc": "abcdef"},
        {"m": "angry"},
        {"id": 50, "t": "explicit id"},
        {"id": 50, "t": "same id again"},
        {"g": 1},
        {"n": "1e40"},
    ]});
    let (status, body) = api
        .post("/api/v1/tables/everything/records", Some(&token), &records)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ids"], json!([1, 2, 50]), "{body}");
    let rejected: Vec<(u64, &str)> = body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rejected,
        [
            (2, "ip"),
            (3, "vc"),
            (4, "m"),
            (6, "id"),
            (7, "g"),
            (8, "n")
        ],
        "{body}"
    );
    let reasons: Vec<&str> = body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert!(reasons[0].contains("inet"), "{}", reasons[0]);
    assert!(reasons[3].contains("repeats record 5"), "{}", reasons[3]);
    let row = api.db.value(
        "SELECT concat_ws('|', b, i2, i4, f4, f8, n, nu, n38, t, vc, c, encode(by, 'hex'), d, tm, ts,
                tz AT TIME ZONE 'UTC', u, j, jb, ip, iv, m, arr, tarr, p, money_col, g) FROM everything WHERE id = 1",
    ).await;
    assert_eq!(
        row,
        "t|-32768|2147483647|1.5|NaN|12345678901234567890123456.1235|3.141592653589793238462643383279|0.500000000000|a,b\"c|abcde|ab |00ff00|1969-07-20|23:59:59.999999|1900-01-01 00:00:00|2021-06-01 10:00:00|a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11|{\"a\":[1,{\"c\":null}],\"b\":1}|[1, \"two\"]|192.168.0.1/24|1 year 2 mons|happy|{1,NULL,3}|{\"x y\",NULL}|7|$12.34|2"
    );
    assert_eq!(
        api.db
            .value("SELECT count(*) FROM everything WHERE id = 2 AND b IS NULL")
            .await,
        "1"
    );
    // An explicit id that already exists is a reject, not a failed batch.
    let (status, body) = api
        .post(
            "/api/v1/tables/public.everything/records",
            Some(&token),
            &json!({"records": [{"id": 1}, {"t": "next"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ids"], json!([51]), "{body}");
    assert_eq!(body["rejected"][0]["reason"], "id 1 already exists");
    assert_eq!(api.db.count("lakeshift_ingest_rejects").await, 7);
    api.stop().await;
}

#[tokio::test]
async fn defaults_required_columns_and_tables_without_an_integer_key() {
    let db = TestDb::new().await;
    db.execute(
        "CREATE TABLE sensors (code text PRIMARY KEY, label text NOT NULL,
                               status text NOT NULL DEFAULT 'new', created timestamptz DEFAULT '2000-01-01Z');
         CREATE TABLE readings (id bigserial PRIMARY KEY, sensor text NOT NULL REFERENCES sensors (code),
                                value float8);",
    )
    .await;
    let api = Api::start_with(db, config()).await;
    let token = api.token().await;
    let (status, body) = api
        .post(
            "/api/v1/tables/sensors/records",
            Some(&token),
            &json!({"records": [{"code": "a", "label": "A"}, {"code": "b"}, {"code": "c", "label": "C", "status": "old"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["inserted"].as_u64(), body["ids"].clone()),
        (Some(2), json!([]))
    );
    assert_eq!(body["rejected"][0]["field"], "label");
    assert_eq!(
        api.db.value("SELECT string_agg(code || status || extract(year FROM created), ',' ORDER BY code) FROM sensors").await,
        "anew2000,cold2000"
    );
    let (status, body) = api
        .post(
            "/api/v1/tables/readings/records",
            Some(&token),
            &json!({"records": [{"sensor": "a", "value": 1.5}, {"sensor": "zz", "value": 2}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ids"], json!([1]));
    assert_eq!(
        body["rejected"][0]["reason"],
        "sensor zz does not exist in sensors"
    );
    // The serial's sequence moved past the ids the server assigned.
    api.db
        .execute("INSERT INTO readings (sensor) VALUES ('a')")
        .await;
    assert_eq!(api.db.value("SELECT max(id) FROM readings").await, "2");
    api.stop().await;
}

#[tokio::test]
async fn unknown_tables_are_404_and_new_tables_are_found() {
    let api = Api::start_with(hr_db().await, config()).await;
    let token = api.token().await;
    let one = json!({"records": [{"x": 1}]});
    for table in [
        "nope",
        "lakeshift_ingest_rejects",
        "pg_catalog.pg_class",
        "other.jobs",
    ] {
        let (status, body) = api
            .post(
                &format!("/api/v1/tables/{table}/records"),
                Some(&token),
                &one,
            )
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (404, Some("unknown_table")),
            "{table}: {body}"
        );
    }
    api.db
        .execute("CREATE TABLE late (id int4 PRIMARY KEY, x int4)")
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, body) = api
        .post("/api/v1/tables/late/records", Some(&token), &one)
        .await;
    assert_eq!((status, &body["ids"]), (200, &json!([1])), "{body}");
    api.stop().await;
}

#[tokio::test]
async fn records_the_server_refuses_are_rejects_and_the_rest_of_the_batch_lands() {
    let db = TestDb::new().await;
    db.execute(
        r#"CREATE DOMAIN code AS text CHECK (VALUE ~ '^[A-Z]+$');
           CREATE TABLE checked (id serial PRIMARY KEY, n int CHECK (n > 0), c code,
                                 note text);
           CREATE UNIQUE INDEX checked_note_folded ON checked (lower(note));
           CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN IF NEW.note = 'forbidden' THEN RAISE EXCEPTION 'note is forbidden'; END IF;
           RETURN NEW; END $$;
           CREATE TRIGGER checked_refuse BEFORE INSERT ON checked FOR EACH ROW
             EXECUTE FUNCTION refuse();"#,
    )
    .await;
    let api = Api::start_with(db, config()).await;
    let token = api.token().await;
    let records = json!({"records": [
        {"n": 1, "c": "AB", "note": "one"},
        {"n": -1, "c": "AB", "note": "two"},
        {"n": 1, "c": "ab", "note": "three"},
        {"n": 1, "c": "AB", "note": "ONE"},
        {"n": 1, "c": "AB", "note": "forbidden"},
        {"n": 2, "c": "CD", "note": "six"},
    ]});
    let (status, body) = api
        .post("/api/v1/tables/checked/records", Some(&token), &records)
        .await;
    assert_eq!(status, 200, "{body}");
    let rejected: Vec<(u64, Option<&str>, &str)> = body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["field"].as_str(),
                r["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        [
            (
                1,
                Some("n"),
                r#"new row for relation "checked" violates check constraint "checked_n_check""#
            ),
            (
                2,
                Some("c"),
                r#"value for domain code violates check constraint "code_check""#
            ),
            (
                3,
                None,
                r#"duplicate key value violates unique constraint "checked_note_folded" (Key (lower(note))=(one) already exists.)"#
            ),
            (4, None, "note is forbidden"),
        ],
        "{body}"
    );
    assert_eq!(body["inserted"], 2, "{body}");
    assert_eq!(
        api.db
            .value("SELECT string_agg(note, ',' ORDER BY id) FROM checked")
            .await,
        "one,six"
    );
    assert_eq!(body["ids"].as_array().unwrap().len(), 2, "{body}");
    assert_eq!(api.db.count("lakeshift_ingest_rejects").await, 4);
    api.stop().await;
}
