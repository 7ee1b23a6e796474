//! Slow, idle and too many clients: the acceptor the server runs on and the
//! per-connection state that the request wrapper ([`guard`]) and the connection's IO
//! ([`GuardedIo`]) share.
//!
//! poem 3.1 exposes neither hyper's header-read timeout nor a connection cap, and its
//! `idle_timeout` counts every read as activity (a byte every few seconds keeps a
//! connection forever) and closes gracefully, which leaves a half-sent request open. So
//! the deadlines live in the connection's IO instead:
//! - a new connection, or an idle one that received a byte, must complete its request
//!   headers within `HEADER_READ_TIMEOUT_SECONDS`, else its read fails and hyper drops it;
//! - an idle keep-alive connection (no request in flight, nothing received since the last
//!   one ended) reads end-of-file after `IDLE_TIMEOUT_SECONDS`, and hyper closes it;
//! - a request's body must be complete within `BODY_READ_TIMEOUT_SECONDS` of its headers
//!   ([`guard`] wraps the body), else the connection is closed without an answer (the
//!   catalog has no code for a timeout; the client sees the close);
//! - a body that no operation can use (unknown route or method, bearer operation
//!   without `Authorization`) is not handed on: the answer goes out at once and the body
//!   is read into nothing behind it ([`guard`]);
//! - beyond `MAX_CONNECTIONS` open connections, a new one is closed as soon as it is
//!   accepted, so the ones in progress and the process's file descriptors are kept.
//!
//! "Headers complete" is when the request reaches [`guard`]: poem hands the endpoint the
//! peer address, and the connection's state is found by it in [`Connections`].

mod io;
mod request;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::{Duration, Instant};

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use io::GuardedIo;
pub use request::{guard, BodyGate, RequestGuard};

use crate::config::ConnectionSettings;
use crate::metrics::Metrics;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every write below is one step: the state stays consistent after a panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The open connections of one server, by peer address, and the cap on their number.
pub struct Connections {
    settings: ConnectionSettings,
    open: Mutex<HashMap<SocketAddr, Arc<ConnState>>>,
    permits: Arc<Semaphore>,
    max: usize,
    metrics: Arc<Metrics>,
    /// When a refused or failed accept was last logged (at most one line per 10 s).
    last_warning: Mutex<Option<Instant>>,
}

impl Connections {
    /// At most `max` connections open at once (`settings.max_connections`, lowered by
    /// the caller to what the open-files limit allows).
    pub fn new(settings: ConnectionSettings, max: usize, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Connections {
            settings,
            open: Mutex::new(HashMap::new()),
            permits: Arc::new(Semaphore::new(max)),
            max,
            metrics,
            last_warning: Mutex::new(None),
        })
    }

    /// Connections open now.
    pub fn open_count(&self) -> usize {
        lock(&self.open).len()
    }

    /// The state of the connection a request came on.
    pub fn of(&self, remote: &RemoteAddr) -> Option<Arc<ConnState>> {
        let addr = remote.as_socket_addr()?;
        lock(&self.open).get(addr).cloned()
    }

    /// A place for a new connection from `remote`, or `None` when all are taken.
    fn admit(&self, remote: &RemoteAddr) -> Option<(OwnedSemaphorePermit, Arc<ConnState>)> {
        let permit = self.permits.clone().try_acquire_owned().ok()?;
        let state = Arc::new(ConnState::new(self.settings));
        if let Some(addr) = remote.as_socket_addr() {
            lock(&self.open).insert(*addr, state.clone());
        }
        Some((permit, state))
    }

    /// Forgets a closed connection (unless its address was taken over since).
    fn leave(&self, addr: Option<SocketAddr>, state: &Arc<ConnState>) {
        let Some(addr) = addr else { return };
        let mut open = lock(&self.open);
        if open.get(&addr).is_some_and(|s| Arc::ptr_eq(s, state)) {
            open.remove(&addr);
        }
    }

    fn closed(&self, reason: &str) {
        self.metrics.connection_closed(reason);
    }

    /// Logs `message` unless something was logged in the last 10 s.
    fn warn_now_and_then(&self, message: &str) {
        let mut last = lock(&self.last_warning);
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            *last = Some(Instant::now());
            tracing::warn!("{message}");
        }
    }
}

/// What one connection is doing, as far as its deadlines are concerned.
struct Phase {
    /// Requests that reached the endpoint and have not been answered yet.
    in_flight: usize,
    /// Bytes arrived (or the connection is new) while no request was in flight: the
    /// headers of a request are being read.
    reading: bool,
    /// When the current idle or header-reading time began.
    since: Instant,
}

/// Why a connection was closed by its own deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    Header,
    Idle,
}

impl Expiry {
    fn label(self) -> &'static str {
        match self {
            Expiry::Header => "header_timeout",
            Expiry::Idle => "idle_timeout",
        }
    }
}

