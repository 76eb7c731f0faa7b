//! schemathesis (from PyPI, installed by scripts/python-env.sh) fuzzes every documented
//! operation from the OpenAPI document against the running server: no 5xx, and every
//! status, content type and body as documented.

use std::process::Command;

use super::Api;

const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";

/// Run `st run` against `api` with `args`; its output, after asserting it succeeded.
async fn schemathesis(api: &Api, args: Vec<String>) -> String {
    let python = std::env::var("LAKESHIFT_PYTHON")
        .expect("LAKESHIFT_PYTHON must name a Python with schemathesis (scripts/test.sh sets it)");
    let st = std::path::Path::new(&python).with_file_name("st");
    // The generic endpoint is fuzzed against a real table (random names would all be 404).
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        "[parameters]\n\"path.table\" = \"public.hired_employees\"\n",
    )
    .unwrap();
    let schema = format!("{}/api/v1/openapi.json", api.base);
    let base = api.base.clone();
    let output = tokio::task::spawn_blocking(move || {
        let output = Command::new(&st)
            .arg("--config-file")
            .arg(&config)
            .args([
                "run",
                &schema,
                "--url",
                &base,
                "--checks",
                CHECKS,
                "--workers",
                "2",
            ])
            .args(args)
            .env("NO_COLOR", "1")
            // schemathesis keeps a cache directory where it runs: not in the checkout.
            .current_dir(dir.path())
            .output()
            .expect("run schemathesis");
        drop(dir);
        output
    })
    .await
    .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "schemathesis failed:\n{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_errors_or_undocumented_responses() {
    // Generated cases carry the documented Idempotency-Key header (or leave it out).
    let document = lakeshift::api::openapi_json();
    assert_eq!(document.matches("\"Idempotency-Key\"").count(), 4);
    let api = Api::start().await;
    let token = api.token().await;
    let text = schemathesis(
        &api,
        vec![
            "--header".into(),
            format!("Authorization: Bearer {token}"),
            "--exclude-operation-id".into(),
            "auth_token".into(),
            // Not the coverage phase: schemathesis 4.32 fails inside its own generator
            // (hypothesis FlakyFailure) on the hired_employees body before sending anything.
            "--phases".into(),
            "examples,fuzzing".into(),
            "--max-time".into(),
            "45".into(),
        ],
    )
    .await;
    assert!(text.contains("Tested: 7"), "{text}");
    assert!(
        !text.contains("returned 404"),
        "the generic endpoint was not reached:\n{text}"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_on_the_token_endpoint() {
    let api = Api::start().await;
    // Four workers: logins race each other and the throttle (429 is documented).
    let args = [
        "--include-operation-id",
        "auth_token",
        "--max-time",
        "30",
        "--workers",
        "4",
    ];
    let text = schemathesis(&api, args.map(String::from).to_vec()).await;
    assert!(text.contains("Tested: 1"), "{text}");
    api.stop().await;
}
