//! The delivery worker: claims due outbox rows (never a row another instance holds),
//! sends each, and records the outcome: sent only once the server accepted it; retried
//! with exponential backoff when the server is unreachable or says "later"; given up
//! after [`MAX_ATTEMPTS`] or on a permanent refusal.
//!
//! A claim lasts [`LEASE`]: an instance that dies mid-delivery leaves its rows to be
//! claimed again once it expires (so a message may, rarely, be sent twice, never lost).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use uuid::Uuid;

use super::store::{OutboxRecord, OutboxStore};
use super::transport::{SendError, Transport};
use crate::db::now;
use crate::metrics::Metrics;

/// How often the worker looks for due rows (other instances' and retries) unless woken.
const POLL: Duration = Duration::from_secs(1);
/// How long a claim keeps other instances off a row (well over one send's timeout).
const LEASE: Duration = Duration::from_secs(120);
/// Rows claimed at once.
const BATCH: i64 = 20;
/// Attempts before a message is given up.
pub const MAX_ATTEMPTS: i64 = 10;
/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// How long delivered and given-up rows are kept (for inspection).
const KEEP_FINISHED: chrono::Duration = chrono::Duration::days(7);

/// What readiness reports about mail, without doing I/O: whether a transport is set
/// and the last delivery attempt reached the server.
#[derive(Debug)]
pub struct MailHealth {
    delivering: AtomicBool,
}

impl MailHealth {
    pub fn new(delivering: bool) -> Self {
        MailHealth {
            delivering: AtomicBool::new(delivering),
        }
    }

    /// Whether mail is being delivered (false: no transport, or the last attempt failed).
    pub fn ok(&self) -> bool {
        self.delivering.load(Ordering::Relaxed)
    }

    fn set(&self, ok: bool) {
        self.delivering.store(ok, Ordering::Relaxed);
    }
}

/// The delay before attempt `attempts + 1`: `base`, doubled per earlier attempt.
pub fn backoff(base: Duration, attempts: i64) -> Duration {
    let doublings = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    base.saturating_mul(2u32.saturating_pow(doublings))
        .min(MAX_BACKOFF)
}

/// Delivers one instance's share of the outbox.
pub struct MailWorker {
    pub store: Arc<dyn OutboxStore>,
    pub transport: Transport,
    pub metrics: Arc<Metrics>,
    pub health: Arc<MailHealth>,
    pub wake: Arc<Notify>,
    pub retry_base: Duration,
}

impl MailWorker {
    /// Runs until the task is aborted.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut rounds: u64 = 0;
            loop {
                let claimed = self.drain_once().await;
                if rounds.is_multiple_of(600) {
                    self.purge().await;
                }
                rounds += 1;
                self.update_depth().await;
                if claimed < BATCH as usize {
                    tokio::select! {
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(POLL) => {}
                    }
                }
            }
        })
    }

    /// Claims one batch and delivers it; how many rows were claimed.
    async fn drain_once(&self) -> usize {
        let claim = Uuid::new_v4();
        let at = now();
        let until = at + chrono::Duration::from_std(LEASE).unwrap_or_default();
        let batch = match self.store.claim(claim, at, until, BATCH).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "mail outbox: claim failed");
                return 0;
            }
        };
        for m in &batch {
            self.deliver(claim, m).await;
        }
        batch.len()
    }

    /// Sends `m` and records what happened (never its content).
    async fn deliver(&self, claim: Uuid, m: &OutboxRecord) {
        let result = self.transport.send(m).await;
        let (outcome, recorded) = match result {
            Ok(()) => ("sent", self.store.mark_sent(m.id, claim, now()).await),
            Err(SendError::Permanent(e)) => ("failed", self.give_up(claim, m, &e).await),
            Err(SendError::Transient(e)) if m.attempts >= MAX_ATTEMPTS => {
                ("failed", self.give_up(claim, m, &e).await)
            }
            Err(SendError::Transient(e)) => {
                let wait = backoff(self.retry_base, m.attempts);
                let next = now() + chrono::Duration::from_std(wait).unwrap_or_default();
                tracing::warn!(mail_id = %m.id, kind = %m.kind, attempts = m.attempts,
                    retry_in_s = wait.as_secs(), error = %e, "mail delivery failed; will retry");
                ("retry", self.store.mark_retry(m.id, claim, next, &e).await)
            }
        };
        self.health.set(outcome != "retry");
        self.metrics.mail_delivery(outcome);
        if outcome == "sent" {
            tracing::info!(mail_id = %m.id, kind = %m.kind, attempts = m.attempts, "mail sent");
        }
        if let Err(e) = recorded {
            tracing::warn!(mail_id = %m.id, error = %e, "mail outbox: could not record the outcome");
        }
    }

    async fn give_up(
        &self,
        claim: Uuid,
        m: &OutboxRecord,
        error: &str,
    ) -> Result<(), crate::db::StoreError> {
        tracing::error!(mail_id = %m.id, kind = %m.kind, attempts = m.attempts, error,
            "mail delivery given up");
        self.store.mark_failed(m.id, claim, now(), error).await
    }

    async fn update_depth(&self) {
        match self.store.depth().await {
            Ok(n) => self.metrics.set_outbox_depth(n),
            Err(e) => tracing::debug!(error = %e, "mail outbox: depth unknown"),
        }
    }

    async fn purge(&self) {
        match self.store.purge_finished(now() - KEEP_FINISHED).await {
            Ok(n) if n > 0 => tracing::info!(rows = n, "purged finished outbox rows"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purging the outbox failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let base = Duration::from_secs(30);
        assert_eq!(backoff(base, 1), base);
        assert_eq!(backoff(base, 2), Duration::from_secs(60));
        assert_eq!(backoff(base, 4), Duration::from_secs(240));
        assert_eq!(backoff(base, 9), MAX_BACKOFF);
        assert_eq!(backoff(base, 1_000), MAX_BACKOFF);
    }
}
