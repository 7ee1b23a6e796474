//! Sign-in by an external issuer (a frontend's auth server: Better Auth, any OIDC
//! provider): its settings, its cached key set ([`jwks`]), verifying its tokens
//! ([`verify`]) and the local users its subjects get on their first valid token.

pub mod jwks;
pub mod settings;
pub mod verify;

use std::sync::Arc;

use uuid::Uuid;

pub use settings::{ExternalIssuer, ExternalSettings, KeySource};

use self::jwks::JwksCache;
use self::verify::{ExternalClaims, ExternalVerifier, Rejection};
use crate::auth::store::{ExternalProfile, ExternalUserRow, ExternalUserStore};
use crate::db::now;
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;
use crate::wire::{MAX_EMAIL, MAX_NAME};

/// A caller authenticated by the external issuer: its local user and the token's claims.
#[derive(Debug, Clone)]
pub struct ExternalPrincipal {
    pub user_id: Uuid,
    /// The stored address (the claim's, kept current; `""` when never sent).
    pub email: String,
    pub claims: ExternalClaims,
}

/// The external issuer's verifier over the external users' store.
pub struct ExternalAuth {
    pub verifier: ExternalVerifier,
    /// The issuer's key set (JWKS mode), for `/health` and the start-up fetch.
    pub jwks: Option<Arc<JwksCache>>,
    users: Arc<dyn ExternalUserStore>,
    metrics: Arc<Metrics>,
}

impl ExternalAuth {
    pub fn new(
        settings: ExternalIssuer,
        users: Arc<dyn ExternalUserStore>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (verifier, jwks) = ExternalVerifier::new(settings, metrics.clone());
        ExternalAuth {
            verifier,
            jwks,
            users,
            metrics,
        }
    }

    /// Whether `token` names the external issuer as its `iss` (then it is verified
    /// here, and only here).
    pub fn claims_issuer(&self, token: &str) -> bool {
        self.verifier.claims_issuer(token)
    }

    /// Verifies `token` and finds (or creates) its user: AUTH_002/005/006 as for own
    /// tokens, AUTH_004 after logout, AUTH_007 for a disabled user, SERVER_001 while
    /// the key is unknown and the JWKS unreachable.
    pub async fn authenticate(&self, token: &str) -> ApiResult<ExternalPrincipal> {
        let claims = match self.verifier.verify(token).await {
            Ok(c) => c,
            Err(r) => {
                self.metrics.external_verification(r.outcome());
                return Err(self.error(r));
            }
        };
        let row = self.user(&claims).await?;
        let outcome = if !row.is_active {
            Err(("user_disabled", ApiError::UserGone))
        } else if row.revoked > 0 {
            Err(("revoked", ApiError::TokenRevoked))
        } else {
            Ok(())
        };
        if let Err((label, e)) = outcome {
            self.metrics.external_verification(label);
            return Err(e);
        }
        self.metrics.external_verification("valid");
        Ok(ExternalPrincipal {
            user_id: row.id,
            email: row.email,
            claims,
        })
    }

    fn error(&self, r: Rejection) -> ApiError {
        match r {
            Rejection::Malformed => ApiError::InvalidToken,
            Rejection::Expired => ApiError::AccessTokenExpired,
            Rejection::BadSignature | Rejection::UnknownKey => ApiError::InvalidSignature,
            Rejection::Unavailable => ApiError::Unavailable {
                retry_after_secs: self.verifier.retry_after_secs(),
            },
        }
    }

    /// The subject's user, created on its first valid token; its profile follows the
    /// claims that are present.
    async fn user(&self, claims: &ExternalClaims) -> ApiResult<ExternalUserRow> {
        let iss = &self.verifier.settings.issuer;
        let (sub, revocation) = (claims.sub.as_str(), claims.revocation_id);
        if let Some(mut row) = self.users.external_user(iss, sub, revocation).await? {
            let profile = merged(claims, Some(&row.profile()));
            if profile != row.profile() {
                self.users
                    .update_external_profile(row.id, &profile, now())
                    .await?;
                (row.email, row.name) = (profile.email, profile.name);
                row.email_verified = profile.email_verified;
            }
            return Ok(row);
        }
        let profile = merged(claims, None);
        let id = Uuid::now_v7();
        self.users
            .create_external_user(id, iss, sub, &profile, now())
            .await?;
        let row = self.users.external_user(iss, sub, revocation).await?;
        let row =
            row.ok_or_else(|| ApiError::internal(anyhow::anyhow!("external user vanished")))?;
        if row.id == id {
            self.metrics.auth_event("external_user", "created");
            tracing::info!(user_id = %id, "auth event: external user created");
        }
        Ok(row)
    }
}

/// The profile of `claims` over the stored one: each claim that is present (and fits
/// the service's limits) wins, an absent one keeps the stored value.
fn merged(claims: &ExternalClaims, stored: Option<&ExternalProfile>) -> ExternalProfile {
    let email = claims
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| e.chars().count() <= MAX_EMAIL && !e.chars().any(char::is_control))
        .map(str::to_owned);
    let name = claims.name.as_deref().map(|n| {
        n.chars()
            .filter(|c| !c.is_control())
            .take(MAX_NAME)
            .collect::<String>()
            .trim()
            .to_owned()
    });
    ExternalProfile {
        email: email
            .or_else(|| stored.map(|s| s.email.clone()))
            .unwrap_or_default(),
        name: match name {
            Some(n) if n.is_empty() => None,
            Some(n) => Some(n),
            None => stored.and_then(|s| s.name.clone()),
        },
        email_verified: claims
            .email_verified
            .or(stored.map(|s| s.email_verified))
            .unwrap_or(false),
    }
}
