//! The external issuer's key set: fetched over HTTP(S), cached, refreshed after its
//! cache lifetime, refetched on an unknown `kid` at most once per refetch interval (a
//! flood of made-up `kid`s cannot hammer the issuer), and
//! kept while the issuer is unreachable (the last good keys go on working).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::metrics::Metrics;

/// The largest JWKS document read (a handful of keys is a few KiB).
const MAX_JWKS_BYTES: usize = 1 << 20;
/// How long one fetch may take, connection included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// What a key may verify: its type and curve decide the algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Ed25519,
    P256,
    P384,
    Rsa,
}

impl KeyKind {
    /// Whether a key of this kind verifies `alg` (the key-confusion guard).
    pub fn verifies(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        matches!(
            (self, alg),
            (KeyKind::Ed25519, EdDSA)
                | (KeyKind::P256, ES256)
                | (KeyKind::P384, ES384)
                | (KeyKind::Rsa, RS256 | RS384 | RS512 | PS256 | PS384 | PS512)
        )
    }
}

/// One usable verification key of the set.
pub struct Key {
    pub decoding: DecodingKey,
    pub kind: KeyKind,
    /// The key's own `alg`, when the JWKS names one: then only that algorithm.
    pub alg: Option<Algorithm>,
}

/// The keys of one successful fetch, by `kid`.
struct KeySet {
    keys: HashMap<String, Arc<Key>>,
    fetched_at: Instant,
}

#[derive(Default)]
struct CacheState {
    set: Option<Arc<KeySet>>,
    /// When the last refetch for an unknown `kid` started (at most one per interval).
    last_kid_refetch: Option<Instant>,
    /// When the last refresh of a stale (or missing) set started (likewise).
    last_refresh: Option<Instant>,
    /// Whether the last fetch failed (the issuer is unreachable or answers garbage).
    last_failed: bool,
}

/// The answer to "which key is `kid`?".
pub enum KeyLookup {
    Found(Arc<Key>),
    /// The issuer's current key set has no such key.
    Unknown,
    /// No such key is held and the key set cannot be fetched right now.
    Unreachable,
}

/// What `/health` reports about the key set.
#[derive(Debug, Clone, Copy)]
pub struct KeySetStatus {
    /// Keys held (from the last successful fetch).
    pub keys: usize,
    /// Age of the held keys; `None` before the first successful fetch.
    pub age: Option<Duration>,
    /// Whether the held keys are within their cache lifetime (or the last fetch worked).
    pub fresh: bool,
}

/// The cached JWKS of the external issuer.
pub struct JwksCache {
    url: String,
    client: reqwest::Client,
    max_age: Duration,
    refetch: Duration,
    state: RwLock<CacheState>,
    /// One fetch at a time; requests that find a fetch running wait for it.
    fetching: tokio::sync::Mutex<()>,
    metrics: Arc<Metrics>,
}

impl JwksCache {
    pub fn new(url: String, max_age: Duration, refetch: Duration, metrics: Arc<Metrics>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .unwrap_or_default();
        JwksCache {
            url,
            client,
            max_age,
            refetch,
            state: RwLock::default(),
            fetching: tokio::sync::Mutex::new(()),
            metrics,
        }
    }

    /// The key `kid`: from the cache when held (a stale set is refreshed in the
    /// background), else after one refetch if none ran within the refetch interval.
    pub async fn key(self: &Arc<Self>, kid: &str) -> KeyLookup {
        if let Some((key, stale)) = self.cached(kid) {
            if stale && self.begin(|s| &mut s.last_refresh) {
                let me = self.clone();
                tokio::spawn(async move { me.refresh().await });
            }
            return KeyLookup::Found(key);
        }
        if self.begin(|s| &mut s.last_kid_refetch) {
            self.refresh().await;
        } else {
            // A fetch may be running (started by another request): wait for it.
            drop(self.fetching.lock().await);
        }
        match self.cached(kid) {
            Some((key, _)) => KeyLookup::Found(key),
            None if self.read().last_failed || self.read().set.is_none() => KeyLookup::Unreachable,
            None => KeyLookup::Unknown,
        }
    }

    /// Fetches the key set now (at start-up; it counts as the first refresh).
    pub async fn prefetch(self: Arc<Self>) {
        self.begin(|s| &mut s.last_refresh);
        self.refresh().await;
    }

