//! Verifying an external issuer's token: which tokens are its (`iss`), the key by `kid`
//! (or the shared secret), the algorithm allow-list, and the claims.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::jwks::{JwksCache, KeyLookup};
use super::settings::{ExternalIssuer, KeySource};
use crate::auth::tokens::require_claims;
use crate::metrics::Metrics;

/// Why an external token was refused; each maps to one catalog code and one metrics
/// outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Not a well-formed token of the issuer: bad header or claims, `alg` outside the
    /// allow-list or not the key's, wrong `aud`, no `kid`, `nbf`/`iat` in the future
    /// (AUTH_005).
    Malformed,
    /// `exp` passed, beyond the skew (AUTH_002).
    Expired,
    /// The signature does not verify (AUTH_006).
    BadSignature,
    /// The issuer's current key set has no key `kid` (AUTH_006).
    UnknownKey,
    /// The key `kid` is not held and the JWKS cannot be fetched (SERVER_001).
    Unavailable,
}

impl Rejection {
    /// The metrics label.
    pub fn outcome(self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed",
            Rejection::Expired => "expired",
            Rejection::BadSignature => "bad_signature",
            Rejection::UnknownKey => "unknown_kid",
            Rejection::Unavailable => "jwks_unavailable",
        }
    }
}

/// The verified claims of an external token that this service uses.
#[derive(Debug, Clone)]
pub struct ExternalClaims {
    /// The issuer's user id.
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    /// What logout puts on the revocation list: derived from `jti`, or from the whole
    /// token when it has none (Better Auth's tokens have none).
    pub revocation_id: Uuid,
    pub email: Option<String>,
    pub name: Option<String>,
    pub email_verified: Option<bool>,
}

/// The claims as they arrive (OIDC's `email_verified`, Better Auth's `emailVerified`).
#[derive(Deserialize)]
struct RawClaims {
    sub: String,
    exp: i64,
    #[serde(default)]
    iat: Option<serde_json::Number>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    email: Option<serde_json::Value>,
    #[serde(default)]
    name: Option<serde_json::Value>,
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
    #[serde(default, rename = "emailVerified")]
    email_verified_camel: Option<serde_json::Value>,
}

/// Longest `sub` accepted, in bytes.
const MAX_SUBJECT: usize = 255;

enum Keys {
    Jwks {
        cache: Arc<JwksCache>,
        algorithms: Vec<Algorithm>,
    },
    Secret(DecodingKey),
}

/// Verifies the tokens of the one configured external issuer.
pub struct ExternalVerifier {
    pub settings: ExternalIssuer,
    keys: Keys,
}

impl ExternalVerifier {
    /// A verifier for `settings`, and the JWKS cache it fetches into (for `/health`
    /// and the start-up fetch) when the keys come from a JWKS.
    pub fn new(settings: ExternalIssuer, metrics: Arc<Metrics>) -> (Self, Option<Arc<JwksCache>>) {
        let (keys, cache) = match &settings.keys {
            KeySource::Jwks { url, algorithms } => {
                let cache = Arc::new(JwksCache::new(
                    url.clone(),
                    settings.cache_max_age,
                    settings.refetch_interval,
                    metrics,
                ));
                let keys = Keys::Jwks {
                    cache: cache.clone(),
                    algorithms: algorithms.clone(),
                };
                (keys, Some(cache))
            }
            KeySource::Secret(s) => (Keys::Secret(DecodingKey::from_secret(s.expose())), None),
        };
        (ExternalVerifier { settings, keys }, cache)
    }

    /// Whether `token` claims to be the issuer's (its unverified `iss` is exactly
    /// `EXTERNAL_ISSUER`): then only the issuer's keys may verify it.
    pub fn claims_issuer(&self, token: &str) -> bool {
        unverified_issuer(token).is_some_and(|iss| iss == self.settings.issuer)
    }

    /// Seconds to wait while the JWKS is unreachable.
    pub fn retry_after_secs(&self) -> u64 {
        match &self.keys {
            Keys::Jwks { cache, .. } => cache.retry_after_secs(),
            Keys::Secret(_) => 1,
        }
    }

