//! The PostgreSQL listener behind the session cache: it LISTENs on the channel the
//! auth triggers NOTIFY on and feeds every invalidation into the cache.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::auth::session_cache::{Invalidation, SessionCache};

/// The NOTIFY channel the triggers send on.
pub const CHANNEL: &str = "todo_api_auth";

/// How often a quiet listener checks that its connection is still there.
const LISTENER_PING: Duration = Duration::from_secs(15);

/// Feeds `cache` from PostgreSQL notifications for as long as the returned task
/// runs, reconnecting (and flushing) after any failure.
pub fn listen(cache: &Arc<SessionCache>, pool: sqlx::PgPool) -> tokio::task::JoinHandle<()> {
    let cache = Arc::downgrade(cache);
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match listen_once(&cache, &pool).await {
                Ok(()) => return, // the cache was dropped
                Err(e) => {
                    if let Some(c) = cache.upgrade() {
                        c.set_live(false);
                    } else {
                        return;
                    }
                    tracing::warn!(error = %e, "session cache listener lost; cache off until it reconnects");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    })
}

/// One listener connection's life: LISTEN, switch the cache on, apply notifications.
/// Returns `Ok` when the cache is gone, an error when the connection failed.
async fn listen_once(cache: &Weak<SessionCache>, pool: &sqlx::PgPool) -> Result<(), sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    match cache.upgrade() {
        Some(c) => c.set_live(true),
        None => return Ok(()),
    }
    loop {
        match tokio::time::timeout(LISTENER_PING, listener.try_recv()).await {
            Ok(Ok(Some(n))) => {
                let Some(c) = cache.upgrade() else {
                    return Ok(());
                };
                match Invalidation::parse(n.payload()) {
                    Some(what) => c.invalidate(what),
                    // Unknown payload: flush rather than guess.
                    None => c.set_live(true),
                }
            }
            // The connection was lost. `try_recv` would quietly reconnect next time, and
            // notifications sent in between would be missed: start over, flushed.
            Ok(Ok(None)) => return Err(sqlx::Error::PoolClosed),
            Ok(Err(e)) => return Err(e),
            Err(_quiet) => {
                if cache.strong_count() == 0 {
                    return Ok(());
                }
                let ping = sqlx::query("SELECT 1").execute(&mut listener);
                match tokio::time::timeout(LISTENER_PING, ping).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(e),
                    Err(_) => return Err(sqlx::Error::PoolTimedOut),
                }
            }
        }
    }
}
