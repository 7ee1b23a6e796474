//! Prometheus metrics of one instance (`GET /metrics`).

use std::time::Instant;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The registry and every series the service exports.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    auth_events: IntCounterVec,
    db_duration: HistogramVec,
    db_pool: IntGaugeVec,
    mail_deliveries: IntCounterVec,
    mail_outbox: prometheus::IntGauge,
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
        let mail_outbox = prometheus::IntGauge::new(
            "mail_outbox_depth",
            "Messages in the outbox not yet delivered or given up",
        )
        .expect("valid metric");
        for c in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(auth_events.clone()),
            Box::new(db_duration.clone()),
            Box::new(db_pool.clone()),
            Box::new(mail_deliveries.clone()),
            Box::new(mail_outbox.clone()),
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        Metrics {
            registry,
            http_requests,
            http_duration,
            auth_events,
            db_duration,
            db_pool,
            mail_deliveries,
            mail_outbox,
        }
    }

    /// Records one finished HTTP request.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.http_requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.http_duration
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    /// Counts an authentication event (`login`/`success`, `refresh_reuse`/`revoked`, …).
    pub fn auth_event(&self, event: &str, outcome: &str) {
        self.auth_events.with_label_values(&[event, outcome]).inc();
    }

    /// Starts timing a store operation; the time is recorded (and its trace span,
    /// a child of the request's, is closed) when the guard drops.
    pub fn db_timer(&self, operation: &'static str) -> DbTimer<'_> {
        let span = tracing::info_span!("db", otel.name = operation, db.operation.name = operation);
        DbTimer {
            metrics: self,
            operation,
            started: Instant::now(),
            _span: span,
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
    _span: tracing::Span,
}

impl Drop for DbTimer<'_> {
    fn drop(&mut self) {
        self.metrics
            .db_duration
            .with_label_values(&[self.operation])
            .observe(self.started.elapsed().as_secs_f64());
    }
}
