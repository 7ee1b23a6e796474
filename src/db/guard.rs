//! The one guard around every database call.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use super::breaker::{CircuitBreaker, Outcome};
use super::span::{db_span, record_failure, DbTarget};
use super::{Backend, BreakerState, DbSettings, StoreError, StoreResult};
use crate::metrics::Metrics;

/// Runs database calls: asks the circuit breaker for a permit (failing at once with
/// [`StoreError::Unavailable`] while it is open, so the API answers 503 `SERVER_001`
/// instead of waiting for a dead database), bounds the call by a client-side deadline
/// (a silent network, no RST and no answer, cannot hang a request), times it into the
/// metrics (with a CLIENT trace span, [`super::span`]), maps `sqlx::Error` to [`StoreError`] and reports the
/// outcome back to the breaker. Only connection-class failures count against the
/// breaker ([`StoreError::is_connection_failure`]): a unique violation or a bad row
/// means the database answered, and a pool timeout while every connection is busy
/// means the service is congested (opening the breaker would turn a burst into an
/// outage of the whole cool-down).
pub struct Guard {
    breaker: CircuitBreaker,
    deadline: Duration,
    backend: Backend,
    target: DbTarget,
    metrics: Arc<Metrics>,
    saturated: Saturated,
}

/// Whether the pool has every connection open and in use ([`super::Pool::saturated`]).
pub type Saturated = Box<dyn Fn() -> bool + Send + Sync>;

impl Guard {
    /// A guard of calls to `target` (of `backend`), timed into `metrics`.
    pub fn new(
        backend: Backend,
        target: DbTarget,
        metrics: Arc<Metrics>,
        settings: &DbSettings,
        saturated: Saturated,
    ) -> Self {
        Guard {
            breaker: CircuitBreaker::new(settings.breaker),
            deadline: settings.call_deadline(),
            backend,
            target,
            metrics,
            saturated,
        }
    }

    /// The breaker's current state.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// Runs `call`, the database work of `operation`, inside the guard.
    pub async fn run<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> StoreResult<T> {
        let permit = match self.breaker.try_acquire() {
            Ok(p) => p,
            Err(rejected) => {
                tracing::debug!(
                    operation,
                    retry_in_ms = rejected.retry_in.as_millis() as u64,
                    "database circuit breaker open: call refused"
                );
                return Err(StoreError::Unavailable(sqlx::Error::Io(
                    std::io::Error::other("circuit breaker open"),
                )));
            }
        };
        let timer = self.metrics.db_timer(operation);
        let span = db_span(&self.target, operation);
        let call = call.instrument(span.clone());
        let result = match tokio::time::timeout(self.deadline, call).await {
            Ok(r) => r.map_err(StoreError::from),
            Err(_) => Err(StoreError::Unavailable(sqlx::Error::Io(
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "store operation {operation} exceeded its {} ms deadline",
                        self.deadline.as_millis()
                    ),
                ),
            ))),
        };
        drop(timer);
        if let Err(e) = &result {
            record_failure(&span, e);
        }
        drop(span);
        permit.finish(self.outcome_of(&result));
        result
    }

    /// How a call's result counts for the breaker.
    fn outcome_of<T>(&self, result: &StoreResult<T>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            // A local file cannot be "unreachable": SQLite pool timeouts are congestion,
            // and so are PostgreSQL's while every connection is busy.
            Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut))
                if self.backend == Backend::Sqlite || (self.saturated)() =>
            {
                Outcome::Neutral
            }
            Err(e) if e.is_connection_failure() => Outcome::Failure,
            // A statement timeout or a busy database: it is there, but slow.
            Err(StoreError::Unavailable(_)) => Outcome::Neutral,
            Err(_) => Outcome::Success,
        }
    }
}
