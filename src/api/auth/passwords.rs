//! Password hashes (argon2id, PHC strings) and their checks. Verification costs the same
//! whether or not the user exists, so response times do not reveal user names.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::error::{Error, Result};

/// An argon2id hash of `password` with a fresh random salt, in PHC form.
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| Error::Invalid(format!("cannot draw a random salt: {e}")))?;
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| Error::Invalid(format!("cannot encode the salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| Error::Invalid(format!("cannot hash the password: {e}")))
}

/// Checks passwords against configured hashes; unknown users are checked against a decoy
/// hash with the same parameters, so they take as long to refuse.
pub struct PasswordChecker {
    decoy: String,
}

impl PasswordChecker {
    pub fn new() -> Result<Self> {
        Ok(PasswordChecker {
            decoy: hash_password("lakeshift decoy password")?,
        })
    }

    /// Whether `password` matches `hash` (`None`: the user does not exist; the decoy is
    /// checked anyway and the answer is no). CPU-heavy: call it off the async runtime.
    pub fn verify(&self, hash: Option<&str>, password: &str) -> bool {
        let matches = |phc: &str| {
            PasswordHash::new(phc).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
        };
        match hash {
            Some(hash) => matches(hash),
            None => {
                let _ = matches(&self.decoy);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_password() {
        let hash = hash_password("s3cret").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert_ne!(hash, hash_password("s3cret").unwrap(), "salted");
        let checker = PasswordChecker::new().unwrap();
        assert!(checker.verify(Some(&hash), "s3cret"));
        assert!(!checker.verify(Some(&hash), "s3cret "));
        assert!(!checker.verify(None, "s3cret"));
        assert!(!checker.verify(Some("not a hash"), "s3cret"));
    }
}
