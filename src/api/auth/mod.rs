//! Who may call the API: users and their password hashes from the config file, access
//! tokens (JWT) for them, and the throttle on repeated password failures.

pub mod jwt;
pub mod passwords;
pub mod throttle;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::api::config::UserEntry;
use crate::error::Result;
use jwt::{Claims, TokenError, TokenKeys};
use passwords::PasswordChecker;
use throttle::{ClientKey, LoginThrottle, Throttled};

/// Password checks running at once (argon2 is meant to be expensive: a flood of guesses
/// must not take every core).
const CONCURRENT_PASSWORD_CHECKS: usize = 2;

/// A successful login.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub expires_in: Duration,
}

/// Why a login was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
    /// Unknown user or wrong password (the client is not told which).
    BadCredentials,
    /// Too many failures for this user from this address, or from this address: try
    /// again after this long.
    Throttled(Duration),
}

/// Users, token keys and the login throttle of one server.
pub struct Authenticator {
    users: HashMap<String, String>,
    passwords: PasswordChecker,
    throttle: LoginThrottle,
    keys: TokenKeys,
    checks: Semaphore,
}

impl Authenticator {
    pub fn new(users: &[UserEntry], keys: TokenKeys) -> Result<Self> {
        Ok(Authenticator {
            users: users
                .iter()
                .map(|u| (u.username.clone(), u.password_hash.clone()))
                .collect(),
            passwords: PasswordChecker::new()?,
            throttle: LoginThrottle::default(),
            keys,
            checks: Semaphore::new(CONCURRENT_PASSWORD_CHECKS),
        })
    }

    /// Check a user's password, coming from `client`, and issue a token.
    pub async fn login(
        self: &Arc<Self>,
        username: &str,
        password: &str,
        client: ClientKey,
    ) -> Result<IssuedToken, LoginError> {
        let attempt = self
            .throttle
            .begin(username, client, Instant::now())
            .map_err(|Throttled(wait)| LoginError::Throttled(wait))?;
        let matches = {
            let _permit = self.checks.acquire().await.expect("semaphore never closed");
            let this = Arc::clone(self);
            let (username, password) = (username.to_string(), password.to_string());
            crate::blocking::spawn_blocking("checking a password", move || {
                Ok(this
                    .passwords
                    .verify(this.users.get(&username).map(String::as_str), &password))
            })
            .await
            .unwrap_or(false)
        };
        if !matches {
            return Err(LoginError::BadCredentials);
        }
        attempt.succeeded();
        Ok(IssuedToken {
            token: self.keys.issue(username),
            expires_in: self.keys.ttl(),
        })
    }

    /// The claims of a valid token whose user is still configured.
    pub fn check_token(&self, token: &str) -> Result<Claims, TokenError> {
        let claims = self.keys.verify(token)?;
        if !self.users.contains_key(&claims.sub) {
            return Err(TokenError::UnknownUser);
        }
        Ok(claims)
    }
}
