//! An in-process cache of the sessions whose access tokens passed the database check,
//! so that most requests need no token round trip.
//!
//! It is only trusted while invalidations are proven to arrive: on PostgreSQL, triggers
//! NOTIFY every instance when a session is revoked or deleted and when a user is
//! deactivated, deleted or has an access token revoked
//! (`migrations/postgres/0004_auth_notify.up.sql`), and the auth store's listener
//! (`auth/store/listen.rs`) feeds them in here. Each heartbeat the listener gets back
//! proves that everything committed before it was sent has been applied, and lets the
//! cache answer until a little after ([`SessionCache::prove_live`]); once that time has
//! passed without a new proof (the listener's connection may be dead without anyone
//! knowing yet), the cache answers nothing and every token is checked in the database.
//! When the listener fails, the cache is flushed and stays unused until the new
//! connection's first heartbeat, so a revocation sent while it was away is never missed.
//! On SQLite the cache stays off.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use prometheus::core::Collector;
use prometheus::{IntCounter, IntCounterVec, Opts};
use uuid::Uuid;

/// How long a checked session is trusted without hearing of it (a safety net: the
/// notifications are what keep the cache right).
const TTL: Duration = Duration::from_secs(60);

/// Most sessions held; a full cache drops its expired entries, then everything.
const MAX_ENTRIES: usize = 100_000;

/// What stopped being valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalidation {
    Session(Uuid),
    User(Uuid),
}

impl Invalidation {
    /// Parses a trigger payload (`session:<id>` or `user:<id>`).
    pub fn parse(payload: &str) -> Option<Self> {
        let (kind, id) = payload.split_once(':')?;
        let id = Uuid::parse_str(id).ok()?;
        match kind {
            "session" => Some(Invalidation::Session(id)),
            "user" => Some(Invalidation::User(id)),
            _ => None,
        }
    }
}

struct Entry {
    user_id: Uuid,
    until: Instant,
}

#[derive(Default)]
struct State {
    /// Bumped by every invalidation: a check that started before one is not cached.
    epoch: u64,
    sessions: HashMap<Uuid, Entry>,
    /// Until when the listener's last heartbeat lets the cache answer (`None`: the
    /// listener is not connected).
    live_until: Option<Instant>,
}

impl State {
    fn live(&self) -> bool {
        self.live_until.is_some_and(|t| t > Instant::now())
    }

    fn flush(&mut self) {
        self.epoch += 1;
        self.sessions.clear();
    }
}

/// The cache's series: `session_cache_lookups_total{result}` (`hit`, `miss`, `off`:
/// the cache did not answer) and `session_listener_heartbeats_total` (proofs of
/// liveness received; its rate is the listener's pulse).
struct CacheCounters {
    lookups: IntCounterVec,
    heartbeats: IntCounter,
}

impl Default for CacheCounters {
    fn default() -> Self {
        let lookups = IntCounterVec::new(
            Opts::new(
                "session_cache_lookups_total",
                "Session cache lookups by result: hit, miss, off (the cache was not live and did not answer)",
            ),
            &["result"],
        )
        .expect("valid metric");
        for result in ["hit", "miss", "off"] {
            lookups.with_label_values(&[result]);
        }
        let heartbeats = IntCounter::new(
            "session_listener_heartbeats_total",
            "Heartbeats the session cache's revocation listener got back (PostgreSQL)",
        )
        .expect("valid metric");
        CacheCounters {
            lookups,
            heartbeats,
        }
    }
}

/// Sessions known to be live, trusted only while invalidations are proven to arrive.
#[derive(Default)]
pub struct SessionCache {
    state: Mutex<State>,
    went_live: tokio::sync::Notify,
    counters: CacheCounters,
}

