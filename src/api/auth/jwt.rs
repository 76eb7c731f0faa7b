//! Access tokens: HS256 JWTs with `sub`, `iat`, `exp`, `iss` and `aud`, all required and
//! checked. The algorithm is fixed, so a token claiming `none` or any other algorithm fails.

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// `iss` of every token this server issues.
pub const ISSUER: &str = "lakeshift";
/// `aud`: the ingestion API.
pub const AUDIENCE: &str = "lakeshift-api";
/// Clock skew tolerated on `exp` and `iat`.
const LEEWAY_SECONDS: u64 = 5;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub iat: u64,
    pub exp: u64,
    pub iss: String,
    pub aud: String,
}

/// Why a token was refused; the text is what the client is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired; ask for a new one at /api/v1/auth/token")]
    Expired,
    #[error("the token's signature is not valid")]
    BadSignature,
    #[error("the token is not meant for this API (wrong audience)")]
    WrongAudience,
    #[error("the token was not issued by this server (wrong issuer)")]
    WrongIssuer,
    #[error("the token uses an algorithm other than HS256")]
    WrongAlgorithm,
    #[error("the token is issued in the future")]
    IssuedInFuture,
    #[error("the token lacks the claim {0}")]
    MissingClaim(String),
    #[error("the token's user is unknown")]
    UnknownUser,
    #[error("the token is malformed")]
    Malformed,
}

/// Signs and checks tokens with one secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl TokenKeys {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        validation.leeway = LEEWAY_SECONDS;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    /// How long an issued token lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A token for `user`, valid from now for the configured lifetime.
    pub fn issue(&self, user: &str) -> String {
        let now = jsonwebtoken::get_current_timestamp();
        self.sign(&Claims {
            sub: user.to_string(),
            iat: now,
            exp: now + self.ttl.as_secs(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        })
    }

    /// Sign arbitrary claims (tokens for tests and tools).
    pub fn sign(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HMAC signing of serialisable claims cannot fail")
    }

    /// Check a token's signature and claims.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    TokenError::WrongAlgorithm
                }
                ErrorKind::MissingRequiredClaim(claim) => TokenError::MissingClaim(claim.clone()),
                _ => TokenError::Malformed,
            })?;
        if data.claims.iat > jsonwebtoken::get_current_timestamp() + LEEWAY_SECONDS {
            return Err(TokenError::IssuedInFuture);
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(&[7u8; 32], Duration::from_secs(60))
    }

    fn claims(shift: i64) -> Claims {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        Claims {
            sub: "ingest".into(),
            iat: (now + shift) as u64,
            exp: (now + shift + 60) as u64,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        }
    }

    #[test]
    fn issued_tokens_verify() {
        let keys = keys();
        let claims = keys.verify(&keys.issue("ingest")).unwrap();
        assert_eq!(claims.sub, "ingest");
        assert_eq!(claims.exp - claims.iat, 60);
    }

    #[test]
    fn bad_tokens_say_why() {
        let keys = keys();
        assert_eq!(
            keys.verify(&keys.sign(&claims(-3600))),
            Err(TokenError::Expired)
        );
        assert_eq!(
            keys.verify(&keys.sign(&claims(3600))),
            Err(TokenError::IssuedInFuture)
        );
        let other = TokenKeys::new(&[8u8; 32], Duration::from_secs(60));
        assert_eq!(
            keys.verify(&other.issue("ingest")),
            Err(TokenError::BadSignature)
        );
        let mut wrong_aud = claims(0);
        wrong_aud.aud = "someone-else".into();
        assert_eq!(
            keys.verify(&keys.sign(&wrong_aud)),
            Err(TokenError::WrongAudience)
        );
        let mut wrong_iss = claims(0);
        wrong_iss.iss = "evil".into();
        assert_eq!(
            keys.verify(&keys.sign(&wrong_iss)),
            Err(TokenError::WrongIssuer)
        );
        assert_eq!(keys.verify("not.a.token"), Err(TokenError::Malformed));
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let body = b64.encode(serde_json::to_vec(&claims(0)).unwrap());
        let none = format!("{}.{body}.", b64.encode(br#"{"alg":"none","typ":"JWT"}"#));
        assert!(keys().verify(&none).is_err());
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims(0),
            &EncodingKey::from_secret(&[7u8; 32]),
        )
        .unwrap();
        assert_eq!(keys().verify(&hs512), Err(TokenError::WrongAlgorithm));
    }
}
