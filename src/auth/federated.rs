//! Where the external issuer meets the auth rules: which operations local accounts
//! need (`LOCAL_AUTH`), which ones an external user cannot use, and the caller an
//! external token makes.

use uuid::Uuid;

use super::external::{ExternalAuth, ExternalPrincipal};
use super::service::{AuthService, CurrentUser, Origin};
use super::tokens::{Claims, TokenKind};
use crate::error::{ApiError, ApiResult, Unavailability};

/// Who may sign in: local accounts (unless `LOCAL_AUTH=disabled`) and the external
/// issuer's users (when one is configured).
pub struct Identity {
    pub local_auth: bool,
    pub external: Option<ExternalAuth>,
}

impl Default for Identity {
    /// Local accounts only.
    fn default() -> Self {
        Identity {
            local_auth: true,
            external: None,
        }
    }
}

impl AuthService {
    /// 403 AUTHZ_003 unless local accounts are on (register, login, token, refresh,
    /// change-password, password reset).
    pub(super) fn local_only(&self) -> ApiResult<()> {
        if self.identity.local_auth {
            return Ok(());
        }
        Err(ApiError::NotAvailable(Unavailability::LocalAuthDisabled))
    }

    /// 403 AUTHZ_003 for a caller of the external issuer (it has no password here),
    /// and while local accounts are off.
    pub(super) fn password_account(&self, user: &CurrentUser) -> ApiResult<()> {
        if user.origin == Origin::External {
            return Err(ApiError::NotAvailable(Unavailability::ExternalAccount));
        }
        self.local_only()
    }

    /// The external issuer, when one is configured.
    pub fn external(&self) -> Option<&ExternalAuth> {
        self.identity.external.as_ref()
    }

    /// The external issuer's verifier, when `token` claims to be one of its tokens.
    pub(super) fn external_for(&self, token: &str) -> Option<&ExternalAuth> {
        self.external().filter(|e| e.claims_issuer(token))
    }

    /// The caller of an external token (verified, its user found or created).
    pub(super) async fn authenticate_external(
        &self,
        external: &ExternalAuth,
        token: &str,
    ) -> ApiResult<CurrentUser> {
        let principal = external.authenticate(token).await?;
        Ok(external_caller(
            principal,
            &external.verifier.settings.issuer,
        ))
    }
}

/// An external caller in the shape of a local one: its claims name the local user,
/// carry the revocation id as `jti` (what logout revokes until `exp`) and no session
/// (`sid` nil: it has none here).
fn external_caller(p: ExternalPrincipal, issuer: &str) -> CurrentUser {
    CurrentUser {
        id: p.user_id,
        origin: Origin::External,
        claims: Claims {
            sub: p.user_id,
            email: p.email,
            iat: p.claims.iat,
            exp: p.claims.exp,
            jti: p.claims.revocation_id,
            kind: TokenKind::Access,
            sid: Uuid::nil(),
            iss: Some(issuer.to_owned()),
            aud: None,
        },
    }
}
