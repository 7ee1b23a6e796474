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
    /// Only with an external issuer (`EXTERNAL_ISSUER`): its keys are held and fresh
    /// (fetched within `EXTERNAL_JWKS_CACHE_SECONDS`, or the last fetch succeeded;
    /// always true with a shared secret). Informational: while the issuer is down the
    /// last good keys keep verifying, so it never makes the service unready.
    #[oai(skip_serializing_if_is_none)]
    pub identity_provider: Option<bool>,
}

/// The external issuer's key set, as `/health` reports it.
#[derive(Debug, Clone, Object)]
pub struct IdentityProviderKeys {
    /// Whether a JWKS was fetched (false with a shared secret: nothing to fetch).
    pub fetched: bool,
    /// Keys held from the last successful fetch.
    pub keys: i64,
    /// Seconds since that fetch.
    #[oai(skip_serializing_if_is_none)]
    pub age_seconds: Option<i64>,
}

/// Readiness report.
#[derive(Debug, Clone, Object)]
pub struct Health {
    pub status: HealthStatus,
    pub checks: HealthChecks,
    /// Only with an external issuer using a JWKS: its key set.
    #[oai(skip_serializing_if_is_none)]
    pub identity_provider_keys: Option<IdentityProviderKeys>,
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

impl OpsApi {
    /// The external issuer's check and key set (`None` without one). A stale or
    /// missing key set is fetched again in the background (at most once per refetch
    /// interval).
    fn identity_provider(&self) -> (Option<bool>, Option<IdentityProviderKeys>) {
        let Some(external) = self.state.auth.external() else {
            return (None, None);
        };
        let Some(jwks) = &external.jwks else {
            return (Some(true), None);
        };
        let status = jwks.status();
        if !status.fresh {
            tokio::spawn(jwks.clone().maintain());
        }
        let keys = IdentityProviderKeys {
            fetched: status.age.is_some(),
            keys: status.keys as i64,
            age_seconds: status.age.map(|a| a.as_secs() as i64),
        };
        (Some(status.fresh), Some(keys))
    }
}

#[OpenApi(tag = "ApiTags::Operations")]
impl OpsApi {
    /// Readiness
    ///
    /// 200 when the database answers within 2 s, else 503 naming the failing check.
    /// `checks.mail` only informs: mail waits in the outbox while SMTP is away; so does
    /// `checks.identity_provider` (with `EXTERNAL_ISSUER`): cached keys keep working.
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
        let (identity_provider, identity_provider_keys) = self.identity_provider();
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
                identity_provider,
            },
            identity_provider_keys,
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
