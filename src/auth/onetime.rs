//! One-time tokens (password reset, email verification): 256 random bits, URL-safe
//! base64 in the link, stored only as their SHA-256 (hex). A lookup by hash is the only
//! comparison, so no token is ever compared byte by byte in the service.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// What a token is for, as stored.
pub const RESET: &str = "password_reset";
pub const VERIFY: &str = "verify_email";

/// A token to store (its hash, never the token itself).
#[derive(Debug, Clone)]
pub struct NewOneTimeToken {
    pub hash: String,
    pub user_id: Uuid,
    pub purpose: &'static str,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// The SHA-256 of `token`, in hex.
pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh token for `user_id` and `purpose`, valid for `ttl` from `at`: the text for
/// the link, and what to store.
pub fn issue(
    user_id: Uuid,
    purpose: &'static str,
    at: DateTime<Utc>,
    ttl: chrono::Duration,
) -> (String, NewOneTimeToken) {
    let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let stored = NewOneTimeToken {
        hash: hash(&token),
        user_id,
        purpose,
        expires_at: at + ttl,
        created_at: at,
    };
    (token, stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_url_safe_and_stored_hashed() {
        let (token, stored) = issue(
            Uuid::nil(),
            RESET,
            Utc::now(),
            chrono::Duration::minutes(30),
        );
        assert_eq!(token.len(), 43, "256 bits in unpadded base64");
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(stored.hash.len(), 64);
        assert_ne!(stored.hash, token);
        assert_eq!(stored.hash, hash(&token));
        let (other, _) = issue(
            Uuid::nil(),
            RESET,
            Utc::now(),
            chrono::Duration::minutes(30),
        );
        assert_ne!(token, other);
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
