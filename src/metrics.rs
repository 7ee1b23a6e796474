//! Prometheus metrics of one instance (`GET /metrics`).

use std::fmt;
use std::time::Instant;

use poem::http::Method;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// The `method` label: a standard method's name, else `_OTHER` (OpenTelemetry's
/// convention), so that no client can add label values. Every other label is bounded
/// too: `route` is a template of the spec or `unmatched`, `status` a number the service
/// answers with, `event`/`outcome`/`operation`/`state` fixed names from the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodLabel(&'static str);

/// The methods of RFC 9110 (and PATCH, RFC 5789) that get a label of their own.
static KNOWN_METHODS: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
    Method::TRACE,
    Method::CONNECT,
];

impl MethodLabel {
    /// The label of `method`.
    pub fn of(method: &Method) -> Self {
        let known = KNOWN_METHODS.iter().find(|m| *m == method);
        MethodLabel(known.map_or("_OTHER", Method::as_str))
    }

    /// Whether the method is not one of the known ones.
    pub fn is_other(self) -> bool {
        self.0 == "_OTHER"
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for MethodLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// The registry and every series the service exports.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    auth_events: IntCounterVec,
    db_duration: HistogramVec,
    db_pool: IntGaugeVec,
    connections_open: IntGauge,
    connections_closed: IntCounterVec,
    session_cache_live: IntGauge,
    mail_deliveries: IntCounterVec,
    mail_outbox: prometheus::IntGauge,
    external_verifications: IntCounterVec,
    jwks_fetches: IntCounterVec,
    breaker_state: IntGaugeVec,
    rate_limited: IntCounterVec,
}

/// The states of the database circuit breaker (`db_circuit_breaker_state{state}`).
pub const BREAKER_STATES: [&str; 3] = ["closed", "half_open", "open"];

/// Which limit refused a request (`rate_limit_rejections_total{limit}`): the per-client
/// address limit of the credential operations, or a per-account one (failed logins,
/// current-password checks, mail requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    ClientIp,
    Account,
}

impl RateLimit {
    fn label(self) -> &'static str {
        match self {
            RateLimit::ClientIp => "client_ip",
            RateLimit::Account => "account",
        }
    }
}

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

