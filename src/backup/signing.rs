//! Signed manifests. Restore runs the DDL a backup's manifest holds, and the manifest holds
//! the checksum of every data file, so whoever can write the backup location could change
//! what a restore does. With `LAKESHIFT_BACKUP_KEY` set, a backup writes `manifest.sig`, an
//! HMAC-SHA256 of the manifest's bytes, before the manifest itself; `verify` and `restore`
//! with the key set refuse a backup whose signature is missing or does not match. The data
//! files are covered through their checksums in the signed manifest (restore checks each
//! file's before its one transaction commits). Without the key nothing is checked: the
//! location must then be trusted.

use hmac::{KeyInit, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::storage::Location;
use crate::storage::encryption::FileCipher;

/// The environment variable holding the key (32 bytes or more).
pub const KEY_ENV: &str = "LAKESHIFT_BACKUP_KEY";
/// The signature's file, beside `manifest.json`.
pub const SIGNATURE: &str = "manifest.sig";
/// Shortest key accepted: shorter HMAC keys are guessable.
const MIN_KEY_BYTES: usize = 32;

type HmacSha256 = hmac::Hmac<Sha256>;

/// The key that signs and checks manifests.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

impl SigningKey {
    /// The key from [`KEY_ENV`]; `None` when it is not set, an error when it is too short.
    pub fn from_env() -> Result<Option<SigningKey>> {
        match std::env::var(KEY_ENV) {
            Err(_) => Ok(None),
            Ok(key) => SigningKey::new(key.into_bytes()).map(Some),
        }
    }

    pub fn new(key: Vec<u8>) -> Result<SigningKey> {
        if key.len() < MIN_KEY_BYTES {
            return Err(Error::Invalid(format!(
                "{KEY_ENV} is {} bytes long; it must be at least {MIN_KEY_BYTES} (e.g. `openssl rand -hex 32`)",
                key.len()
            )));
        }
        Ok(SigningKey(key))
    }

    fn mac(&self, manifest: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(manifest);
        mac
    }

    /// The key a backup's data files are encrypted with: derived from this one, so that
    /// one secret signs and encrypts, and neither use reveals the other's key.
    pub fn file_cipher(&self) -> FileCipher {
        let mut key = [0u8; 32];
        key.copy_from_slice(&self.mac(b"lakeshift data files v1").finalize().into_bytes());
        FileCipher::new(key)
    }

    /// The signature of `manifest`, in hex.
    pub fn sign(&self, manifest: &[u8]) -> String {
        crate::storage::hex(&self.mac(manifest).finalize().into_bytes())
    }

    /// Whether `signature` (hex) signs `manifest` (compared in constant time).
    pub fn signs(&self, manifest: &[u8], signature: &str) -> bool {
        let Some(bytes) = unhex(signature.trim()) else {
            return false;
        };
        self.mac(manifest).verify_slice(&bytes).is_ok()
    }
}

/// Refuse `manifest` (the bytes of `dir`'s manifest) unless `dir` holds its signature.
pub async fn check(dir: &Location, manifest: &[u8], key: &SigningKey) -> Result<()> {
    let refused = |reason: &str| Error::Storage {
        url: dir.to_string(),
        reason: format!(
            "{reason}; {KEY_ENV} is set, so the backup is refused (whoever can write the backup \
             location could have changed what a restore runs)"
        ),
    };
    if !dir.exists(SIGNATURE).await? {
        return Err(refused(&format!(
            "the backup is not signed (no {SIGNATURE})"
        )));
    }
    let signature = dir.get(SIGNATURE).await?;
    let signature = String::from_utf8_lossy(&signature);
    if !key.signs(manifest, &signature) {
        return Err(refused(
            "the manifest's signature does not match: it was changed, or signed with another key",
        ));
    }
    Ok(())
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_for_its_manifest_and_key_only() {
        let key = SigningKey::new(vec![7; 32]).unwrap();
        let other = SigningKey::new(vec![8; 32]).unwrap();
        let signature = key.sign(b"{\"tables\": []}");
        assert_eq!(signature.len(), 64);
        assert!(key.signs(b"{\"tables\": []}", &signature));
        assert!(!key.signs(b"{\"tables\": [1]}", &signature));
        assert!(!other.signs(b"{\"tables\": []}", &signature));
        assert!(!key.signs(b"{\"tables\": []}", "zz"));
        assert!(SigningKey::new(vec![1; 31]).is_err());
    }
}