    /// Fetches the key set again when it is missing or stale, at most once per refetch
    /// interval (`/health` calls it).
    pub async fn maintain(self: Arc<Self>) {
        if self.begin(|s| &mut s.last_refresh) {
            self.refresh().await;
        }
    }

    /// Seconds a client should wait before retrying while the issuer is unreachable.
    pub fn retry_after_secs(&self) -> u64 {
        self.refetch.as_secs().clamp(1, 60)
    }

    /// What `/health` reports.
    pub fn status(&self) -> KeySetStatus {
        let state = self.read();
        let age = state.set.as_ref().map(|s| s.fetched_at.elapsed());
        KeySetStatus {
            keys: state.set.as_ref().map_or(0, |s| s.keys.len()),
            age,
            fresh: state.set.as_ref().is_some_and(|s| !s.keys.is_empty())
                && age.is_some_and(|a| a < self.max_age || !state.last_failed),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, CacheState> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The held key `kid`, and whether the set is past its cache lifetime.
    fn cached(&self, kid: &str) -> Option<(Arc<Key>, bool)> {
        let state = self.read();
        let set = state.set.as_ref()?;
        let key = set.keys.get(kid)?.clone();
        Some((key, set.fetched_at.elapsed() >= self.max_age))
    }

    /// Claims the right to fetch for one reason (`slot`): at most once per refetch
    /// interval.
    fn begin(&self, slot: impl FnOnce(&mut CacheState) -> &mut Option<Instant>) -> bool {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        let last = slot(&mut state);
        let due = last.is_none_or(|t| t.elapsed() >= self.refetch);
        if due {
            *last = Some(Instant::now());
        }
        due
    }

    /// Fetches the set; keeps the old keys when that fails.
    async fn refresh(&self) {
        let _one = self.fetching.lock().await;
        let outcome = self.fetch().await;
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        match outcome {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "external issuer: JWKS fetched");
                self.metrics.jwks_fetch("success");
                state.set = Some(Arc::new(KeySet {
                    keys,
                    fetched_at: Instant::now(),
                }));
                state.last_failed = false;
            }
            Err(e) => {
                tracing::warn!(url = %self.url, error = %e, "external issuer: JWKS fetch failed; keeping the last good keys");
                self.metrics.jwks_fetch("failure");
                state.last_failed = true;
            }
        }
    }

    async fn fetch(&self) -> anyhow::Result<HashMap<String, Arc<Key>>> {
        let mut resp = self.client.get(&self.url).send().await?;
        if !resp.status().is_success() {
            anyhow::bail!("the JWKS URL answered {}", resp.status());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_JWKS_BYTES {
                anyhow::bail!("the JWKS is larger than {MAX_JWKS_BYTES} bytes");
            }
        }
        // Entry by entry: one key of a type this service does not know spoils nothing.
        let set: RawSet = serde_json::from_slice(&body)?;
        let set_was_empty = set.keys.is_empty();
        let keys: HashMap<String, Arc<Key>> = set
            .keys
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
            .filter_map(|jwk| Some((jwk.common.key_id.clone()?, Arc::new(usable(&jwk)?))))
            .collect();
        // An empty set is an answer (Better Auth mints its first key on its first token).
        if keys.is_empty() && !set_was_empty {
            anyhow::bail!("the JWKS holds no usable signing key with a kid");
        }
        Ok(keys)
    }
}

/// A JWKS document: its entries, each parsed on its own.
#[derive(serde::Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

/// A JWKS entry as a verification key: public signature keys only (never `oct`, never
/// `use: enc`), of a supported type and curve.
fn usable(jwk: &Jwk) -> Option<Key> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let kind = match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            KeyKind::Ed25519
        }
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => KeyKind::P256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P384 => KeyKind::P384,
        AlgorithmParameters::RSA(_) => KeyKind::Rsa,
        _ => return None,
    };
    let alg = match jwk.common.key_algorithm {
        Some(a) => Some(Algorithm::try_from(a).ok()?),
        None => None,
    };
    Some(Key {
        decoding: DecodingKey::from_jwk(jwk).ok()?,
        kind,
        alg,
    })
}
