//! Response bodies shared by the endpoints, and how errors raised before a handler runs
//! (a bad token, a body that does not parse) become documented JSON responses.

use poem::http::StatusCode;
use poem_openapi::Object;
use poem_openapi::payload::Json;

/// Every error response: a short code and a message for people.
#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    /// `unauthorized`, `invalid_request`, `unknown_table`, `too_many_attempts`, ...
    pub error: String,
    pub message: String,
    /// The request's id, under which the server logged what the message leaves out.
    #[oai(skip_serializing_if_is_none)]
    pub request_id: Option<String>,
}

impl ErrorBody {
    pub fn new(error: &str, message: impl Into<String>) -> Json<ErrorBody> {
        Json(ErrorBody {
            error: error.into(),
            message: message.into(),
            request_id: None,
        })
    }

    /// An error whose details went to the log under `request_id`.
    pub fn logged(error: &str, message: impl Into<String>, request_id: &str) -> Json<ErrorBody> {
        let mut body = Self::new(error, message);
        body.0.request_id = Some(request_id.to_string());
        body
    }
}

/// The kinds of failure raised by poem-openapi before a handler runs.
pub enum EarlyError {
    Unauthorized(Json<ErrorBody>),
    TooLarge(Json<ErrorBody>),
    UnsupportedMediaType(Json<ErrorBody>),
    Invalid(Json<ErrorBody>),
}

/// Sort an extractor error (security scheme, body parsing) by its status.
pub fn early_error(err: poem::Error) -> EarlyError {
    let message = err.to_string();
    match err.status() {
        StatusCode::UNAUTHORIZED => {
            let message = if message.is_empty() || message == "authorization error" {
                "missing or malformed Authorization header: send `Authorization: Bearer <token>` \
                 with a token from POST /api/v1/auth/token"
                    .to_string()
            } else {
                message
            };
            EarlyError::Unauthorized(ErrorBody::new("unauthorized", message))
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            EarlyError::TooLarge(ErrorBody::new("payload_too_large", message))
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => EarlyError::UnsupportedMediaType(ErrorBody::new(
            "unsupported_media_type",
            format!("{message}; send Content-Type: application/json"),
        )),
        _ => EarlyError::Invalid(ErrorBody::new("invalid_request", invalid_body(&message))),
    }
}

/// poem-openapi's `parse request payload error: failed to parse "Type": reason` as
/// `invalid request body: reason` (the type name means nothing to a client).
fn invalid_body(message: &str) -> String {
    let reason = message
        .strip_prefix("parse request payload error: ")
        .map(|rest| match rest.strip_prefix("failed to parse \"") {
            Some(tail) => tail.split_once("\": ").map_or(rest, |(_, reason)| reason),
            None => rest,
        });
    match reason {
        Some(reason) => format!("invalid request body: {reason}"),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_errors_lose_the_type_name() {
        assert_eq!(
            invalid_body(
                r#"parse request payload error: failed to parse "IngestBody_X": "records" is missing"#
            ),
            r#"invalid request body: "records" is missing"#
        );
        assert_eq!(
            invalid_body("parse request payload error: expected value at line 1 column 1"),
            "invalid request body: expected value at line 1 column 1"
        );
        assert_eq!(invalid_body("something else"), "something else");
    }
}
