//! The caller's account: its sessions (listing them, ending one) and its deletion.

use uuid::Uuid;

use super::model::{Session, SessionPage};
use super::service::{AuthService, CurrentUser, Origin};
use super::session_cache::Invalidation;
use crate::db::now;
use crate::error::{ApiError, ApiResult, ErrorCode, Unavailability};
use crate::paging::page;

impl AuthService {
    /// One page of the caller's live sessions, most recently used first.
    pub async fn list_sessions(
        &self,
        user: &CurrentUser,
        skip: Option<i64>,
        limit: Option<i64>,
    ) -> ApiResult<SessionPage> {
        let (skip, limit) = page(skip, limit)?;
        let (rows, total) = self
            .sessions
            .list_sessions(user.id, now(), skip, limit)
            .await?;
        let has_more = skip + (rows.len() as i64) < total;
        let current = user.claims.sid;
        Ok(SessionPage {
            items: rows
                .into_iter()
                .map(|s| Session::from_record(s, current))
                .collect(),
            total,
            skip,
            limit,
            has_more,
        })
    }

    /// Ends one of the caller's live sessions (the current one too): its refresh token
    /// and every access token with its `sid` are refused from now on. Unknown, ended
    /// and other users' sessions are all RESOURCE_004.
    pub async fn end_session(&self, user: &CurrentUser, session_id: Uuid) -> ApiResult<()> {
        if !self
            .sessions
            .end_session(user.id, session_id, now())
            .await?
        {
            return Err(ApiError::SessionNotFound);
        }
        self.cache.invalidate(Invalidation::Session(session_id));
        self.record("session_end", "success", Some(user.id));
        Ok(())
    }

    /// Deletes the caller's account after checking its password (VALIDATION_007; the
    /// checks count against the current-password limit): the user and, in the same
    /// statement, everything of it (todos, tags, sessions, revocations, one-time tokens,
    /// pending mail). Every token of the user is AUTH_007 afterwards, on every instance.
    /// An external caller's account is the issuer's business: AUTHZ_003.
    pub async fn delete_account(&self, user: &CurrentUser, password: String) -> ApiResult<()> {
        if user.origin == Origin::External {
            return Err(ApiError::NotAvailable(Unavailability::ExternalAccount));
        }
        let (record, attempt) = self.current_password_check(user).await?;
        let wrong = || {
            ApiError::invalid(
                ErrorCode::VALIDATION_007,
                "password",
                "Password is incorrect",
            )
        };
        if !self.hasher.verify(password, record.password_hash).await? {
            return Err(wrong());
        }
        attempt.succeeded().await;
        // Only for the credentials just verified: a password changed meanwhile wins.
        let deleted = self
            .users
            .delete_user(user.id, record.credentials_version)
            .await?;
        self.cache.invalidate(Invalidation::User(user.id));
        if !deleted {
            return Err(wrong());
        }
        self.record("account_delete", "success", Some(user.id));
        Ok(())
    }
}
