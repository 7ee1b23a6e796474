//! Tokens: decoding and forging JWTs with the test secret.

use serde_json::{json, Value};
use uuid::Uuid;

use super::TEST_JWT_SECRET;

/// The claims of a token signed with the test secret (signature checked, expiry not).
pub fn claims(token: &str) -> Value {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
        &validation,
    )
    .expect("a token signed with the test secret")
    .claims
}

/// Signs `claims` with `alg` and `secret`.
pub fn sign(claims: &Value, alg: jsonwebtoken::Algorithm, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("sign the claims")
}

/// Signs `claims` as the server would (HS256, test secret).
pub fn sign_valid(claims: &Value) -> String {
    sign(
        claims,
        jsonwebtoken::Algorithm::HS256,
        TEST_JWT_SECRET.as_bytes(),
    )
}

/// Claims like the server issues: `sub`, `email`, `iat`, `exp`, `jti`, `type`, `sid`.
pub fn make_claims(sub: &str, email: &str, sid: &str, kind: &str, exp_offset_secs: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": sub,
        "email": email,
        "iat": now.min(now + exp_offset_secs) - 1,
        "exp": now + exp_offset_secs,
        "jti": Uuid::new_v4().to_string(),
        "type": kind,
        "sid": sid,
    })
}

/// Unpadded base64url (RFC 4648 §5), for hand-built tokens.
pub fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextets = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        for s in &sextets[..chunk.len() + 1] {
            out.push(ALPHABET[*s as usize] as char);
        }
    }
    out
}

/// A token built by hand: `base64url(header).base64url(payload).signature`.
pub fn hand_built_token(header: &Value, payload: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(payload.to_string().as_bytes()),
        signature
    )
}

/// The session id (`sid` claim) of a token signed with the test secret.
pub fn session_id(token: &str) -> Uuid {
    let sid = claims(token)["sid"]
        .as_str()
        .expect("a sid claim")
        .to_owned();
    Uuid::parse_str(&sid).expect("the sid is a UUID")
}
