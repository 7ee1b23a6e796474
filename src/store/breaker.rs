//! Resilience of the store: a circuit breaker and a deadline around every store call.
//!
//! [`GuardedStore`] decorates the SQL store; every method of [`Store`] goes through
//! [`GuardedStore::call`], which
//! - fails at once with [`StoreError::Unavailable`] while the breaker is open (the API
//!   answers 503 `SERVER_001` with `Retry-After`), instead of waiting for a dead database;
//! - bounds the whole call by a client-side deadline, so a silent network (no RST, no
//!   answer) cannot hang a request;
//! - feeds the outcome back to the breaker: `failure_threshold` consecutive
//!   connection-class failures open it; after `cooldown` one call is let through as a
//!   probe (half-open), and its success closes the breaker again.
//!
//! Only connection-class failures count ([`StoreError::is_connection_failure`]): a
//! unique violation or a bad row means the database answered.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::*;

/// When the breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive connection failures that open the breaker; 0 disables it.
    pub failure_threshold: u32,
    /// How long an open breaker refuses calls before it lets a probe through.
    pub cooldown: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            failure_threshold: 5,
            cooldown: Duration::from_secs(2),
        }
    }
}

/// The observable state of a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through; consecutive connection failures are counted.
    Closed,
    /// Calls fail at once until the cool-down has passed.
    Open,
    /// One probe call is in flight; every other call fails at once.
    HalfOpen,
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    state: State,
    /// Bumped on every state change, so late outcomes of older calls are ignored.
    generation: u64,
}

/// A thread-safe consecutive-failure circuit breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    settings: BreakerSettings,
    inner: Mutex<Inner>,
}

/// The breaker refused a call; `retry_in` is the time left until a probe is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    pub retry_in: Duration,
}

/// What a finished call tells the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The database answered (with rows or with a logical error).
    Success,
    /// The database could not be reached.
    Failure,
    /// Says nothing about reachability (e.g. a statement timeout).
    Neutral,
}

/// The right to make one call; report its outcome with [`Permit::finish`]. Dropping a
/// permit unfinished (a cancelled call) counts as [`Outcome::Neutral`].
#[must_use = "report the call's outcome with `finish`"]
#[derive(Debug)]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    generation: u64,
    probe: bool,
    finished: bool,
}

impl CircuitBreaker {
    pub fn new(settings: BreakerSettings) -> Self {
        CircuitBreaker {
            settings,
            inner: Mutex::new(Inner {
                state: State::Closed { failures: 0 },
                generation: 0,
            }),
        }
    }

    pub fn settings(&self) -> BreakerSettings {
        self.settings
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The critical sections cannot panic half-way; a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current state (an open breaker whose cool-down has passed reports `Open`
    /// until a call arrives to probe).
    pub fn state(&self) -> BreakerState {
        match self.lock().state {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen => BreakerState::HalfOpen,
        }
    }

    /// Asks to make a call now.
    pub fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        self.try_acquire_at(Instant::now())
    }

    /// Asks to make a call at `now` (tests pass their own clock).
    pub fn try_acquire_at(&self, now: Instant) -> Result<Permit<'_>, Rejected> {
        let mut inner = self.lock();
        let probe = match inner.state {
            State::Closed { .. } => false,
            State::Open { until } if now < until => {
                return Err(Rejected {
                    retry_in: until - now,
                })
            }
            State::Open { .. } => {
                inner.state = State::HalfOpen;
                inner.generation += 1;
                tracing::info!("database circuit breaker half-open: probing");
                true
            }
            State::HalfOpen => {
                return Err(Rejected {
                    retry_in: Duration::ZERO,
                })
            }
        };
        Ok(Permit {
            breaker: self,
            generation: inner.generation,
            probe,
            finished: false,
        })
    }