/// One connection's state, shared by its IO and the requests it carries.
pub struct ConnState {
    settings: ConnectionSettings,
    phase: Mutex<Phase>,
    /// Set once the connection is to be closed: every read and write fails.
    doomed: AtomicBool,
    /// The IO's last pending read, woken when the state changes under it.
    reader: Mutex<Option<Waker>>,
}

impl ConnState {
    fn new(settings: ConnectionSettings) -> Self {
        ConnState {
            settings,
            phase: Mutex::new(Phase {
                in_flight: 0,
                reading: true,
                since: Instant::now(),
            }),
            doomed: AtomicBool::new(false),
            reader: Mutex::new(None),
        }
    }

    /// The deadline the connection's reads are under now, if any.
    fn deadline(&self) -> Option<(Instant, Expiry)> {
        let phase = lock(&self.phase);
        match (phase.in_flight, phase.reading) {
            (0, true) => Some((
                phase.since + self.settings.header_read_timeout,
                Expiry::Header,
            )),
            (0, false) => Some((phase.since + self.settings.idle_timeout, Expiry::Idle)),
            _ => None,
        }
    }

    /// Bytes arrived: while idle, they start a request whose headers have a deadline.
    fn received(&self) {
        let mut phase = lock(&self.phase);
        if phase.in_flight == 0 && !phase.reading {
            phase.reading = true;
            phase.since = Instant::now();
        }
    }

    /// A request's headers are complete; it is in flight until the guard drops.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        lock(&self.phase).in_flight += 1;
        InFlight(self.clone())
    }

    /// Closes the connection: its reads and writes fail from now on.
    pub fn doom(&self) {
        self.doomed.store(true, Ordering::Release);
        self.wake_reader();
    }

    fn is_doomed(&self) -> bool {
        self.doomed.load(Ordering::Acquire)
    }

    fn park_reader(&self, waker: &Waker) {
        let mut reader = lock(&self.reader);
        if !reader.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *reader = Some(waker.clone());
        }
    }

    fn wake_reader(&self) {
        if let Some(w) = lock(&self.reader).take() {
            w.wake();
        }
    }
}

/// A request in flight on its connection; dropping it makes the connection idle again
/// once no other request is in flight.
pub struct InFlight(Arc<ConnState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut phase = lock(&self.0.phase);
        phase.in_flight = phase.in_flight.saturating_sub(1);
        if phase.in_flight == 0 {
            phase.reading = false;
            phase.since = Instant::now();
        }
        drop(phase);
        // The read pending under the old state has no deadline armed: re-arm it.
        self.0.wake_reader();
    }
}

/// The server's acceptor: `inner`'s connections, capped, each in a [`GuardedIo`].
pub struct GuardedAcceptor<A> {
    inner: A,
    connections: Arc<Connections>,
}

impl<A> GuardedAcceptor<A> {
    pub fn new(inner: A, connections: Arc<Connections>) -> Self {
        GuardedAcceptor { inner, connections }
    }
}

impl<A: Acceptor> Acceptor for GuardedAcceptor<A> {
    type Io = GuardedIo<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> std::io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        loop {
            let (io, local, remote, scheme) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, typically: poem would retry at once, in
                    // a busy loop; give the open connections a moment to end instead.
                    let c = &self.connections;
                    c.warn_now_and_then(&format!("accepting a connection failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let c = &self.connections;
            let Some((permit, state)) = c.admit(&remote) else {
                drop(io);
                c.closed("over_limit");
                let full = format!("{} connections are open (the cap): closing new ones", c.max);
                c.warn_now_and_then(&full);
                continue;
            };
            let addr = remote.as_socket_addr().copied();
            let io = GuardedIo::new(io, state, permit, addr, c.clone());
            return Ok((io, local, remote, scheme));
        }
    }
}

/// `wanted` connections, lowered so that they and `reserve` other descriptors (the
/// database pool, files, the listener) fit under the process's open-files limit; the
/// soft limit is raised first, as far as the hard limit allows.
pub fn fit_open_files(wanted: usize, reserve: usize) -> usize {
    let needed = wanted.saturating_add(reserve);
    let Some(soft) = open_files_limit(needed) else {
        return wanted;
    };
    let room = soft.saturating_sub(reserve).max(1);
    if room < wanted {
        tracing::warn!(
            max_connections = wanted,
            open_files_limit = soft,
            "MAX_CONNECTIONS does not fit under the open-files limit (ulimit -n); serving at \
             most {room} connections: raise the limit or lower MAX_CONNECTIONS"
        );
        return room;
    }
    wanted
}

/// The soft open-files limit, raised towards `needed` (up to the hard limit) if lower.
fn open_files_limit(needed: usize) -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read or write the struct they are given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    let needed = libc::rlim_t::try_from(needed).unwrap_or(libc::rlim_t::MAX);
    if limit.rlim_cur < needed {
        let raised = libc::rlimit {
            rlim_cur: needed.min(limit.rlim_max),
            rlim_max: limit.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit.rlim_cur = raised.rlim_cur;
        }
    }
    Some(usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX))
}
