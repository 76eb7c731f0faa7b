//! The binary: `serve` over a real socket with a graceful stop on SIGTERM, its start-up
//! errors, `openapi` and `user hash`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lakeshift::api::auth::passwords::PasswordChecker;
use serde_json::{Value, json};

use super::{JsonBody, PASSWORD, USER, employees, hr_db, json_response, password_hash};
use crate::common::{lakeshift, stderr};

fn config_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("api.yaml");
    std::fs::write(
        &path,
        format!(
            "users:\n  - username: {USER}\n    password_hash: \"{}\"\n",
            password_hash()
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_finishes_requests_in_flight_on_sigterm() {
    let db = hr_db().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir);
    let (mut child, base) = spawn_serve(&db, &config).await;
    let http = reqwest::Client::new();
    let token = login(&http, &base).await;

    // Hold the table so the next batch stays in flight.
    let mut blocker = db.client().await;
    let hold = blocker.transaction().await.unwrap();
    hold.batch_execute("LOCK TABLE hired_employees IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let in_flight = tokio::spawn({
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move {
            let response = http
                .post(format!("{base}/api/v1/hired_employees"))
                .bearer_auth(token)
                .json_body(&json!({"records": employees("late", 25)}))
                .send()
                .await
                .unwrap();
            json_response(response).await
        }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "serve must wait for the request in flight"
    );
    hold.commit().await.unwrap();
    let (status, body) = in_flight.await.unwrap();
    assert_eq!((status, &body["inserted"]), (200, &json!(25)), "{body}");
    let exit = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert_eq!(db.count("hired_employees").await, 25);
}

/// `lakeshift serve` on a free port over `db`; the process and its base URL.
async fn spawn_serve(db: &crate::common::TestDb, config: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lakeshift"))
        .args(["serve", "--bind", "127.0.0.1:0", "--config"])
        .arg(config)
        .env("DATABASE_URL", db.url.expose())
        .env(
            "LAKESHIFT_JWT_SECRET",
            String::from_utf8(super::SECRET.to_vec()).unwrap(),
        )
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let address = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                log.read_line(&mut line).unwrap() > 0,
                "serve exited before listening"
            );
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let address = rest.split_whitespace().next().unwrap().to_string();
                // Keep draining the log so the server never blocks on a full pipe.
                std::thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));
                return address;
            }
        }
    })
    .await
    .unwrap();
    (child, format!("http://{address}"))
}

async fn login(http: &reqwest::Client, base: &str) -> String {
    let (status, body) = json_response(
        http.post(format!("{base}/api/v1/auth/token"))
            .json_body(&json!({"username": USER, "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_killed_mid_batch_and_retried_with_its_key_writes_each_batch_once() {
    let db = hr_db().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir);
    let http = reqwest::Client::new();
    // The first round kills the server while its transaction waits for a lock; the others
    // at moments spread over a 1000-record batch.
    for (round, delay_ms) in [0u64, 0, 3, 10, 25, 60].into_iter().enumerate() {
        let (mut child, base) = spawn_serve(&db, &config).await;
        let token = login(&http, &base).await;
        let mut blocker = db.client().await;
        let hold = blocker.transaction().await.unwrap();
        if round == 0 {
            hold.batch_execute("LOCK TABLE hired_employees IN ACCESS EXCLUSIVE MODE")
                .await
                .unwrap();
        }
        let key = format!("round-{round}");
        let batch = json!({"records": employees(&format!("round{round}"), 1000)});
        let send = |base: String, token: String| {
            let (http, key, batch) = (http.clone(), key.clone(), batch.clone());
            async move {
                http.post(format!("{base}/api/v1/hired_employees"))
                    .bearer_auth(token)
                    .header("idempotency-key", key)
                    .json_body(&batch)
                    .send()
                    .await
            }
        };
        let in_flight = tokio::spawn(send(base.clone(), token.clone()));
        tokio::time::sleep(Duration::from_millis(if round == 0 {
            500
        } else {
            delay_ms
        }))
        .await;
        child.kill().unwrap();
        child.wait().unwrap();
        hold.commit().await.unwrap();
        let _lost = in_flight.await.unwrap();
        let (mut child, base) = spawn_serve(&db, &config).await;
        let token = login(&http, &base).await;
        let (status, body) = json_response(send(base, token).await.unwrap()).await;
        assert_eq!(
            (status, &body["inserted"]),
            (200, &json!(1000)),
            "round {round}: {body}"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        let written = db
            .value(&format!(
                "SELECT count(*) || '/' || count(DISTINCT name) FROM hired_employees WHERE name LIKE 'round{round}-%'"
            ))
            .await;
        assert_eq!(written, "1000/1000", "round {round}");
    }
}

#[tokio::test]
async fn serve_refuses_to_start_without_a_good_secret_or_users() {
    let db = hr_db().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir);
    let config = config.to_str().unwrap();
    let run = |secret: Option<&str>, config: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lakeshift"));
        command
            .args(["serve", "--bind", "127.0.0.1:0", "--config", config])
            .env("DATABASE_URL", db.url.expose())
            .env_remove("LAKESHIFT_JWT_SECRET");
        if let Some(secret) = secret {
            command.env("LAKESHIFT_JWT_SECRET", secret);
        }
        command.output().unwrap()
    };
    let output = run(None, config);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("LAKESHIFT_JWT_SECRET is not set"),
        "{}",
        stderr(&output)
    );
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
    let output = run(Some("too short"), config);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("must be at least 32"),
        "{}",
        stderr(&output)
    );
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "users: []\n").unwrap();
    let output = run(Some(&"k".repeat(40)), empty.to_str().unwrap());
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("nobody could obtain a token"),
        "{}",
        stderr(&output)
    );
    // A taken address fails before the database is touched: no reject log appears.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_lakeshift"))
        .args(["serve", "--bind", &address, "--config", config])
        .env("DATABASE_URL", db.url.expose())
        .env("LAKESHIFT_JWT_SECRET", "k".repeat(40))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("cannot listen on"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        db.value("to_regclass('lakeshift_ingest_rejects')").await,
        ""
    );
    let output = run(Some(&"k".repeat(40)), "/nonexistent/api.yaml");
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("/nonexistent/api.yaml"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn openapi_prints_the_document_and_user_hash_makes_hashes() {
    let db = crate::common::TestDb::new().await;
    let output = lakeshift(&db.url, &["openapi"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/auth/token",
        "/api/v1/hired_employees",
        "/api/v1/tables/{table}/records",
        "/api/v1/tables",
        "/healthz",
        "/metrics",
    ] {
        assert!(
            document["paths"].get(path).is_some(),
            "{path} is not documented"
        );
    }
    let statuses: Vec<&String> = document["paths"]["/api/v1/hired_employees"]["post"]["responses"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        statuses,
        ["200", "401", "404", "413", "415", "422", "500", "503"]
    );

    let hash = |input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lakeshift"))
            .args(["user", "hash"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let output = hash("s3cret pass\n");
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = String::from_utf8(output.stdout).unwrap();
    let checker = PasswordChecker::new().unwrap();
    assert!(checker.verify(Some(printed.trim()), "s3cret pass"));
    assert!(!checker.verify(Some(printed.trim()), "s3cret pass\n"));
    let output = hash("\n");
    assert!(!output.status.success());
    assert!(stderr(&output).contains("empty"));
}
