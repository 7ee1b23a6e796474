//! The database's circuit breaker: a consecutive-failure state machine.
//!
//! `failure_threshold` consecutive connection-class failures open it; while open, calls
//! fail at once; after `cooldown` one call is let through as a probe (half-open), and
//! its success closes the breaker again. [`super::Guard`] asks it before every call.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

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

impl BreakerState {
    /// The state's name in `db_circuit_breaker_state{state}`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
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

    // long: one match over every transition of the state machine reads best whole.
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