    fn record(&self, generation: u64, probe: bool, outcome: Outcome, now: Instant) {
        let mut inner = self.lock();
        if inner.generation != generation {
            // The breaker changed state since this call started: its outcome is stale.
            return;
        }
        let threshold = self.settings.failure_threshold;
        let cooldown = self.settings.cooldown;
        let next = match (&inner.state, outcome) {
            (State::Closed { .. }, Outcome::Success) => State::Closed { failures: 0 },
            (State::Closed { failures }, Outcome::Failure) => {
                let failures = failures.saturating_add(1);
                if threshold > 0 && failures >= threshold {
                    tracing::warn!(
                        failures,
                        cooldown_ms = cooldown.as_millis() as u64,
                        "database circuit breaker opened: failing fast"
                    );
                    inner.generation += 1;
                    State::Open {
                        until: now + cooldown,
                    }
                } else {
                    State::Closed { failures }
                }
            }
            (State::Closed { failures }, Outcome::Neutral) => State::Closed {
                failures: *failures,
            },
            (State::HalfOpen, Outcome::Success) if probe => {
                tracing::info!("database circuit breaker closed: the probe succeeded");
                inner.generation += 1;
                State::Closed { failures: 0 }
            }
            (State::HalfOpen, Outcome::Failure) if probe => {
                tracing::warn!(
                    cooldown_ms = cooldown.as_millis() as u64,
                    "database circuit breaker re-opened: the probe failed"
                );
                inner.generation += 1;
                State::Open {
                    until: now + cooldown,
                }
            }
            // A probe that tells nothing: the next call probes again.
            (State::HalfOpen, Outcome::Neutral) if probe => {
                inner.generation += 1;
                State::Open { until: now }
            }
            _ => return,
        };
        inner.state = next;
    }
}

impl Permit<'_> {
    /// Reports the call's outcome.
    pub fn finish(self, outcome: Outcome) {
        self.finish_at(outcome, Instant::now());
    }

    /// Reports the call's outcome at `now` (tests pass their own clock).
    pub fn finish_at(mut self, outcome: Outcome, now: Instant) {
        self.finished = true;
        self.breaker
            .record(self.generation, self.probe, outcome, now);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.breaker.record(
                self.generation,
                self.probe,
                Outcome::Neutral,
                Instant::now(),
            );
        }
    }
}

/// How a store result counts for the breaker.
fn outcome_of<T>(result: &StoreResult<T>) -> Outcome {
    match result {
        Ok(_) => Outcome::Success,
        Err(e) if e.is_connection_failure() => Outcome::Failure,
        // A statement timeout or a busy database: it is there, but slow.
        Err(StoreError::Unavailable(_)) => Outcome::Neutral,
        Err(_) => Outcome::Success,
    }
}

/// The store behind a circuit breaker and a per-call deadline.
pub struct GuardedStore {
    inner: Arc<dyn Store>,
    breaker: CircuitBreaker,
    deadline: Duration,
}

impl GuardedStore {
    /// Wraps `inner`; every call must finish within `deadline`.
    pub fn new(inner: Arc<dyn Store>, breaker: BreakerSettings, deadline: Duration) -> Self {
        GuardedStore {
            inner,
            breaker: CircuitBreaker::new(breaker),
            deadline,
        }
    }

    /// The breaker's current state.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// Runs one store call through the breaker and the deadline.
    async fn call<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = StoreResult<T>>,
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
        let result = match tokio::time::timeout(self.deadline, call).await {
            Ok(r) => r,
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
        let mut outcome = outcome_of(&result);
        if outcome == Outcome::Failure
            && self.inner.backend() == Backend::Sqlite
            && matches!(
                result,
                Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut))
            )
        {
            // A local file cannot be "unreachable": SQLite pool timeouts are congestion.
            outcome = Outcome::Neutral;
        }
        permit.finish(outcome);
        result
    }
}

#[async_trait]
impl UserStore for GuardedStore {
    async fn create_user(&self, user: &UserRecord) -> StoreResult<()> {
        self.call("create_user", self.inner.create_user(user)).await
    }
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        self.call("user_by_email", self.inner.user_by_email(email))
            .await
    }
    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<UserRecord>> {
        self.call("user_by_id", self.inner.user_by_id(id)).await
    }
    async fn touch_last_login(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        self.call("touch_last_login", self.inner.touch_last_login(id, at))
            .await
    }
    async fn change_password(&self, id: Uuid, hash: &str, at: DateTime<Utc>) -> StoreResult<()> {
        self.call("change_password", self.inner.change_password(id, hash, at))
            .await
    }
}

