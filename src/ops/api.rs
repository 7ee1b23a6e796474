//! `GET /health` (readiness) and `GET /health/live` (liveness).

use std::time::Duration;

use chrono::Utc;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use crate::state::AppState;
use crate::wire::ApiTags;
use crate::wire::Timestamp;

/// Health operations (no authentication).
pub struct OpsApi {
    pub state: AppState,
}

/// `healthy` or `unhealthy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum HealthStatus {
    Healthy,
    Unhealthy,
}

/// The result of each readiness check.
#[derive(Debug, Clone, Object)]
pub struct HealthChecks {
    /// A database round trip succeeded within 2 s.
    pub database: bool,
    /// The revocation store (kept in the database) is reachable.
    pub token_revocation: bool,
    /// Mail is being delivered: a transport is configured and the last delivery attempt
    /// reached it (true when the mail flows are off). Informational: a slow or
    /// unreachable SMTP server never makes the service unready (mail waits in the outbox).
    pub mail: bool,
}

/// Readiness report.
#[derive(Debug, Clone, Object)]
pub struct Health {
    pub status: HealthStatus,
    pub checks: HealthChecks,
    /// The service version.
    pub version: String,
    pub timestamp: Timestamp,
}

/// `alive`.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "lowercase")]
pub enum LiveStatus {
    Alive,
}

/// Liveness report.
#[derive(Debug, Clone, Object)]
pub struct Live {
    pub status: LiveStatus,
}

#[derive(ApiResponse)]
pub enum HealthResponse {
    /// Ready to serve requests.
    #[oai(status = 200)]
    Ready(Json<Health>),
    /// Not ready: the failing check is `false`.
    #[oai(status = 503)]
    NotReady(Json<Health>),
}

#[OpenApi(tag = "ApiTags::Operations")]
impl OpsApi {
    /// Readiness
    ///
    /// 200 when the database answers within 2 s, else 503 naming the failing check.
    /// `checks.mail` only informs: mail waits in the outbox while SMTP is away.
    #[oai(path = "/health", method = "get", operation_id = "get_health")]
    async fn health(&self) -> HealthResponse {
        // The ping goes through the store's circuit breaker: while it is open this
        // answers at once; after its cool-down the ping may be the probe that closes it.
        let database =
            match tokio::time::timeout(Duration::from_secs(2), self.state.db.ping()).await {
                Ok(Ok(())) => true,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "readiness: database check failed");
                    false
                }
                Err(_) => {
                    tracing::warn!("readiness: database check timed out after 2 s");
                    false
                }
            };
        let health = Health {
            status: if database {
                HealthStatus::Healthy
            } else {
                HealthStatus::Unhealthy
            },
            checks: HealthChecks {
                database,
                token_revocation: database,
                mail: self.state.mail_health.ok(),
            },
            version: env!("CARGO_PKG_VERSION").to_owned(),
            timestamp: Utc::now().into(),
        };
        if database {
            HealthResponse::Ready(Json(health))
        } else {
            HealthResponse::NotReady(Json(health))
        }
    }

    /// Liveness
    ///
    /// 200 whenever the process serves HTTP; does no I/O.
    #[oai(path = "/health/live", method = "get", operation_id = "get_liveness")]
    async fn live(&self) -> Json<Live> {
        Json(Live {
            status: LiveStatus::Alive,
        })
    }
}
