//! The HR endpoints: record rules, ids, defaults, rejects and their log.

use serde_json::{Value, json};

use super::{Api, JsonBody, employees};

#[tokio::test]
async fn one_and_a_thousand_records_are_inserted_with_ids_after_the_last() {
    let api = Api::start().await;
    api.db
        .execute("INSERT INTO hired_employees VALUES (100, 'Earlier', '2020-01-01', 1, 1)")
        .await;
    let token = api.token().await;
    let (status, body) = api
        .post(
            "/api/v1/hired_employees",
            Some(&token),
            &json!({"records": employees("one", 1)}),
        )
        .await;
    assert_eq!((status, &body["ids"]), (200, &json!([101])), "{body}");
    let (status, body) = api
        .post(
            "/api/v1/hired_employees",
            Some(&token),
            &json!({"records": employees("k", 1000)}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["inserted"], 1000);
    let ids: Vec<i64> = body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(ids, (102..1102).collect::<Vec<_>>());
    assert_eq!(body["rejected"], json!([]));
    assert_eq!(api.db.count("hired_employees").await, 1002);
    // Record order is id order.
    assert_eq!(
        api.db
            .value("SELECT name FROM hired_employees WHERE id = 102")
            .await,
        "k-0"
    );
    assert_eq!(
        api.db
            .value("SELECT name FROM hired_employees WHERE id = 1101")
            .await,
        "k-999"
    );
    let (status, body) = api
        .post(
            "/api/v1/departments",
            Some(&token),
            &json!({"records": [{"department": "Research"}]}),
        )
        .await;
    assert_eq!((status, &body["ids"]), (200, &json!([13])), "{body}");
    let (status, body) = api
        .post(
            "/api/v1/jobs",
            Some(&token),
            &json!({"records": [{"job": "Pilot"}, {"job": "Cook"}]}),
        )
        .await;
    assert_eq!((status, &body["ids"]), (200, &json!([21, 22])), "{body}");
    api.stop().await;
}

#[tokio::test]
async fn zero_or_more_than_a_thousand_records_write_nothing() {
    let api = Api::start().await;
    let token = api.token().await;
    for n in [0, 1001] {
        let (status, body) = api
            .post(
                "/api/v1/hired_employees",
                Some(&token),
                &json!({"records": employees("x", n)}),
            )
            .await;
        assert_eq!(status, 422, "{n}: {body}");
        assert_eq!(body["error"], "invalid_request");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains(&format!("holds {n} records")),
            "{body}"
        );
    }
    for body in [
        json!({}),
        json!({"records": {}}),
        json!([]),
        json!({"records": [], "extra": 1}),
    ] {
        let (status, answer) = api.post("/api/v1/jobs", Some(&token), &body).await;
        assert_eq!(status, 422, "{body}: {answer}");
    }
    assert_eq!(api.db.count("hired_employees").await, 0);
    assert_eq!(api.db.count("jobs").await, 20);
    api.stop().await;
}

#[tokio::test]
async fn a_missing_or_null_datetime_is_now_and_offsets_become_utc() {
    let api = Api::start().await;
    let token = api.token().await;
    let records = json!({"records": [
        {"name": "absent", "department_id": 1, "job_id": 1},
        {"name": "null", "datetime": null, "department_id": 1, "job_id": 1},
        {"name": "offset", "datetime": "2021-03-01T10:00:00+02:00", "department_id": 1, "job_id": 1},
        {"name": "naive", "datetime": "2021-03-01 10:00:00", "department_id": 1, "job_id": 1},
    ]});
    let (status, body) = api
        .post("/api/v1/hired_employees", Some(&token), &records)
        .await;
    assert_eq!((status, &body["inserted"]), (200, &json!(4)), "{body}");
    let recent = "SELECT count(*) FROM hired_employees WHERE name IN ('absent', 'null')
                  AND abs(extract(epoch FROM datetime - (now() AT TIME ZONE 'UTC'))) < 120";
    assert_eq!(api.db.value(recent).await, "2");
    assert_eq!(
        api.db
            .value("SELECT datetime FROM hired_employees WHERE name = 'offset'")
            .await,
        "2021-03-01 08:00:00"
    );
    assert_eq!(
        api.db
            .value("SELECT datetime FROM hired_employees WHERE name = 'naive'")
            .await,
        "2021-03-01 10:00:00"
    );
    api.stop().await;
}

