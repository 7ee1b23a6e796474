//! HS256 JWTs: claims, issuing and strict decoding into catalog errors.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Config;
use crate::error::{ApiError, ApiResult};

/// Which of the pair a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Access,
    Refresh,
}

/// The claims of both token kinds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    pub email: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    #[serde(rename = "type")]
    pub kind: TokenKind,
    /// The session (one login and all its rotations).
    pub sid: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

impl Claims {
    /// When the token stops being valid.
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or_default()
    }
}

/// A freshly signed token and its claims.
pub struct Issued {
    pub token: String,
    pub claims: Claims,
}

/// Keys and lifetimes for issuing and checking tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: Option<String>,
    audience: Option<String>,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

/// Makes `validation` require `sub` and `exp`, and the `issuer` and `audience` when
/// given: a configured one is required, not only checked when present, so a token
/// without it is malformed (no `aud` check at all without an audience).
pub fn require_claims(validation: &mut Validation, issuer: Option<&str>, audience: Option<&str>) {
    let mut required = vec!["sub", "exp"];
    if let Some(iss) = issuer {
        validation.set_issuer(&[iss]);
        required.push("iss");
    }
    match audience {
        Some(aud) => {
            validation.set_audience(&[aud]);
            required.push("aud");
        }
        None => validation.validate_aud = false,
    }
    validation.set_required_spec_claims(&required);
}

/// Clock skew tolerated on `exp`, in seconds.
const LEEWAY_SECS: i64 = 5;

impl TokenKeys {
    pub fn new(config: &Config) -> Self {
        let secret = config.jwt_secret.expose();
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked after the type, so an expired token of the wrong kind is AUTH_005.
        validation.validate_exp = false;
        require_claims(
            &mut validation,
            config.jwt_issuer.as_deref(),
            config.jwt_audience.as_deref(),
        );
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            access_ttl: Duration::minutes(config.access_token_minutes),
            refresh_ttl: Duration::days(config.refresh_token_days),
        }
    }

    /// Signs a new token of `kind` for the user in session `sid`.
    pub fn issue(
        &self,
        kind: TokenKind,
        user_id: Uuid,
        email: &str,
        sid: Uuid,
    ) -> ApiResult<Issued> {
        let now = Utc::now();
        let ttl = match kind {
            TokenKind::Access => self.access_ttl,
            TokenKind::Refresh => self.refresh_ttl,
        };
        let claims = Claims {
            sub: user_id,
            email: email.to_owned(),
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
            jti: Uuid::new_v4(),
            kind,
            sid,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)?;
        Ok(Issued { token, claims })
    }

    /// Verifies signature, algorithm, type and expiry of `token`.
    pub fn decode(&self, token: &str, expected: TokenKind) -> ApiResult<Claims> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => ApiError::InvalidSignature,
                _ => ApiError::InvalidToken,
            })?;
        let claims = data.claims;
        if claims.kind != expected {
            return Err(ApiError::InvalidToken);
        }
        if claims.exp + LEEWAY_SECS <= Utc::now().timestamp() {
            return Err(match expected {
                TokenKind::Access => ApiError::AccessTokenExpired,
                TokenKind::Refresh => ApiError::RefreshTokenExpired,
            });
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        let mut c = Config::from_lookup(|_| None).unwrap();
        c.jwt_secret = crate::config::Secret::new(b"k".repeat(32));
        TokenKeys::new(&c)
    }

    #[test]
    fn configured_iss_and_aud_are_required() {
        let mut c = Config::from_lookup(|_| None).unwrap();
        c.jwt_secret = crate::config::Secret::new(b"k".repeat(32));
        c.jwt_issuer = Some("https://issuer.test".into());
        c.jwt_audience = Some("todo-api".into());
        let k = TokenKeys::new(&c);
        let issued = k
            .issue(TokenKind::Access, Uuid::new_v4(), "a@b.co", Uuid::new_v4())
            .unwrap();
        assert!(k.decode(&issued.token, TokenKind::Access).is_ok());
        for missing in ["iss", "aud"] {
            let mut claims = serde_json::to_value(&issued.claims).unwrap();
            claims.as_object_mut().unwrap().remove(missing);
            let token =
                jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &k.encoding).unwrap();
            assert!(
                matches!(
                    k.decode(&token, TokenKind::Access),
                    Err(ApiError::InvalidToken)
                ),
                "{missing}"
            );
        }
    }

    #[test]
    fn round_trip_and_kind_checks() {
        let k = keys();
        let (user, sid) = (Uuid::new_v4(), Uuid::new_v4());
        let a = k.issue(TokenKind::Access, user, "a@b.co", sid).unwrap();
        let claims = k.decode(&a.token, TokenKind::Access).unwrap();
        assert_eq!((claims.sub, claims.sid), (user, sid));
        assert!(matches!(
            k.decode(&a.token, TokenKind::Refresh),
            Err(ApiError::InvalidToken)
        ));
        let mut other = Config::from_lookup(|_| None).unwrap();
        other.jwt_secret = crate::config::Secret::new(b"x".repeat(32));
        let forged = TokenKeys::new(&other)
            .issue(TokenKind::Access, user, "a@b.co", sid)
            .unwrap();
        assert!(matches!(
            k.decode(&forged.token, TokenKind::Access),
            Err(ApiError::InvalidSignature)
        ));
        assert!(matches!(
            k.decode("garbage", TokenKind::Access),
            Err(ApiError::InvalidToken)
        ));
    }
}
