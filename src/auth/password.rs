//! Argon2id hashing on a fixed pool of worker threads, and the password strength policy.
//!
//! Dedicated long-lived threads (rather than tokio's blocking pool, whose threads come
//! and go) bound how many hashes run at once, and so how much Argon2 memory (~19 MiB
//! each) is in use; `crate::memory` makes sure it is handed back afterwards.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use argon2::{Algorithm, Argon2, PasswordHash, PasswordHasher as _, PasswordVerifier, Version};
use prometheus::core::Collector;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge};
use tokio::sync::{oneshot, watch};

use crate::config::Argon2Params;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::memory::release_free_memory;
use crate::wire::{MAX_PASSWORD, MIN_PASSWORD};

/// Hashes and verifies passwords off the async executor, at most `workers` at a time;
/// when more than `queue` calls wait, new ones fail fast with 503 (SERVER_001).
pub struct PasswordHasher {
    jobs: Mutex<mpsc::Sender<Job>>,
    in_flight: AtomicUsize,
    capacity: usize,
    /// A hash of a random password, made on a worker as soon as the hasher is built
    /// (`None` until then), so that even the first unknown-email login costs one
    /// verification, like a known one.
    dummy_hash: watch::Receiver<Option<String>>,
    counters: HashCounters,
}

/// The hasher's series: `password_hash_queue_depth` (jobs waiting for a worker),
/// `password_hash_wait_seconds` (how long a job waited for one) and
/// `password_hash_rejections_total` (calls refused with 503: the queue was full).
#[derive(Clone)]
struct HashCounters {
    queued: IntGauge,
    wait: Histogram,
    rejected: IntCounter,
}

impl HashCounters {
    fn new() -> Self {
        let buckets = vec![
            0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ];
        HashCounters {
            queued: IntGauge::new(
                "password_hash_queue_depth",
                "Password hashing jobs waiting for a worker thread",
            )
            .expect("valid metric"),
            wait: Histogram::with_opts(
                HistogramOpts::new(
                    "password_hash_wait_seconds",
                    "How long a password hashing job waited for a worker thread",
                )
                .buckets(buckets),
            )
            .expect("valid metric"),
            rejected: IntCounter::new(
                "password_hash_rejections_total",
                "Password hashing calls refused (503) because the queue was full",
            )
            .expect("valid metric"),
        }
    }
}

/// Work for a hashing thread; it answers through a channel captured in the closure.
type Job = Box<dyn FnOnce(&Argon2<'static>) + Send>;

/// Runs jobs until the hasher (the only sender) is dropped.
fn worker(argon: Argon2<'static>, jobs: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => {
                job(&argon);
                // Whatever the hash freed into this thread's arena goes back to the OS.
                release_free_memory();
            }
            Err(_) => return,
        }
    }
}

impl PasswordHasher {
    pub fn new(params: Argon2Params, workers: usize, queue: usize) -> anyhow::Result<Self> {
        let p = argon2::Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters: {e}"))?;
        let workers = workers.max(1);
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers {
            let (argon, rx) = (argon.clone(), rx.clone());
            std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || worker(argon, rx))?;
        }
        let (dummy_tx, dummy_hash) = watch::channel(None);
        let dummy: Job = Box::new(move |argon| {
            let password = uuid::Uuid::new_v4().to_string();
            if let Ok(hash) = argon.hash_password(password.as_bytes()) {
                let _ = dummy_tx.send(Some(hash.to_string()));
            }
        });
        tx.send(dummy)
            .map_err(|_| anyhow::anyhow!("the hashing threads did not start"))?;
        Ok(PasswordHasher {
            jobs: Mutex::new(tx),
            in_flight: AtomicUsize::new(0),
            capacity: workers + queue,
            dummy_hash,
            counters: HashCounters::new(),
        })
    }

    /// A PHC string (`$argon2id$…`) for `password`.
    pub async fn hash(&self, password: String) -> ApiResult<String> {
        self.run(move |argon| {
            argon
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| ApiError::internal(anyhow::anyhow!("argon2 hash failed: {e}")))
        })
        .await?
    }

    /// Whether `password` matches the stored PHC string.
    pub async fn verify(&self, password: String, phc: String) -> ApiResult<bool> {
        self.run(move |argon| match PasswordHash::new(&phc) {
            Ok(parsed) => argon.verify_password(password.as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        })
        .await
    }

    /// Spends one verification on a dummy hash, so unknown emails cost as much as known ones.
    /// Waits for the start-up hash if it is not made yet (only right after start-up).
    pub async fn verify_dummy(&self, password: String) -> ApiResult<()> {
        let mut ready = self.dummy_hash.clone();
        let made = ready
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|h| h.clone());
        let dummy = match made {
            Some(hash) => hash,
            // The start-up job failed (it cannot with valid parameters): hash now.
            None => self.hash(uuid::Uuid::new_v4().to_string()).await?,
        };
        self.verify(password, dummy).await.map(|_| ())
    }

    /// The hasher's series, for the metrics registry.
    pub fn collectors(&self) -> Vec<Box<dyn Collector>> {
        let c = &self.counters;
        vec![
            Box::new(c.queued.clone()),
            Box::new(c.wait.clone()),
            Box::new(c.rejected.clone()),
        ]
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Argon2<'static>) -> T + Send + 'static,
    ) -> ApiResult<T> {
        let Some(_slot) = QueueSlot::take(&self.in_flight, self.capacity) else {
            self.counters.rejected.inc();
            return Err(ApiError::Unavailable {
                retry_after_secs: 1,
            });
        };
        let span = tracing::info_span!("password_hash");
        let (tx, rx) = oneshot::channel();
        let counters = self.counters.clone();
        let queued_at = Instant::now();
        counters.queued.inc();
        let job: Job = Box::new(move |argon| {
            counters.queued.dec();
            counters.wait.observe(queued_at.elapsed().as_secs_f64());
            let _ = tx.send(span.in_scope(|| f(argon)));
        });
        let sent = match self.jobs.lock() {
            Ok(jobs) => jobs.send(job).map_err(|_| "hashing threads are gone"),
            Err(_) => Err("hasher lock poisoned"),
        };
        if let Err(why) = sent {
            // The job will never run: it is not waiting any more.
            self.counters.queued.dec();
            return Err(ApiError::internal(anyhow::anyhow!(why)));
        }
        rx.await
            .map_err(|_| ApiError::internal(anyhow::anyhow!("a hashing job was dropped")))
    }
}