#[tokio::test]
async fn bad_records_are_rejected_one_by_one_and_logged() {
    let api = Api::start().await;
    let token = api.token().await;
    let long = "n".repeat(256);
    let wide = "ü".repeat(255); // 255 characters, 510 bytes: fits varchar(255)
    let records = json!([
        {"name": "good", "department_id": 2, "job_id": 3},
        {"name": "unknown department", "department_id": 99, "job_id": 3},
        {"name": long, "department_id": 2, "job_id": 3},
        {"name": wide, "department_id": 2, "job_id": 3},
        {"department_id": 2, "job_id": 3},
        {"name": null, "department_id": 2, "job_id": 3},
        {"name": "bad type", "department_id": "two", "job_id": 3},
        {"name": "bad date", "datetime": "27/07/2021", "department_id": 2, "job_id": 3},
        {"name": "extra", "department_id": 2, "job_id": 3, "salary": 1},
        {"name": "with id", "id": 5, "department_id": 2, "job_id": 3},
        {"name": "unknown job", "department_id": 2, "job_id": 21},
        {"name": "fraction", "department_id": 2.5, "job_id": 3},
        {"name": "huge", "department_id": 2147483648_i64, "job_id": 3},
        {"name": "nul\u{0}", "department_id": 2, "job_id": 3},
        "not an object",
    ]);
    let response = api
        .http
        .post(format!("{}/api/v1/hired_employees", api.base))
        .bearer_auth(&token)
        .header("x-request-id", "test-request-1")
        .json_body(&json!({"records": records}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "test-request-1");
    let (status, body) = super::json_response(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["inserted"], 2);
    assert_eq!(body["ids"], json!([1, 2]));
    let rejected: Vec<(u64, Value, String)> = body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["field"].clone(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = [
        (
            1,
            "department_id",
            "department_id 99 does not exist in departments",
        ),
        (
            2,
            "name",
            "value too long: 256 characters, the column allows 255",
        ),
        (4, "name", "required field is missing"),
        (5, "name", "must not be null"),
        (6, "department_id", "expected an integer, got a string"),
        (7, "datetime", "expected ISO-8601"),
        (8, "salary", "unknown field"),
        (9, "id", "ids are assigned by the server"),
        (10, "job_id", "job_id 21 does not exist in jobs"),
        (11, "department_id", "expected an integer, got a number"),
        (12, "department_id", "out of range for integer"),
        (13, "name", "NUL"),
    ];
    assert_eq!(rejected.len(), expect.len() + 1, "{body}");
    for ((index, field, reason), (want_index, want_field, want_reason)) in
        rejected.iter().zip(expect)
    {
        assert_eq!(
            (*index, field.as_str().unwrap()),
            (want_index, want_field),
            "{body}"
        );
        assert!(
            reason.contains(want_reason),
            "{index}: {reason} lacks {want_reason}"
        );
    }
    assert_eq!(rejected[12].0, 14);
    assert_eq!(rejected[12].1, Value::Null);
    // Nothing bad loaded, nothing good lost.
    assert_eq!(
        api.db
            .value("SELECT string_agg(left(name, 4), ',' ORDER BY id) FROM hired_employees")
            .await,
        "good,üüüü"
    );
    // Every reject is in the log with its request, user, table and record.
    assert_eq!(api.db.count("lakeshift_ingest_rejects").await, 13);
    let logged = api
        .db
        .value(
            "SELECT request_id || '|' || username || '|' || table_name || '|' || field || '|' || (record->>'department_id')
             FROM lakeshift_ingest_rejects WHERE record_index = 1",
        )
        .await;
    assert_eq!(
        logged,
        "test-request-1|ingest|public.hired_employees|department_id|99"
    );
    assert_eq!(
        api.db
            .value("SELECT record #>> '{}' FROM lakeshift_ingest_rejects WHERE record_index = 14")
            .await,
        "not an object"
    );
    api.stop().await;
}

#[tokio::test]
async fn a_request_of_only_bad_records_is_answered_200_with_nothing_inserted() {
    let api = Api::start().await;
    let token = api.token().await;
    let (status, body) = api
        .post(
            "/api/v1/jobs",
            Some(&token),
            &json!({"records": [{"job": 7}, {}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["inserted"].as_u64(), body["ids"].clone()),
        (Some(0), json!([]))
    );
    assert_eq!(body["rejected"].as_array().unwrap().len(), 2);
    assert_eq!(api.db.count("jobs").await, 20);
    api.stop().await;
}

#[tokio::test]
async fn malformed_bodies_get_clear_json_errors() {
    let mut config = super::config();
    config.max_body_bytes = 4096;
    let api = Api::start_with(super::hr_db().await, config).await;
    let token = api.token().await;
    let (status, body) = api
        .send_raw(
            "/api/v1/jobs",
            Some(&token),
            "application/json",
            b"{\"records\": [".to_vec(),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid request body: EOF"),
        "{body}"
    );
    let (status, body) = api
        .send_raw(
            "/api/v1/jobs",
            Some(&token),
            "text/plain",
            b"job=x".to_vec(),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (415, Some("unsupported_media_type")),
        "{body}"
    );
    let big = json!({"records": [{"job": "x".repeat(5000)}]});
    let (status, body) = api.post("/api/v1/jobs", Some(&token), &big).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("payload_too_large")),
        "{body}"
    );
    let (status, body) = api.post("/api/v1/nowhere", Some(&token), &json!({})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    assert_eq!(api.db.count("jobs").await, 20);
    api.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_rows_and_rejects() {
    let api = Api::start().await;
    let token = api.token().await;
    let records = json!({"records": [{"job": "A"}, {"job": null}]});
    let (status, _) = api.post("/api/v1/jobs", Some(&token), &records).await;
    assert_eq!(status, 200);
    let (status, _) = api.post("/api/v1/jobs", None, &records).await;
    assert_eq!(status, 401);
    let (status, text) = api.get("/metrics", None).await;
    assert_eq!(status, 200);
    for line in [
        r#"lakeshift_http_requests_total{route="ingest_jobs",method="POST",status="200"} 1"#,
        r#"lakeshift_http_requests_total{route="ingest_jobs",method="POST",status="401"} 1"#,
        r#"lakeshift_http_requests_total{route="auth_token",method="POST",status="200"} 1"#,
        r#"lakeshift_ingest_rows_inserted_total{table="public.jobs"} 1"#,
        r#"lakeshift_ingest_records_rejected_total{table="public.jobs"} 1"#,
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    assert!(text.contains(r#"lakeshift_http_request_duration_seconds_count{route="ingest_jobs",method="POST",status="200"} 1"#));
    let (status, health) = api.get("/healthz", None).await;
    assert_eq!((status, health.as_str()), (200, r#"{"status":"ok"}"#));
    api.stop().await;
}
