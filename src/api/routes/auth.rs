//! `POST /api/v1/auth/token` and the bearer security scheme every data endpoint requires.

use std::sync::Arc;

use poem::Request;
use poem::http::StatusCode;
use poem_openapi::auth::Bearer;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, SecurityScheme};

use super::responses::{EarlyError, ErrorBody, early_error};
use super::{ApiTags, State};
use crate::api::auth::LoginError;
use crate::api::auth::throttle::ClientKey;

/// Bearer token from `POST /api/v1/auth/token` (an HS256 JWT).
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_token")]
pub struct BearerAuth(pub String);

async fn check_token(req: &Request, bearer: Bearer) -> poem::Result<String> {
    let state = req.data::<Arc<State>>().expect("the app carries its state");
    state
        .auth
        .check_token(&bearer.token)
        .map(|claims| claims.sub)
        .map_err(|e| poem::Error::from_string(e.to_string(), StatusCode::UNAUTHORIZED))
}

/// A user's credentials.
#[derive(Debug, Object)]
pub struct TokenRequest {
    #[oai(validator(min_length = 1, max_length = 256))]
    pub username: String,
    #[oai(validator(max_length = 1024))]
    pub password: String,
}

/// An access token.
#[derive(Debug, Object)]
pub struct TokenBody {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "token_bad_request")]
pub enum TokenResponse {
    /// The token.
    #[oai(status = 200)]
    Ok(Json<TokenBody>),
    /// Unknown user or wrong password.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The body is larger than the server accepts.
    #[oai(status = 413)]
    TooLarge(Json<ErrorBody>),
    /// The body is not JSON.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// The body is not `{"username": ..., "password": ...}`.
    #[oai(status = 422)]
    Invalid(Json<ErrorBody>),
    /// Too many failed attempts for this user from this address, or from this address:
    /// retry after `Retry-After` seconds.
    #[oai(status = 429)]
    TooManyAttempts(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
}

fn token_bad_request(err: poem::Error) -> TokenResponse {
    match early_error(err) {
        EarlyError::Unauthorized(body) => TokenResponse::Unauthorized(body),
        EarlyError::TooLarge(body) => TokenResponse::TooLarge(body),
        EarlyError::UnsupportedMediaType(body) => TokenResponse::UnsupportedMediaType(body),
        EarlyError::Invalid(body) => TokenResponse::Invalid(body),
    }
}

pub struct AuthApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Auth")]
impl AuthApi {
    /// Exchange a username and password for an access token.
    ///
    /// Repeated failures for one user from one address, or from one address whatever the
    /// users, are answered 429 for a growing while.
    #[oai(path = "/auth/token", method = "post", operation_id = "auth_token")]
    async fn token(
        &self,
        state: poem::web::Data<&Arc<State>>,
        client: poem::web::Data<&ClientKey>,
        body: Json<TokenRequest>,
    ) -> TokenResponse {
        match state
            .auth
            .login(&body.username, &body.password, **client)
            .await
        {
            Ok(issued) => TokenResponse::Ok(Json(TokenBody {
                access_token: issued.token,
                token_type: "bearer".into(),
                expires_in: issued.expires_in.as_secs(),
            })),
            Err(LoginError::BadCredentials) => {
                tracing::info!(user = %body.username, "login failed");
                TokenResponse::Unauthorized(ErrorBody::new(
                    "unauthorized",
                    "unknown user or wrong password",
                ))
            }
            Err(LoginError::Throttled(wait)) => {
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                TokenResponse::TooManyAttempts(
                    ErrorBody::new(
                        "too_many_attempts",
                        format!("too many failed logins; retry in {seconds} s"),
                    ),
                    seconds,
                )
            }
        }
    }
}