impl SessionCache {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every write is one step.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cache's series, for the metrics registry.
    pub fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.counters.lookups.clone()),
            Box::new(self.counters.heartbeats.clone()),
        ]
    }

    /// Whether session `sid` of `user_id` was found live and nothing has revoked it since.
    pub fn contains(&self, sid: Uuid, user_id: Uuid) -> bool {
        let state = self.lock();
        let (found, result) = if !state.live() {
            (false, "off")
        } else if state
            .sessions
            .get(&sid)
            .is_some_and(|e| e.user_id == user_id && e.until > Instant::now())
        {
            (true, "hit")
        } else {
            (false, "miss")
        };
        drop(state);
        self.counters.lookups.with_label_values(&[result]).inc();
        found
    }

    /// Call before a database check; pass the result to [`SessionCache::insert`].
    /// `None` while the cache is off.
    pub fn epoch(&self) -> Option<u64> {
        let state = self.lock();
        state.live().then_some(state.epoch)
    }

    /// Remembers a session the database found live, unless anything was invalidated
    /// since `epoch` was read (the check may predate a revocation).
    pub fn insert(&self, epoch: u64, sid: Uuid, user_id: Uuid) {
        let mut state = self.lock();
        if state.epoch != epoch || !state.live() {
            return;
        }
        if state.sessions.len() >= MAX_ENTRIES {
            let now = Instant::now();
            state.sessions.retain(|_, e| e.until > now);
            if state.sessions.len() >= MAX_ENTRIES {
                state.sessions.clear();
            }
        }
        let until = Instant::now() + TTL;
        state.sessions.insert(sid, Entry { user_id, until });
    }

    /// Forgets what `what` names.
    pub fn invalidate(&self, what: Invalidation) {
        let mut state = self.lock();
        state.epoch += 1;
        match what {
            Invalidation::Session(sid) => {
                state.sessions.remove(&sid);
            }
            Invalidation::User(user_id) => state.sessions.retain(|_, e| e.user_id != user_id),
        }
    }

    /// Forgets everything (a notification the cache cannot read).
    pub fn flush(&self) {
        self.lock().flush();
    }

    /// The listener lost its connection (or has not got one): flushed, and off until
    /// a new connection proves itself.
    pub fn set_offline(&self) {
        let mut state = self.lock();
        state.flush();
        state.live_until = None;
    }

    /// The listener has applied everything committed until shortly before `until`:
    /// the cache may answer until then (a later proof extends it).
    pub fn prove_live(&self, until: Instant) {
        self.counters.heartbeats.inc();
        let mut state = self.lock();
        let was_live = state.live();
        state.live_until = state.live_until.max(Some(until));
        let live = state.live();
        drop(state);
        if live && !was_live {
            self.went_live.notify_waiters();
        }
    }

    /// Whether the cache answers now (its listener's last proof has not run out).
    pub fn is_live(&self) -> bool {
        self.lock().live()
    }

    /// Waits (at most `limit`) until the listener is connected; whether it is.
    pub async fn wait_live(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            // Registered before the check, so a wake-up in between is not lost.
            let went_live = self.went_live.notified();
            if self.is_live() {
                return true;
            }
            if tokio::time::timeout_at(deadline, went_live).await.is_err() {
                return self.is_live();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> SessionCache {
        let c = SessionCache::default();
        c.prove_live(Instant::now() + Duration::from_secs(600));
        c
    }

    #[test]
    fn off_until_live_and_flushed_when_it_goes_off() {
        let c = SessionCache::default();
        let (sid, uid) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(c.epoch(), None);
        c.insert(0, sid, uid);
        assert!(!c.contains(sid, uid));
        c.prove_live(Instant::now() + Duration::from_secs(600));
        let e = c.epoch().expect("live");
        c.insert(e, sid, uid);
        assert!(c.contains(sid, uid));
        assert!(
            !c.contains(sid, Uuid::now_v7()),
            "another user's token with this sid"
        );
        c.set_offline();
        assert!(!c.contains(sid, uid));
        c.prove_live(Instant::now() + Duration::from_secs(600));
        assert!(!c.contains(sid, uid), "a reconnect starts empty");
    }

    #[test]
    fn answers_nothing_once_the_last_proof_has_run_out() {
        let c = live();
        let (sid, uid) = (Uuid::now_v7(), Uuid::now_v7());
        let e = c.epoch().unwrap();
        c.insert(e, sid, uid);
        assert!(c.contains(sid, uid));
        // The proof runs out: no heartbeat came back since (a silent listener).
        c.lock().live_until = Some(Instant::now());
        assert!(!c.is_live());
        assert!(!c.contains(sid, uid), "not without a live proof");
        assert_eq!(c.epoch(), None);
        // The next heartbeat on the same connection: nothing was missed, it answers again.
        c.prove_live(Instant::now() + Duration::from_secs(600));
        assert!(c.contains(sid, uid));
    }

    #[test]
    fn a_check_that_predates_an_invalidation_is_not_cached() {
        let c = live();
        let (sid, uid) = (Uuid::now_v7(), Uuid::now_v7());
        let e = c.epoch().unwrap();
        c.invalidate(Invalidation::Session(sid));
        c.insert(e, sid, uid);
        assert!(!c.contains(sid, uid));
    }

    #[test]
    fn invalidates_sessions_and_users() {
        let c = live();
        let uid = Uuid::now_v7();
        let (a, b, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let other_user = Uuid::now_v7();
        for (sid, user) in [(a, uid), (b, uid), (other, other_user)] {
            let e = c.epoch().unwrap();
            c.insert(e, sid, user);
        }
        c.invalidate(Invalidation::Session(a));
        assert!(!c.contains(a, uid) && c.contains(b, uid));
        c.invalidate(Invalidation::User(uid));
        assert!(!c.contains(b, uid));
        assert!(c.contains(other, other_user));
    }

    #[test]
    fn parses_trigger_payloads() {
        let id = Uuid::now_v7();
        assert_eq!(
            Invalidation::parse(&format!("session:{id}")),
            Some(Invalidation::Session(id))
        );
        assert_eq!(
            Invalidation::parse(&format!("user:{id}")),
            Some(Invalidation::User(id))
        );
        assert_eq!(Invalidation::parse("user:nope"), None);
        assert_eq!(Invalidation::parse(&format!("other:{id}")), None);
    }
}