impl Metrics {
    /// Every series, registered.
    // long: one declaration per series, in the order `/metrics` lists them.
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route template and status",
            ),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route"],
        )
        .expect("valid metric");
        let auth_events = IntCounterVec::new(
            Opts::new(
                "auth_events_total",
                "Authentication events by kind and outcome",
            ),
            &["event", "outcome"],
        )
        .expect("valid metric");
        let db_duration = HistogramVec::new(
            HistogramOpts::new(
                "db_query_duration_seconds",
                "Database call latency by store operation",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["operation"],
        )
        .expect("valid metric");
        let db_pool = IntGaugeVec::new(
            Opts::new("db_pool_connections", "Database pool connections by state"),
            &["state"],
        )
        .expect("valid metric");
        let connections_open = IntGauge::new("http_connections_open", "Open client connections")
            .expect("valid metric");
        let connections_closed = IntCounterVec::new(
            Opts::new(
                "http_connections_closed_total",
                "Client connections the server closed: over_limit, header_timeout, idle_timeout, body_timeout",
            ),
            &["reason"],
        )
        .expect("valid metric");
        for reason in [
            "over_limit",
            "header_timeout",
            "idle_timeout",
            "body_timeout",
        ] {
            connections_closed.with_label_values(&[reason]);
        }
        let session_cache_live = IntGauge::new(
            "session_cache_live",
            "1 while the session cache's listener proves it receives revocations (the cache answers), else 0",
        )
        .expect("valid metric");
        let mail_deliveries = IntCounterVec::new(
            Opts::new(
                "mail_deliveries_total",
                "Mail delivery attempts by outcome (sent, retry, failed)",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        for outcome in ["sent", "retry", "failed"] {
            mail_deliveries.with_label_values(&[outcome]);
        }
        let mail_outbox = IntGauge::new(
            "mail_outbox_depth",
            "Messages in the outbox not yet delivered or given up",
        )
        .expect("valid metric");
        let breaker_state = IntGaugeVec::new(
            Opts::new(
                "db_circuit_breaker_state",
                "1 for the database circuit breaker's current state (closed, half_open, open), 0 for the others",
            ),
            &["state"],
        )
        .expect("valid metric");
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "rate_limit_rejections_total",
                "Requests refused with 429 by limit: client_ip (credential operations per client address) or account (failed logins, current-password checks, mail requests)",
            ),
            &["limit"],
        )
        .expect("valid metric");
        for limit in [RateLimit::ClientIp, RateLimit::Account] {
            rate_limited.with_label_values(&[limit.label()]);
        }
        let build_info = IntGaugeVec::new(
            Opts::new(
                "build_info",
                "Always 1; the labels say which build runs (version, profile)",
            ),
            &["version", "profile"],
        )
        .expect("valid metric");
        let profile = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        };
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), profile])
            .set(1);
        let external_verifications = IntCounterVec::new(
            Opts::new(
                "external_token_verifications_total",
                "Tokens of the external issuer checked, by outcome (valid, expired, malformed, bad_signature, unknown_kid, jwks_unavailable, revoked, user_disabled)",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let jwks_fetches = IntCounterVec::new(
            Opts::new(
                "external_jwks_fetches_total",
                "Fetches of the external issuer's JWKS, by outcome (success, failure)",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        for c in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(auth_events.clone()),
            Box::new(db_duration.clone()),
            Box::new(db_pool.clone()),
            Box::new(connections_open.clone()),
            Box::new(connections_closed.clone()),
            Box::new(session_cache_live.clone()),
            Box::new(mail_deliveries.clone()),
            Box::new(mail_outbox.clone()),
            Box::new(breaker_state.clone()),
            Box::new(rate_limited.clone()),
            Box::new(build_info),
            Box::new(external_verifications.clone()),
            Box::new(jwks_fetches.clone()),
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        let metrics = Metrics {
            registry,
            http_requests,
            http_duration,
            auth_events,
            db_duration,
            db_pool,
            connections_open,
            connections_closed,
            session_cache_live,
            mail_deliveries,
            mail_outbox,
            external_verifications,
            jwks_fetches,
            breaker_state,
            rate_limited,
        };
        metrics.set_breaker_state("closed");
        metrics
    }

    /// Registers series kept by another part of the service (the password hasher's,
    /// the session cache's), so that `/metrics` lists them too.
    pub fn register(&self, collectors: Vec<Box<dyn prometheus::core::Collector>>) {
        for c in collectors {
            self.registry.register(c).expect("metric names are unique");
        }
    }

    /// Sets the circuit breaker gauge: `state` (one of [`BREAKER_STATES`]) 1, the others 0.
    pub fn set_breaker_state(&self, state: &str) {
        for s in BREAKER_STATES {
            self.breaker_state
                .with_label_values(&[s])
                .set(i64::from(s == state));
        }
    }

    /// Counts a request refused by `limit`.
    pub fn rate_limited(&self, limit: RateLimit) {
        self.rate_limited.with_label_values(&[limit.label()]).inc();
    }

    /// Counts one check of an external issuer's token by its outcome.
    pub fn external_verification(&self, outcome: &str) {
        self.external_verifications
            .with_label_values(&[outcome])
            .inc();
    }

    /// Counts one fetch of the external issuer's JWKS (`success`, `failure`).
    pub fn jwks_fetch(&self, outcome: &str) {
        self.jwks_fetches.with_label_values(&[outcome]).inc();
    }

    /// Records one finished HTTP request.
    pub fn observe_request(&self, method: MethodLabel, route: &str, status: u16, seconds: f64) {
        self.http_requests
            .with_label_values(&[method.as_str(), route, &status.to_string()])
            .inc();
        self.http_duration
            .with_label_values(&[method.as_str(), route])
            .observe(seconds);
    }

    /// Counts an authentication event (`login`/`success`, `refresh_reuse`/`revoked`, …).
    pub fn auth_event(&self, event: &str, outcome: &str) {
        self.auth_events.with_label_values(&[event, outcome]).inc();
    }

    /// Starts timing a store operation; the time is recorded when the guard drops.
    pub fn db_timer(&self, operation: &'static str) -> DbTimer<'_> {
        DbTimer {
            metrics: self,
            operation,
            started: Instant::now(),
        }
    }

    /// Counts one mail delivery attempt (`sent`, `retry`, `failed`).
    pub fn mail_delivery(&self, outcome: &str) {
        self.mail_deliveries.with_label_values(&[outcome]).inc();
    }

    /// Sets the outbox depth (messages waiting).
    pub fn set_outbox_depth(&self, n: i64) {
        self.mail_outbox.set(n);
    }

    /// Sets the pool gauges.
    pub fn set_pool(&self, size: u32, idle: usize) {
        let idle = idle as i64;
        self.db_pool
            .with_label_values(&["size"])
            .set(i64::from(size));
        self.db_pool.with_label_values(&["idle"]).set(idle);
        self.db_pool
            .with_label_values(&["in_use"])
            .set(i64::from(size) - idle);
    }

    /// Sets the open-connections gauge and whether the session cache answers.
    pub fn set_server_state(&self, connections_open: usize, session_cache_live: bool) {
        self.connections_open.set(connections_open as i64);
        self.session_cache_live.set(i64::from(session_cache_live));
    }

    /// Counts a client connection the server closed, by `reason`.
    pub fn connection_closed(&self, reason: &str) {
        self.connections_closed.with_label_values(&[reason]).inc();
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Records a store operation's latency on drop.
pub struct DbTimer<'a> {
    metrics: &'a Metrics,
    operation: &'static str,
    started: Instant,
}

impl Drop for DbTimer<'_> {
    fn drop(&mut self) {
        self.metrics
            .db_duration
            .with_label_values(&[self.operation])
            .observe(self.started.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        for m in &KNOWN_METHODS {
            assert_eq!(MethodLabel::of(m).as_str(), m.as_str());
        }
        for m in ["get", "BREW", "PROPFIND", &"X".repeat(1000)] {
            let label = MethodLabel::of(&Method::from_bytes(m.as_bytes()).unwrap());
            assert!(label.is_other() && label.as_str() == "_OTHER", "{m}");
        }
    }
}
