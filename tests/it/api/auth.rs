//! Tokens: issued for the right password only, throttled after repeated failures, and
//! every kind of bad token refused with a JSON 401.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lakeshift::api::auth::jwt::{AUDIENCE, Claims, ISSUER, TokenKeys};
use poem::test::TestClient;
use serde_json::json;

use super::{Api, JsonBody, PASSWORD, SECRET, USER};

fn claims(user: &str, iat_shift: i64, ttl: i64) -> Claims {
    let now = jsonwebtoken::get_current_timestamp() as i64;
    Claims {
        sub: user.into(),
        iat: (now + iat_shift) as u64,
        exp: (now + iat_shift + ttl) as u64,
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
    }
}

#[tokio::test]
async fn the_right_password_gets_a_working_token() {
    let api = Api::start().await;
    let (status, body) = api.login(USER, PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap();
    let keys = TokenKeys::new(SECRET, Duration::from_secs(3600));
    let claims = keys.verify(token).unwrap();
    assert_eq!(
        (
            claims.sub.as_str(),
            claims.iss.as_str(),
            claims.aud.as_str()
        ),
        (USER, ISSUER, AUDIENCE)
    );
    let (status, _) = api.get("/api/v1/tables", Some(token)).await;
    assert_eq!(status, 200);
    api.stop().await;
}

#[tokio::test]
async fn wrong_passwords_are_refused_then_throttled() {
    let api = Api::start().await;
    for (user, password) in [(USER, "wrong"), ("nobody", PASSWORD)] {
        let (status, body) = api.login(user, password).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["message"], "unknown user or wrong password");
    }
    for _ in 0..4 {
        let (status, _) = api.login(USER, "wrong").await;
        assert_eq!(status, 401);
    }
    // Five failures in a row: even the right password waits now.
    let response = api
        .http
        .post(format!("{}/api/v1/auth/token", api.base))
        .json_body(&json!({"username": USER, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let (status, body) = super::json_response(response).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("too_many_attempts")),
        "{body}"
    );
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    api.token().await;
    let (status, body) = api
        .post("/api/v1/auth/token", None, &json!({"username": USER}))
        .await;
    assert_eq!(status, 422, "{body}");
    api.stop().await;
}

#[tokio::test]
async fn every_kind_of_bad_token_is_refused_with_a_json_401() {
    let api = Api::start().await;
    let keys = TokenKeys::new(SECRET, Duration::from_secs(3600));
    let other = TokenKeys::new(
        b"another secret of thirty-two bytes or more",
        Duration::from_secs(60),
    );
    let mut wrong_audience = claims(USER, 0, 60);
    wrong_audience.aud = "other-api".into();
    let mut wrong_issuer = claims(USER, 0, 60);
    wrong_issuer.iss = "someone".into();
    let b64 = |bytes: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    let body = b64(&serde_json::to_vec(&claims(USER, 0, 60)).unwrap());
    let alg_none = format!("{}.{body}.", b64(br#"{"alg":"none","typ":"JWT"}"#));
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &claims(USER, 0, 60),
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("missing", None, "missing or malformed Authorization header"),
        (
            "not bearer",
            Some(format!("Basic {}", b64(b"ingest:pw"))),
            "missing or malformed",
        ),
        ("garbage", Some("Bearer not-a-jwt".into()), "malformed"),
        (
            "expired",
            Some(format!("Bearer {}", keys.sign(&claims(USER, -7200, 60)))),
            "expired",
        ),
        (
            "wrong signature",
            Some(format!("Bearer {}", other.issue(USER))),
            "signature",
        ),
        (
            "wrong audience",
            Some(format!("Bearer {}", keys.sign(&wrong_audience))),
            "audience",
        ),
        (
            "wrong issuer",
            Some(format!("Bearer {}", keys.sign(&wrong_issuer))),
            "issuer",
        ),
        ("alg none", Some(format!("Bearer {alg_none}")), "token"),
        ("HS512", Some(format!("Bearer {hs512}")), "algorithm"),
        (
            "unknown user",
            Some(format!("Bearer {}", keys.issue("mallory"))),
            "user is unknown",
        ),
        (
            "issued in the future",
            Some(format!("Bearer {}", keys.sign(&claims(USER, 3600, 60)))),
            "future",
        ),
    ];
    for (case, header, reason) in cases {
        let mut request = api
            .http
            .post(format!("{}/api/v1/jobs", api.base))
            .json_body(&json!({"records": [{"job": "x"}]}));
        if let Some(header) = header {
            request = request.header("authorization", header);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{case}");
        let (status, body) = super::json_response(response).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("unauthorized")),
            "{case}: {body}"
        );
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains(reason),
            "{case}: {message:?} lacks {reason:?}"
        );
    }
    assert_eq!(api.db.count("jobs").await, 20);
    api.stop().await;
}

#[tokio::test]
async fn in_process_the_same_rules_hold() {
    let db = super::hr_db().await;
    let service = lakeshift::api::Service::start(&db.url, "127.0.0.1:0", &super::config(), SECRET)
        .await
        .unwrap();
    let client = TestClient::new(service.endpoint());
    let response = client
        .post("/api/v1/hired_employees")
        .body_json(&json!({"records": super::employees("p", 3)}))
        .send()
        .await;
    response.assert_status(poem::http::StatusCode::UNAUTHORIZED);
    let response = client
        .post("/api/v1/auth/token")
        .body_json(&json!({"username": USER, "password": PASSWORD}))
        .send()
        .await;
    response.assert_status_is_ok();
    let token: serde_json::Value = response.json().await.value().deserialize();
    let token = token["access_token"].as_str().unwrap().to_string();
    let response = client
        .post("/api/v1/hired_employees")
        .header("authorization", format!("Bearer {token}"))
        .body_json(&json!({"records": super::employees("p", 3)}))
        .send()
        .await;
    response.assert_status_is_ok();
    response
        .assert_json(json!({"inserted": 3, "ids": [1, 2, 3], "rejected": []}))
        .await;
    assert_eq!(db.count("hired_employees").await, 3);
}
