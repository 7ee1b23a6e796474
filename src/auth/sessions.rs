//! The caller's sessions: listing them and ending one.

use uuid::Uuid;

use super::model::{Session, SessionPage};
use super::service::{AuthService, CurrentUser};
use super::session_cache::Invalidation;
use crate::db::now;
use crate::error::{ApiError, ApiResult};
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
}