    /// Verifies `token`: header, algorithm, key, signature, `iss`, `aud`, `exp`, `nbf`,
    /// `iat` (each time within the skew), `sub`.
    pub async fn verify(&self, token: &str) -> Result<ExternalClaims, Rejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;
        let alg = header.alg;
        let key = match &self.keys {
            Keys::Secret(key) if alg == Algorithm::HS256 => KeyRef::Secret(key),
            Keys::Secret(_) => return Err(Rejection::Malformed),
            Keys::Jwks { cache, algorithms } => {
                if !algorithms.contains(&alg) {
                    return Err(Rejection::Malformed);
                }
                let kid = header.kid.as_deref().ok_or(Rejection::Malformed)?;
                match cache.key(kid).await {
                    KeyLookup::Found(key) => {
                        if !key.kind.verifies(alg) || key.alg.is_some_and(|a| a != alg) {
                            return Err(Rejection::Malformed);
                        }
                        KeyRef::Jwk(key)
                    }
                    KeyLookup::Unknown => return Err(Rejection::UnknownKey),
                    KeyLookup::Unreachable => return Err(Rejection::Unavailable),
                }
            }
        };
        let data = jsonwebtoken::decode::<RawClaims>(token, key.decoding(), &self.validation(alg))
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => Rejection::BadSignature,
                ErrorKind::ExpiredSignature => Rejection::Expired,
                _ => Rejection::Malformed,
            })?;
        self.claims(data.claims, token)
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let s = &self.settings;
        let mut v = Validation::new(alg);
        v.leeway = s.clock_skew_secs;
        v.validate_nbf = true;
        require_claims(&mut v, Some(&s.issuer), s.audience.as_deref());
        v
    }

    /// The claims this service keeps, after the checks jsonwebtoken does not make.
    fn claims(&self, raw: RawClaims, token: &str) -> Result<ExternalClaims, Rejection> {
        let now = Utc::now().timestamp();
        let skew = self.settings.clock_skew_secs as i64;
        let iat = raw.iat.as_ref().and_then(serde_json::Number::as_f64);
        if iat.is_some_and(|iat| iat > (now + skew) as f64) {
            return Err(Rejection::Malformed);
        }
        if raw.sub.is_empty()
            || raw.sub.len() > MAX_SUBJECT
            || raw.sub.chars().any(char::is_control)
        {
            return Err(Rejection::Malformed);
        }
        let text = |v: Option<serde_json::Value>| v.and_then(|v| v.as_str().map(str::to_owned));
        let flag = |v: &Option<serde_json::Value>| v.as_ref().and_then(serde_json::Value::as_bool);
        let revocation_id = revocation_id(&self.settings.issuer, raw.jti.as_deref(), token);
        Ok(ExternalClaims {
            email_verified: flag(&raw.email_verified).or(flag(&raw.email_verified_camel)),
            sub: raw.sub,
            exp: raw.exp,
            iat: iat.map_or(now, |t| t as i64),
            revocation_id,
            email: text(raw.email),
            name: text(raw.name),
        })
    }
}

/// The key a token is checked with.
enum KeyRef<'a> {
    Secret(&'a DecodingKey),
    Jwk(Arc<super::jwks::Key>),
}

impl KeyRef<'_> {
    fn decoding(&self) -> &DecodingKey {
        match self {
            KeyRef::Secret(k) => k,
            KeyRef::Jwk(k) => &k.decoding,
        }
    }
}

/// The `iss` of a token's payload, unverified (only to choose the keys to verify with).
pub fn unverified_issuer(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Iss {
        iss: Option<String>,
    }
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<Iss>(&bytes).ok()?.iss
}

/// The revocation-list id of an external token: a UUID-sized SHA-256 of the issuer and
/// its `jti`, or of the whole token when it carries no `jti`.
pub fn revocation_id(issuer: &str, jti: Option<&str>, token: &str) -> Uuid {
    let mut h = Sha256::new();
    h.update(b"external-token\0");
    h.update(issuer.as_bytes());
    match jti {
        Some(jti) => {
            h.update(b"\0jti\0");
            h.update(jti.as_bytes());
        }
        None => {
            h.update(b"\0token\0");
            h.update(token.as_bytes());
        }
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(payload: &str) -> String {
        format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(payload))
    }

    #[test]
    fn the_unverified_issuer_routes_tokens_and_tolerates_garbage() {
        let iss = unverified_issuer(&token(r#"{"iss":"https://a.example","sub":"x"}"#));
        assert_eq!(iss.as_deref(), Some("https://a.example"));
        assert_eq!(unverified_issuer(&token(r#"{"sub":"x"}"#)), None);
        assert_eq!(unverified_issuer(&token(r#"{"iss":7}"#)), None);
        for garbage in ["", "a", "a.b", "a.!!!.c", "a..c"] {
            assert_eq!(unverified_issuer(garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn revocation_ids_follow_the_jti_or_the_whole_token() {
        let a = revocation_id("https://a.example", Some("j1"), "t1");
        assert_eq!(a, revocation_id("https://a.example", Some("j1"), "t2"));
        assert_ne!(a, revocation_id("https://b.example", Some("j1"), "t1"));
        assert_ne!(a, revocation_id("https://a.example", Some("j2"), "t1"));
        let b = revocation_id("https://a.example", None, "t1");
        assert_ne!(b, revocation_id("https://a.example", None, "t2"));
        assert_ne!(a, b);
    }
}
