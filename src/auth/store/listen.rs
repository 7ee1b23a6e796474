//! The PostgreSQL listener behind the session cache: it LISTENs on the channel the
//! auth triggers NOTIFY on, feeds every invalidation into the cache, and proves that it
//! still receives them.
//!
//! The proof is a heartbeat: every [`HEARTBEAT`] the listener NOTIFYs a channel of its
//! own, on its own connection, and each heartbeat that comes back lets the cache answer
//! until [`LIVE_FOR`] after that heartbeat was sent. PostgreSQL delivers notifications
//! in commit order, so a revocation committed before a heartbeat was sent has been
//! applied when that heartbeat arrives: the cache never answers for a session revoked
//! more than [`LIVE_FOR`] ago. A connection that dies without a reset (packets dropped,
//! a half-open TCP connection) stops the heartbeats; the cache falls back to the
//! database once the last proof has run out, and the listener reconnects.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgListener, PgNotification, PgPoolOptions};

use crate::auth::session_cache::{Invalidation, SessionCache};

/// The NOTIFY channel the triggers send on.
pub const CHANNEL: &str = "todo_api_auth";

/// How often the listener sends itself a heartbeat.
pub const HEARTBEAT: Duration = Duration::from_millis(500);

/// How long after a heartbeat was sent its return lets the cache answer: the bound on
/// how late a revocation from another instance is honoured here.
pub const LIVE_FOR: Duration = Duration::from_millis(1500);

/// Longest wait for one heartbeat's query; longer fails the connection.
const ROUND_TRIP_LIMIT: Duration = Duration::from_secs(1);

/// No heartbeat back for this long: the connection is given up and made anew.
const SILENCE_LIMIT: Duration = Duration::from_secs(3);

/// Longest wait to connect and LISTEN.
const CONNECT_LIMIT: Duration = Duration::from_secs(5);

/// Feeds `cache` from PostgreSQL notifications for as long as the returned task
/// runs, reconnecting (and flushing) after any failure. The listener connects to `url`
/// (`DATABASE_LISTEN_URL`) when given, else where `pool` does, on a connection of its own.
pub fn listen(
    cache: &Arc<SessionCache>,
    pool: &sqlx::PgPool,
    url: Option<&str>,
) -> tokio::task::JoinHandle<()> {
    let cache = Arc::downgrade(cache);
    let options = url
        .and_then(|u| u.parse::<PgConnectOptions>().ok())
        .unwrap_or_else(|| (*pool.connect_options()).clone());
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            // A pool of its own per attempt: a dead connection's clean-up cannot hold
            // the next attempt's place.
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .max_lifetime(None)
                .idle_timeout(None)
                .connect_lazy_with(options.clone());
            match listen_once(&cache, &pool).await {
                Ok(()) => return, // the cache was dropped
                Err(e) => {
                    let Some(c) = cache.upgrade() else { return };
                    c.set_offline();
                    tracing::warn!(error = %e, "session cache listener lost; tokens are checked in the database until it reconnects");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    })
}

fn timed_out(what: &str) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        what.to_owned(),
    ))
}

/// One listener connection's life: LISTEN, then apply notifications and send
/// heartbeats. Returns `Ok` when the cache is gone, an error when the connection failed.
async fn listen_once(cache: &Weak<SessionCache>, pool: &sqlx::PgPool) -> Result<(), sqlx::Error> {
    let mut heartbeat = Heartbeat::new();
    let connect = async {
        let mut listener = PgListener::connect_with(pool).await?;
        // A lost connection ends this one (flushed) instead of a quiet reconnect, which
        // would miss what was sent in between.
        listener.eager_reconnect(false);
        listener
            .listen_all([CHANNEL, heartbeat.channel.as_str()])
            .await?;
        Ok::<_, sqlx::Error>(listener)
    };
    let mut listener = tokio::time::timeout(CONNECT_LIMIT, connect)
        .await
        .map_err(|_| timed_out("connecting the listener took over 5 s"))??;
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            received = listener.try_recv() => {
                let n = received?.ok_or(sqlx::Error::PoolClosed)?;
                let Some(c) = cache.upgrade() else { return Ok(()) };
                apply(&c, &mut heartbeat, &n);
            }
            _ = tick.tick() => {
                if cache.strong_count() == 0 {
                    return Ok(());
                }
                heartbeat.send(&mut listener).await?;
            }
        }
    }
}

/// One notification: a heartbeat of ours proves the cache live, an invalidation is
/// applied, anything else flushes the cache rather than guess.
fn apply(cache: &SessionCache, heartbeat: &mut Heartbeat, n: &PgNotification) {
    if n.channel() == heartbeat.channel {
        if let Some(sent) = heartbeat.returned(n.payload()) {
            cache.prove_live(sent + LIVE_FOR);
        }
        return;
    }
    match Invalidation::parse(n.payload()) {
        Some(what) => cache.invalidate(what),
        None => cache.flush(),
    }
}

/// The heartbeats of one listener connection: its channel, and when each one still
/// on its way was sent.
struct Heartbeat {
    channel: String,
    next: u64,
    sent: VecDeque<(u64, Instant)>,
    last_returned: Instant,
}

impl Heartbeat {
    fn new() -> Self {
        Heartbeat {
            channel: format!("todo_api_heartbeat_{}", uuid::Uuid::new_v4().simple()),
            next: 0,
            sent: VecDeque::new(),
            last_returned: Instant::now(),
        }
    }

    /// Sends the next heartbeat, unless the last ones never came back.
    async fn send(&mut self, listener: &mut PgListener) -> Result<(), sqlx::Error> {
        if self.last_returned.elapsed() > SILENCE_LIMIT {
            return Err(timed_out("no heartbeat came back for 3 s"));
        }
        let seq = self.next;
        self.next += 1;
        self.sent.push_back((seq, Instant::now()));
        if self.sent.len() > 64 {
            self.sent.pop_front();
        }
        let notify = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(&self.channel)
            .bind(seq.to_string())
            .execute(listener);
        tokio::time::timeout(ROUND_TRIP_LIMIT, notify)
            .await
            .map_err(|_| timed_out("a heartbeat was not answered within 1 s"))??;
        Ok(())
    }

    /// When the heartbeat `payload` came back: the time it was sent.
    fn returned(&mut self, payload: &str) -> Option<Instant> {
        let seq: u64 = payload.parse().ok()?;
        while self.sent.front().is_some_and(|(s, _)| *s < seq) {
            self.sent.pop_front();
        }
        let (s, at) = *self.sent.front()?;
        if s != seq {
            return None;
        }
        self.sent.pop_front();
        self.last_returned = Instant::now();
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_returned_heartbeat_gives_its_send_time_once() {
        let mut h = Heartbeat::new();
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(500);
        h.sent.extend([(0, t0), (1, t1)]);
        assert_eq!(h.returned("1"), Some(t1), "an older one may be skipped");
        assert_eq!(h.returned("0"), None);
        assert_eq!(h.returned("1"), None, "once");
        assert_eq!(h.returned("garbage"), None);
    }
}
