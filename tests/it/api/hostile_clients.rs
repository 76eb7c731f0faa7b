//! The service against careless and hostile clients and a database that changes under it:
//! bursts of guesses, invented methods, a locked table, explicit and exhausted ids, a
//! renamed column, a writer that panics (issue 14, findings 6 to 13).

use std::net::IpAddr;
use std::time::Duration;

use lakeshift::api::config::{MetricsAccess, ServeConfig};
use serde_json::{Value, json};

use super::{Api, JsonBody, PASSWORD, USER, config, hr_db, json_response};

/// A client whose connections come from `source` (any 127.0.0.0/8 address reaches the
/// server on 127.0.0.1), with a timeout so that a hang fails the test.
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn login_from(api: &Api, client: &reqwest::Client, password: &str) -> u16 {
    client
        .post(format!("{}/api/v1/auth/token", api.base))
        .json_body(&json!({"username": USER, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_burst_of_guesses_gets_five_password_checks_and_locks_out_no_one_elsewhere() {
    let api = Api::start().await;
    let attacker = client_from("127.0.0.9");
    let guesses = (0..60).map(|_| login_from(&api, &attacker, "wrong"));
    let statuses = futures::future::join_all(guesses).await;
    let count = |code| statuses.iter().filter(|&&s| s == code).count();
    assert_eq!((count(401), count(429)), (5, 55), "{statuses:?}");
    // The right password from the attacker's address waits too ...
    assert_eq!(login_from(&api, &attacker, PASSWORD).await, 429);
    // ... but the user, from anywhere else, gets in.
    assert_eq!(
        login_from(&api, &client_from("127.0.0.1"), PASSWORD).await,
        200
    );
    api.stop().await;
}

#[tokio::test]
async fn guessing_many_users_from_one_address_is_paused() {
    let api = Api::start().await;
    let sprayer = client_from("127.0.0.10");
    let mut statuses = Vec::new();
    for i in 0..25 {
        let status = sprayer
            .post(format!("{}/api/v1/auth/token", api.base))
            .json_body(&json!({"username": format!("user{i}"), "password": "x"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        statuses.push(status);
    }
    assert_eq!(&statuses[..20], &[401; 20], "{statuses:?}");
    assert_eq!(&statuses[20..], &[429; 5], "{statuses:?}");
    api.stop().await;
}

/// The lines of the metrics text.
async fn metrics_lines(api: &Api) -> usize {
    let (status, text) = api.get("/metrics", None).await;
    assert_eq!(status, 200, "{text}");
    text.lines().count()
}

#[tokio::test]
async fn invented_methods_and_paths_do_not_grow_the_metrics() {
    let api = Api::start().await;
    for i in 0..3 {
        let method = reqwest::Method::from_bytes(format!("WARMUP{i}").as_bytes()).unwrap();
        api.http
            .request(method, format!("{}/x", api.base))
            .send()
            .await
            .unwrap();
    }
    let before = metrics_lines(&api).await;
    for i in 0..300 {
        let method = reqwest::Method::from_bytes(format!("INVENTED{i}").as_bytes()).unwrap();
        let path = ["/", "/metrics", "/api/v1/jobs", "/nowhere"][i % 4];
        api.http
            .request(method, format!("{}{path}/{i}", api.base))
            .send()
            .await
            .unwrap();
    }
    let after = metrics_lines(&api).await;
    // The first request for /metrics made its own series (16 lines) just before.
    assert!(after <= before + 16, "{before} -> {after} lines");
    let (_, text) = api.get("/metrics", None).await;
    assert!(
        text.contains(r#"route="unmatched",method="other""#),
        "{text}"
    );
    assert!(!text.contains("INVENTED"), "{text}");
    api.stop().await;
}

#[tokio::test]
async fn metrics_can_require_the_token_or_live_on_an_address_of_their_own() {
    let guarded = ServeConfig {
        metrics: MetricsAccess {
            bind: None,
            require_token: true,
        },
        ..config()
    };
    let api = Api::start_with(hr_db().await, guarded).await;
    let (status, _) = api.get("/metrics", None).await;
    assert_eq!(status, 401);
    let (status, _) = api.get("/metrics", Some("not-a-token")).await;
    assert_eq!(status, 401);
    let token = api.token().await;
    let (status, text) = api.get("/metrics", Some(&token)).await;
    assert_eq!(status, 200);
    assert!(text.contains("lakeshift_http_requests_total"), "{text}");
    api.stop().await;

    let apart = ServeConfig {
        metrics: MetricsAccess {
            bind: Some("127.0.0.1:0".into()),
            require_token: false,
        },
        ..config()
    };
    let api = Api::start_with(hr_db().await, apart).await;
    let (status, _) = api.get("/metrics", None).await;
    assert_eq!(status, 404);
    let metrics = api.metrics_base.clone().expect("a metrics address");
    let response = api
        .http
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.text().await.unwrap().contains("# TYPE"));
    let other = api
        .http
        .get(format!("{metrics}/api/v1/tables"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status().as_u16(),
        404,
        "only /metrics is served there"
    );
    api.stop().await;
}

#[tokio::test]
async fn a_locked_table_is_a_503_with_retry_after_and_nothing_written() {
    let config = ServeConfig {
        lock_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(10),
        ..config()
    };
    let api = Api::start_with(hr_db().await, config).await;
    let token = api.token().await;
    let holder = api.db.client().await;
    holder
        .batch_execute("BEGIN; LOCK TABLE jobs IN SHARE MODE")
        .await
        .unwrap();
    let response = client_from("127.0.0.1")
        .post(format!("{}/api/v1/jobs", api.base))
        .header("authorization", format!("Bearer {token}"))
        .json_body(&json!({"records": [{"job": "waits"}]}))
        .send()
        .await
        .expect("answered before the client gives up");
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let (status, body) = json_response(response).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("table_busy")),
        "{body}"
    );
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert!(body["request_id"].is_string(), "{body}");
    holder.batch_execute("COMMIT").await.unwrap();
    assert_eq!(api.db.count("jobs").await, 20);
    let (status, body) = api
        .post(
            "/api/v1/jobs",
            Some(&token),
            &json!({"records": [{"job": "now"}]}),
        )
        .await;
    assert_eq!((status, body["ids"].clone()), (200, json!([21])), "{body}");
    api.stop().await;
}

fn reasons(body: &Value) -> Vec<(u64, String, String)> {
    body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["field"].as_str().unwrap_or("").to_string(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn explicit_ids_need_the_operators_consent_and_exhausted_ids_are_rejects() {
    let db = hr_db().await;
    db.execute("CREATE TABLE big (id int8 PRIMARY KEY, t text)")
        .await;
    let api = Api::start_with(db, config()).await;
    let token = api.token().await;
    let (status, body) = api
        .post(
            "/api/v1/tables/jobs/records",
            Some(&token),
            &json!({"records": [{"id": 2147483647, "job": "last"}, {"job": "fine"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ids"], json!([21]), "{body}");
    let rejected = reasons(&body);
    assert_eq!((rejected[0].0, rejected[0].1.as_str()), (0, "id"), "{body}");
    assert!(rejected[0].2.contains("assigned by the server"), "{body}");

    // Ids can still run out (another writer, a SQL session): each record is then a reject.
    api.db
        .execute(
            "INSERT INTO jobs VALUES (2147483647, 'max');
             INSERT INTO big VALUES (9223372036854775807, 'max')",
        )
        .await;
    for (path, record) in [
        ("/api/v1/jobs", json!({"job": "no room"})),
        ("/api/v1/tables/big/records", json!({"t": "no room"})),
    ] {
        let (status, body) = api
            .post(
                path,
                Some(&token),
                &json!({"records": [record.clone(), record]}),
            )
            .await;
        assert_eq!(
            (status, body["inserted"].as_u64()),
            (200, Some(0)),
            "{path}: {body}"
        );
        let rejected = reasons(&body);
        assert_eq!(rejected.len(), 2, "{body}");
        assert!(rejected[0].2.starts_with("no id left to assign"), "{body}");
    }
    assert_eq!(api.db.count("big").await, 1);
    api.stop().await;

    let allowed = ServeConfig {
        explicit_ids: vec!["public.jobs".into()],
        ..config()
    };
    let api = Api::start_with(hr_db().await, allowed).await;
    let token = api.token().await;
    let (status, body) = api
        .post(
            "/api/v1/tables/jobs/records",
            Some(&token),
            &json!({"records": [{"id": 500, "job": "chosen"}]}),
        )
        .await;
    assert_eq!((status, body["ids"].clone()), (200, json!([500])), "{body}");
    api.stop().await;
}

#[tokio::test]
async fn a_changed_table_is_seen_by_the_next_request_without_a_restart() {
    let api = Api::start().await;
    let token = api.token().await;
    let post = |record: Value| {
        let token = token.clone();
        let api = &api;
        async move {
            api.post(
                "/api/v1/tables/departments/records",
                Some(&token),
                &json!({ "records": [record] }),
            )
            .await
        }
    };
    let (status, body) = post(json!({"department": "before"})).await;
    assert_eq!(
        (status, body["inserted"].as_u64()),
        (200, Some(1)),
        "{body}"
    );
    api.db
        .execute("ALTER TABLE departments RENAME COLUMN department TO name")
        .await;
    let (status, body) = post(json!({"name": "after"})).await;
    assert_eq!(
        (status, body["inserted"].as_u64()),
        (200, Some(1)),
        "{body}"
    );
    let (status, body) = post(json!({"department": "old name"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        reasons(&body),
        [(
            0,
            "department".to_string(),
            "unknown field; the fields are name".to_string()
        )]
    );
    let (_, listed) = api.get("/api/v1/tables", Some(&token)).await;
    assert!(listed.contains(r#""name":"name""#), "{listed}");
    api.db
        .execute(
            "ALTER TABLE departments ADD COLUMN budget int NOT NULL DEFAULT 1 CHECK (budget > 0)",
        )
        .await;
    let (status, body) = post(json!({"name": "costly", "budget": 5})).await;
    assert_eq!(
        (status, body["inserted"].as_u64()),
        (200, Some(1)),
        "{body}"
    );
    let (status, body) = post(json!({"name": "free", "budget": 0})).await;
    assert_eq!(status, 200, "{body}");
    assert!(reasons(&body)[0].2.contains("check constraint"), "{body}");
    assert_eq!(
        api.db
            .value("SELECT string_agg(name, ',' ORDER BY id) FROM departments WHERE id > 12")
            .await,
        "before,after,costly"
    );
    api.stop().await;
}

#[tokio::test]
async fn a_panicking_writer_fails_its_request_and_the_table_goes_on() {
    let api = Api::start().await;
    let token = api.token().await;
    lakeshift::api::ingest::writer::panic_on_next_write("public.jobs");
    let response = api
        .http
        .post(format!("{}/api/v1/jobs", api.base))
        .header("authorization", format!("Bearer {token}"))
        .header("x-request-id", "panic-probe-1")
        .json_body(&json!({"records": [{"job": "lost"}]}))
        .send()
        .await
        .unwrap();
    let (status, body) = json_response(response).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("internal")),
        "{body}"
    );
    assert_eq!(body["request_id"], "panic-probe-1");
    assert!(
        !body["message"].as_str().unwrap().contains("panic"),
        "{body}"
    );
    let (status, body) = api
        .post(
            "/api/v1/jobs",
            Some(&token),
            &json!({"records": [{"job": "kept"}]}),
        )
        .await;
    assert_eq!((status, body["ids"].clone()), (200, json!([21])), "{body}");
    assert_eq!(api.db.count("jobs").await, 21);
    api.stop().await;
}

/// POST `records` to `/api/v1/jobs` with an Idempotency-Key; status, replay header, body.
async fn post_keyed(api: &Api, token: &str, key: &str, body: &Value) -> (u16, bool, Value) {
    let response = api
        .http
        .post(format!("{}/api/v1/jobs", api.base))
        .header("authorization", format!("Bearer {token}"))
        .header("idempotency-key", key)
        .json_body(body)
        .send()
        .await
        .unwrap();
    let replayed = response.headers().get("idempotent-replayed").is_some();
    let (status, body) = json_response(response).await;
    (status, replayed, body)
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_gets_the_first_answer_and_writes_nothing() {
    let config = ServeConfig {
        idempotency_ttl: Duration::from_secs(2),
        ..config()
    };
    let api = Api::start_with(hr_db().await, config).await;
    let token = api.token().await;
    let batch = json!({"records": [{"job": "once"}, {"job": null}, {"job": "twice?"}]});
    let (status, replayed, first) = post_keyed(&api, &token, "retry-1", &batch).await;
    assert_eq!((status, replayed), (200, false), "{first}");
    assert_eq!(first["ids"], json!([21, 22]), "{first}");
    // The same request again, spaced differently: the same answer, nothing written.
    let respaced: Value =
        serde_json::from_str(&serde_json::to_string_pretty(&batch).unwrap()).unwrap();
    let (status, replayed, again) = post_keyed(&api, &token, "retry-1", &respaced).await;
    assert_eq!((status, replayed), (200, true), "{again}");
    assert_eq!(again, first);
    assert_eq!(api.db.count("jobs").await, 22);
    // Another request under the same key is refused; so is a malformed key.
    let other = json!({"records": [{"job": "different"}]});
    let (status, _, body) = post_keyed(&api, &token, "retry-1", &other).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("idempotency_key_reused")),
        "{body}"
    );
    let (status, _, body) = post_keyed(&api, &token, "has space", &other).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("invalid_request")),
        "{body}"
    );
    assert_eq!(api.db.count("jobs").await, 22);
    // Concurrent retries of one new request: one writes, all get its answer.
    let burst = json!({"records": [{"job": "burst"}]});
    let answers =
        futures::future::join_all((0..8).map(|_| post_keyed(&api, &token, "burst-1", &burst)))
            .await;
    let written: Vec<&(u16, bool, Value)> = answers.iter().filter(|a| !a.1).collect();
    assert_eq!(written.len(), 1, "{answers:?}");
    for (status, _, body) in &answers {
        assert_eq!((*status, &body["ids"]), (200, &json!([23])), "{answers:?}");
    }
    assert_eq!(api.db.count("jobs").await, 23);
    // Past its lifetime a key is new again.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (status, replayed, late) = post_keyed(&api, &token, "retry-1", &other).await;
    assert_eq!(
        (status, replayed, late["ids"].clone()),
        (200, false, json!([24])),
        "{late}"
    );
    api.stop().await;
}
