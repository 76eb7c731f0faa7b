//! The REST ingestion service against a real Postgres: in process (poem's test client)
//! and over a real socket (reqwest), plus the binary and schemathesis.

mod auth;
mod concurrency;
mod fuzz;
mod generic;
mod hostile_clients;
mod hr;
mod process;

use std::sync::OnceLock;

use lakeshift::api::Service;
use lakeshift::api::auth::passwords::hash_password;
use lakeshift::api::config::{ServeConfig, UserEntry};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::common::{TestDb, hr_schema};

pub const USER: &str = "ingest";
pub const PASSWORD: &str = "correct horse battery staple";
pub const SECRET: &[u8] = b"a test secret of at least thirty-two bytes";

/// One hash for every test (argon2 is slow on purpose).
pub fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(PASSWORD).unwrap())
}

pub fn config() -> ServeConfig {
    ServeConfig {
        users: vec![UserEntry {
            username: USER.into(),
            password_hash: password_hash().into(),
        }],
        ..ServeConfig::default()
    }
}

/// The HR schema with 12 departments and 20 jobs.
pub async fn hr_db() -> TestDb {
    let db = TestDb::new().await;
    hr_schema(&db).await;
    db.execute(
        "INSERT INTO departments SELECT g, 'Department ' || g FROM generate_series(1, 12) g;
         INSERT INTO jobs SELECT g, 'Job ' || g FROM generate_series(1, 20) g;",
    )
    .await;
    db
}

/// A running service on 127.0.0.1 (a free port) over a test database.
pub struct Api {
    pub db: TestDb,
    pub base: String,
    /// The separate metrics address, when configured.
    pub metrics_base: Option<String>,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<lakeshift::Result<()>>>,
}

impl Api {
    /// The service over the HR database.
    pub async fn start() -> Api {
        Api::start_with(hr_db().await, config()).await
    }

    pub async fn start_with(db: TestDb, config: ServeConfig) -> Api {
        let service = Service::start(&db.url, "127.0.0.1:0", &config, SECRET)
            .await
            .expect("the service starts");
        let base = format!("http://{}", service.address());
        let metrics_base = service.metrics_address().map(|a| format!("http://{a}"));
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(service.run(async {
            let _ = stopped.await;
        }));
        Api {
            db,
            base,
            metrics_base,
            http: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Ask for a token; the status and the JSON body.
    pub async fn login(&self, username: &str, password: &str) -> (u16, Value) {
        let credentials = json!({"username": username, "password": password});
        self.post("/api/v1/auth/token", None, &credentials).await
    }

    /// A token for the test user.
    pub async fn token(&self) -> String {
        let (status, body) = self.login(USER, PASSWORD).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// POST JSON with an optional bearer token; the status and the JSON body.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        self.send_raw(
            path,
            token,
            "application/json",
            serde_json::to_vec(body).unwrap(),
        )
        .await
    }

    pub async fn send_raw(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send().await.expect("the server answers");
        json_response(response).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Stop the server gracefully and wait for it.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

/// `.json_body(&value)`: a JSON request body (reqwest's `json` feature would rebuild the
/// dependency tree with other features).
pub trait JsonBody {
    fn json_body(self, body: &Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(serde_json::to_vec(body).unwrap())
    }
}

/// The status and JSON body of a response (the body must be JSON).
pub async fn json_response(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {text}"));
    (status, body)
}

/// `n` valid hired_employees records named `{prefix}-{i}`.
pub fn employees(prefix: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "name": format!("{prefix}-{i}"),
                "datetime": "2021-07-27T16:02:08Z",
                "department_id": 1 + i % 12,
                "job_id": 1 + i % 20,
            })
        })
        .collect()
}
