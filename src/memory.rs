//! Giving freed heap memory back to the operating system.
//!
//! glibc keeps freed memory in its per-thread arenas for reuse. After a burst (a login
//! storm: ~19 MiB of Argon2 memory per hash; many concurrent requests) the process would
//! hold on to that memory while idle, so it is handed back after each hash and, for the
//! request threads, periodically.

use std::time::Duration;

/// How often the request threads' freed memory is handed back.
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Returns free heap pages of every arena to the OS (glibc on Linux; elsewhere a no-op).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the OS; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Trims every [`TRIM_EVERY`] on tokio's blocking pool for as long as the task runs.
pub fn spawn_periodic_trim() -> tokio::task::JoinHandle<()> {
    tokio::spawn(async {
        let mut tick = tokio::time::interval(TRIM_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let _ = tokio::task::spawn_blocking(release_free_memory).await;
        }
    })
}