#[async_trait]
impl SessionStore for GuardedStore {
    async fn create_session(&self, s: &NewSession, at: DateTime<Utc>) -> StoreResult<()> {
        self.call("create_session", self.inner.create_session(s, at))
            .await
    }
    async fn rotate_refresh(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        presented_jti: Uuid,
        next_jti: Uuid,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<Rotation> {
        let call =
            self.inner
                .rotate_refresh(session_id, user_id, presented_jti, next_jti, expires_at, at);
        self.call("rotate_refresh", call).await
    }
    async fn logout(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        access_jti: Uuid,
        access_exp: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let call = self
            .inner
            .logout(session_id, user_id, access_jti, access_exp, at);
        self.call("logout", call).await
    }
    async fn token_status(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        jti: Uuid,
    ) -> StoreResult<Option<TokenStatus>> {
        let call = self.inner.token_status(user_id, session_id, jti);
        self.call("token_status", call).await
    }
    async fn purge_expired(
        &self,
        now: DateTime<Utc>,
        session_cutoff: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.call(
            "purge_expired",
            self.inner.purge_expired(now, session_cutoff),
        )
        .await
    }
}

#[async_trait]
impl RateLimitStore for GuardedStore {
    async fn take_rate_token(
        &self,
        key: &str,
        now_us: i64,
        interval_us: i64,
        burst_us: i64,
    ) -> StoreResult<Option<i64>> {
        let call = self
            .inner
            .take_rate_token(key, now_us, interval_us, burst_us);
        self.call("take_rate_token", call).await
    }
}

#[async_trait]
impl TodoStore for GuardedStore {
    async fn insert_todo(
        &self,
        id: Uuid,
        user_id: Uuid,
        todo: &TodoWrite,
        tags: &[TagName],
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<TagRecord>> {
        let call = self.inner.insert_todo(id, user_id, todo, tags, at);
        self.call("insert_todo", call).await
    }
    async fn todo_by_id(&self, id: Uuid) -> StoreResult<Option<TodoWithTags>> {
        self.call("todo_by_id", self.inner.todo_by_id(id)).await
    }
    async fn update_todo(
        &self,
        id: Uuid,
        user_id: Uuid,
        expected_version: i64,
        todo: &TodoWrite,
        tags: Option<&[TagName]>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Vec<TagRecord>>> {
        let call = self
            .inner
            .update_todo(id, user_id, expected_version, todo, tags, at);
        self.call("update_todo", call).await
    }
    async fn delete_todo(
        &self,
        id: Uuid,
        user_id: Uuid,
        expected_version: Option<i64>,
    ) -> StoreResult<bool> {
        let call = self.inner.delete_todo(id, user_id, expected_version);
        self.call("delete_todo", call).await
    }
    async fn list_todos(&self, q: &TodoQuery) -> StoreResult<(Vec<TodoWithTags>, i64)> {
        self.call("list_todos", self.inner.list_todos(q)).await
    }
}

#[async_trait]
impl TagStore for GuardedStore {
    async fn insert_tag(&self, tag: &TagRecord, key: &str) -> StoreResult<()> {
        self.call("insert_tag", self.inner.insert_tag(tag, key))
            .await
    }
    async fn tag_by_id(&self, id: Uuid) -> StoreResult<Option<TagRecord>> {
        self.call("tag_by_id", self.inner.tag_by_id(id)).await
    }
    async fn list_tags(
        &self,
        user_id: Uuid,
        skip: i64,
        limit: i64,
    ) -> StoreResult<(Vec<TagRecord>, i64)> {
        self.call("list_tags", self.inner.list_tags(user_id, skip, limit))
            .await
    }
    async fn update_tag(&self, tag: &TagRecord, key: &str) -> StoreResult<()> {
        self.call("update_tag", self.inner.update_tag(tag, key))
            .await
    }
    async fn delete_tag(&self, id: Uuid, user_id: Uuid) -> StoreResult<bool> {
        self.call("delete_tag", self.inner.delete_tag(id, user_id))
            .await
    }
}

#[async_trait]
impl Store for GuardedStore {
    async fn ping(&self) -> StoreResult<()> {
        self.call("ping", self.inner.ping()).await
    }
    fn backend(&self) -> Backend {
        self.inner.backend()
    }
    fn pool_stats(&self) -> (u32, usize) {
        self.inner.pool_stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(threshold: u32) -> CircuitBreaker {
        CircuitBreaker::new(BreakerSettings {
            failure_threshold: threshold,
            cooldown: Duration::from_secs(2),
        })
    }

    fn fail(b: &CircuitBreaker, at: Instant) {
        b.try_acquire_at(at)
            .expect("admitted")
            .finish_at(Outcome::Failure, at);
    }

    #[test]
    fn opens_after_consecutive_failures_only() {
        let b = breaker(3);
        let t0 = Instant::now();
        fail(&b, t0);
        fail(&b, t0);
        // A success in between resets the count.
        b.try_acquire_at(t0)
            .unwrap()
            .finish_at(Outcome::Success, t0);
        fail(&b, t0);
        fail(&b, t0);
        // Neutral outcomes neither count nor reset.
        b.try_acquire_at(t0)
            .unwrap()
            .finish_at(Outcome::Neutral, t0);
        assert_eq!(b.state(), BreakerState::Closed);
        fail(&b, t0);
        assert_eq!(b.state(), BreakerState::Open);
        let rejected = b
            .try_acquire_at(t0 + Duration::from_millis(500))
            .unwrap_err();
        assert_eq!(rejected.retry_in, Duration::from_millis(1500));
    }

    #[test]
    fn half_open_lets_one_probe_through_and_closes_on_success() {
        let b = breaker(1);
        let t0 = Instant::now();
        fail(&b, t0);
        let later = t0 + Duration::from_secs(2);
        let probe = b.try_acquire_at(later).expect("the probe is admitted");
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.try_acquire_at(later).is_err(), "only one probe at a time");
        probe.finish_at(Outcome::Success, later);
        assert_eq!(b.state(), BreakerState::Closed);
        b.try_acquire_at(later)
            .expect("closed again")
            .finish_at(Outcome::Success, later);
    }

    #[test]
    fn a_failed_probe_reopens_for_a_full_cooldown() {
        let b = breaker(1);
        let t0 = Instant::now();
        fail(&b, t0);
        let t1 = t0 + Duration::from_secs(3);
        b.try_acquire_at(t1)
            .unwrap()
            .finish_at(Outcome::Failure, t1);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.try_acquire_at(t1 + Duration::from_millis(1999)).is_err());
        assert!(b.try_acquire_at(t1 + Duration::from_secs(2)).is_ok());
    }

    #[test]
    fn a_cancelled_probe_lets_the_next_call_probe() {
        let b = breaker(1);
        let t0 = Instant::now();
        fail(&b, t0);
        let t1 = t0 + Duration::from_secs(2);
        drop(b.try_acquire_at(t1).unwrap());
        assert_eq!(b.state(), BreakerState::Open);
        let probe = b.try_acquire_at(t1).expect("a new probe right away");
        probe.finish_at(Outcome::Success, t1);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn stale_outcomes_are_ignored() {
        let b = breaker(1);
        let t0 = Instant::now();
        let slow = b.try_acquire_at(t0).unwrap();
        fail(&b, t0);
        assert_eq!(b.state(), BreakerState::Open);
        // A call admitted before the breaker opened succeeds late: it proves nothing now.
        slow.finish_at(Outcome::Success, t0);
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn threshold_zero_never_opens() {
        let b = breaker(0);
        let t0 = Instant::now();
        for _ in 0..100 {
            fail(&b, t0);
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
