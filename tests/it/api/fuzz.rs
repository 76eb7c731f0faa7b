//! schemathesis (from PyPI, installed by scripts/python-env.sh) fuzzes every documented
//! operation from the OpenAPI document against the running server: no 5xx, and every
//! status, content type and body as documented.

use std::process::Command;

use super::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_errors_or_undocumented_responses() {
    let python = std::env::var("LAKESHIFT_PYTHON")
        .expect("LAKESHIFT_PYTHON must name a Python with schemathesis (scripts/test.sh sets it)");
    let st = std::path::Path::new(&python).with_file_name("st");
    let api = Api::start().await;
    let token = api.token().await;
    let schema = format!("{}/api/v1/openapi.json", api.base);
    let base = api.base.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&st)
            .args(["run", &schema, "--url", &base])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            ])
            // Not the coverage phase: schemathesis 4.32 fails inside its own generator
            // (hypothesis FlakyFailure) on the hired_employees body before sending anything.
            .args(["--phases", "examples,fuzzing", "--max-time", "45", "--workers", "2"])
            .args(["--exclude-operation-id", "auth_token"])
            .env("NO_COLOR", "1")
            // schemathesis keeps a cache directory where it runs: not in the checkout.
            .current_dir(std::env::temp_dir())
            .output()
            .expect("run schemathesis")
    })
    .await
    .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "schemathesis failed:\n{text}");
    assert!(
        text.contains("ingest_hired_employees") || text.contains("/api/v1/hired_employees"),
        "{text}"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_on_the_token_endpoint() {
    let python = std::env::var("LAKESHIFT_PYTHON").expect("LAKESHIFT_PYTHON");
    let st = std::path::Path::new(&python).with_file_name("st");
    let api = Api::start().await;
    let schema = format!("{}/api/v1/openapi.json", api.base);
    let base = api.base.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&st)
            .args(["run", &schema, "--url", &base, "--include-operation-id", "auth_token"])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            ])
            .args(["--max-time", "30", "--workers", "2"])
            .env("NO_COLOR", "1")
            // schemathesis keeps a cache directory where it runs: not in the checkout.
            .current_dir(std::env::temp_dir())
            .output()
            .expect("run schemathesis")
    })
    .await
    .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "schemathesis failed:\n{text}");
    api.stop().await;
}