/// One place in the bounded hashing queue, released on drop.
struct QueueSlot<'a>(&'a AtomicUsize);

impl<'a> QueueSlot<'a> {
    fn take(counter: &'a AtomicUsize, capacity: usize) -> Option<Self> {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < capacity).then_some(n + 1)
            })
            .ok()
            .map(|_| QueueSlot(counter))
    }
}

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Checks the strength policy: 8..=128 characters with an ASCII upper-case and
/// lower-case letter, a digit and a special character (anything else), the rule the
/// spec states as [`crate::wire::password_policy`].
pub fn check_strength(field: &str, password: &str) -> ApiResult<()> {
    let len = password.chars().count();
    let weak = |why: &str| {
        Err(ApiError::invalid(
            ErrorCode::VALIDATION_002,
            field,
            format!("Password too weak: {why}"),
        ))
    };
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&len) {
        return weak(&format!(
            "it must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long"
        ));
    }
    let has = |f: fn(char) -> bool| password.chars().any(f);
    if !has(|c| c.is_ascii_uppercase()) {
        return weak("add an upper-case letter (A-Z)");
    }
    if !has(|c| c.is_ascii_lowercase()) {
        return weak("add a lower-case letter (a-z)");
    }
    if !has(|c| c.is_ascii_digit()) {
        return weak("add a digit");
    }
    if !has(|c| !c.is_ascii_alphanumeric()) {
        return weak("add a special character");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        let p = Argon2Params {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        };
        PasswordHasher::new(p, 1, 0).unwrap()
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let h = cheap();
        let phc = h.hash("Secret#123".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{phc}");
        assert!(h.verify("Secret#123".into(), phc.clone()).await.unwrap());
        assert!(!h.verify("Secret#124".into(), phc).await.unwrap());
        assert!(!h.verify("x".into(), "not a hash".into()).await.unwrap());
        h.verify_dummy("whatever".into()).await.unwrap();
    }

    /// The dummy hash exists before any unknown-email login asks for it, so the first
    /// such login costs one verification, not a hash and a verification.
    #[tokio::test]
    async fn the_dummy_hash_is_made_at_start_up() {
        let h = cheap();
        let mut ready = h.dummy_hash.clone();
        // Nothing asks for it: were it lazy, this would never resolve (the bound only
        // turns a hang into a failure).
        let made = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            ready.wait_for(Option::is_some),
        )
        .await
        .expect("the dummy hash is made without any login")
        .expect("the hasher is alive")
        .clone();
        let phc = made.expect("a hash");
        assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{phc}");
        assert_eq!(h.in_flight.load(Ordering::SeqCst), 0, "no job is waiting");
    }

    #[test]
    fn strength_policy() {
        assert!(check_strength("password", "Secret#123").is_ok());
        for weak in [
            "Sh#1a",
            "alllower#1",
            "ALLUPPER#1",
            "NoDigits#x",
            "NoSpecial1a",
            "Ünïcödé#1x",
            &"Aa1#".repeat(33),
        ] {
            assert!(check_strength("password", weak).is_err(), "{weak}");
        }
        assert!(check_strength("password", "ÜberSecret1ß").is_ok());
    }

    proptest::proptest! {
        /// The documented pattern (with the length bounds) accepts exactly the
        /// passwords the policy accepts.
        #[test]
        fn policy_and_pattern_agree(pw in "[A-Za-z0-9#é \n]{0,12}|.{6,10}") {
            let re = regex::Regex::new(crate::wire::password_policy()).unwrap();
            let len = pw.chars().count();
            let documented = (MIN_PASSWORD..=MAX_PASSWORD).contains(&len) && re.is_match(&pw);
            proptest::prop_assert_eq!(documented, check_strength("password", &pw).is_ok(), "{:?}", pw);
        }
    }

    #[test]
    fn queue_slots_are_bounded_and_released() {
        let n = AtomicUsize::new(0);
        let a = QueueSlot::take(&n, 2).unwrap();
        let _b = QueueSlot::take(&n, 2).unwrap();
        assert!(QueueSlot::take(&n, 2).is_none());
        drop(a);
        assert!(QueueSlot::take(&n, 2).is_some());
    }
}
