//! Prometheus metrics: exact counts for known traffic, route templates as labels, the
//! store's per-operation timings, pool gauges and process metrics. The helpers here
//! also let the fault tests see which requests reached the database.

use std::collections::HashSet;

use client_sdk::types::ErrorCode;
use prom_text_format_parser::{Metric, Sample as PromSample, Scrape, Type as PromType, ValueType};
use reqwest::StatusCode;
use uuid::Uuid;

use super::{create, created_id, new_user, within, User};
use crate::helpers::*;
use crate::sdk_helpers::*;

pub(super) fn parse_metrics(text: &str) -> Scrape {
    Scrape::parse(text)
        .unwrap_or_else(|e| panic!("not valid Prometheus text format ({e:?}):\n{text}"))
}

pub(super) fn metric<'a>(scrape: &'a Scrape, name: &str) -> &'a Metric {
    scrape
        .metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name}"))
}

pub(super) fn label<'a>(sample: &'a PromSample, key: &str) -> Option<&'a str> {
    sample
        .labels
        .iter()
        .find(|l| l.key == key)
        .map(|l| l.value.as_str())
}

/// The value of the one sample of `name` (of the given kind) carrying `labels`.
fn sample_value(
    scrape: &Scrape,
    name: &str,
    kind: ValueType,
    labels: &[(&str, &str)],
) -> Option<f64> {
    let found: Vec<f64> = metric(scrape, name)
        .samples
        .iter()
        .filter(|s| {
            s.value.value_type == kind && labels.iter().all(|(k, v)| label(s, k) == Some(*v))
        })
        .map(|s| s.value.value.as_f64())
        .collect();
    assert!(
        found.len() <= 1,
        "{name}{labels:?} matches {} samples",
        found.len()
    );
    found.first().copied()
}

/// A counter's or gauge's value.
pub(super) fn scalar(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    sample_value(scrape, name, ValueType::Sample, labels)
}

/// A histogram's observation count (`_count`), checked against its `+Inf` bucket.
fn histogram_count(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    assert_eq!(
        metric(scrape, name).kind,
        PromType::Histogram,
        "{name} is a histogram"
    );
    let count = sample_value(scrape, name, ValueType::Count, labels);
    let mut inf = labels.to_vec();
    inf.push(("le", "+Inf"));
    assert_eq!(
        sample_value(scrape, name, ValueType::Sample, &inf),
        count,
        "{name}{labels:?}: +Inf bucket = count"
    );
    count
}

/// `GET /metrics`: its text and the parsed scrape. Raw: `/metrics` is not an operation
/// of the spec.
pub(super) async fn scrape(app: &TestApp) -> (String, Scrape) {
    let resp = within(app.client.get(app.url("/metrics")).send())
        .await
        .expect("request sent");
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.expect("a metrics text");
    let scrape = parse_metrics(&text);
    (text, scrape)
}

/// How many store calls ran so far (the observations of `db_query_duration_seconds`,
/// all operations). A call the circuit breaker refuses is never timed, so it does not
/// count.
pub(super) async fn db_calls(app: &TestApp) -> f64 {
    let (_, scrape) = scrape(app).await;
    scrape
        .metrics
        .iter()
        .filter(|m| m.name == "db_query_duration_seconds")
        .flat_map(|m| &m.samples)
        .filter(|s| s.value.value_type == ValueType::Count)
        .map(|s| s.value.value.as_f64())
        .sum()
}

/// The traffic the counts below are exact for; returns the created ids.
async fn known_traffic(app: &TestApp) -> Vec<Uuid> {
    let user: User = new_user(app).await; // register 201, login 200
    sdk_login(app, &user.email, STRONG_PASSWORD).await;
    let wrong = login_body(&user.email, "Wrong#Passw0rd");
    let wrong = anonymous(app).login().body(wrong).send().await;
    expect_error(wrong, StatusCode::UNAUTHORIZED, ErrorCode::Auth001);
    let mut ids = vec![];
    for i in 0..3 {
        ids.push(created_id(create(&user.client, &format!("m{i}")).await));
    }
    for id in &ids[..2] {
        expect_todo(user.client.get_todo().id(*id).send().await, StatusCode::OK);
    }
    let unknown = user.client.get_todo().id(Uuid::new_v4()).send().await;
    expect_error(unknown, StatusCode::NOT_FOUND, ErrorCode::Resource001);
    expect_page(user.client.list_todos().send().await);
    // A well-signed token of a user that does not exist: checked once, refused.
    let ghost = Uuid::new_v4().to_string();
    let sid = Uuid::new_v4().to_string();
    let forged = sign_valid(&make_claims(
        &ghost,
        "ghost@example.com",
        &sid,
        "access",
        600,
    ));
    let refused = bearer(app, &forged).list_todos().send().await;
    expect_error(refused, StatusCode::UNAUTHORIZED, ErrorCode::Auth007);
    // Raw: routes outside the spec.
    for path in ["/no/such/route", &format!("/api/v1/todos/{}/nope", ids[0])] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    }
    anonymous(app).get_liveness().send().await.expect("alive");
    ids
}

/// (method, route, status, requests) of [`known_traffic`].
const EXPECTED_REQUESTS: &[(&str, &str, &str, f64)] = &[
    ("POST", "/api/v1/auth/register", "201", 1.0),
    ("POST", "/api/v1/auth/login", "200", 2.0),
    ("POST", "/api/v1/auth/login", "401", 1.0),
    ("POST", "/api/v1/todos", "201", 3.0),
    ("GET", "/api/v1/todos/{id}", "200", 2.0),
    ("GET", "/api/v1/todos/{id}", "404", 1.0),
    ("GET", "/api/v1/todos", "200", 1.0),
    ("GET", "/api/v1/todos", "401", 1.0),
    ("GET", "unmatched", "404", 2.0),
    ("GET", "/health/live", "200", 1.0),
];

/// Requests by method, route template and status; nothing else counted; no raw path.
fn check_request_counts(scrape: &Scrape, text: &str, ids: &[Uuid]) {
    for (method, route, status, n) in EXPECTED_REQUESTS {
        let labels = [("method", *method), ("route", *route), ("status", *status)];
        let got = scalar(scrape, "http_requests_total", &labels);
        assert_eq!(got, Some(*n), "http_requests_total{labels:?}");
    }
    // Nothing else was counted (this scrape counts itself only after rendering).
    let requests = metric(scrape, "http_requests_total");
    assert_eq!(requests.kind, PromType::Counter);
    let sum: f64 = requests
        .samples
        .iter()
        .map(|s| s.value.value.as_f64())
        .sum();
    assert_eq!(sum, 15.0, "{text}");
    // Route labels are templates or `unmatched`, never raw paths with ids.
    let routes: HashSet<&str> = requests
        .samples
        .iter()
        .filter_map(|s| label(s, "route"))
        .collect();
    let templates: HashSet<&str> = EXPECTED_REQUESTS.iter().map(|e| e.1).collect();
    assert_eq!(routes, templates, "{text}");
    assert!(
        !text.contains(&ids[0].to_string()),
        "no id leaks into a label"
    );

    let login = |outcome| [("event", "login"), ("outcome", outcome)];
    assert_eq!(
        scalar(scrape, "auth_events_total", &login("success")),
        Some(2.0)
    );
    assert_eq!(
        scalar(scrape, "auth_events_total", &login("failure")),
        Some(1.0)
    );
    let auth = metric(scrape, "auth_events_total");
    assert_eq!(auth.kind, PromType::Counter);
    let events: f64 = auth.samples.iter().map(|s| s.value.value.as_f64()).sum();
    assert_eq!(events, 3.0, "{text}");
}

/// Latency histograms count every request and every store call of the traffic.
fn check_histograms(scrape: &Scrape, backend: Backend) {
    let http = "http_request_duration_seconds";
    let route = |method, route| [("method", method), ("route", route)];
    let todos = route("POST", "/api/v1/todos");
    assert_eq!(histogram_count(scrape, http, &todos), Some(3.0));
    let by_id = route("GET", "/api/v1/todos/{id}");
    assert_eq!(histogram_count(scrape, http, &by_id), Some(3.0));
    let db = |operation| {
        histogram_count(
            scrape,
            "db_query_duration_seconds",
            &[("operation", operation)],
        )
    };
    assert_eq!(db("insert_todo"), Some(3.0));
    assert_eq!(db("create_user"), Some(1.0));
    assert_eq!(db("user_by_email"), Some(3.0));
    let insert = [("operation", "insert_todo")];
    let sum = sample_value(scrape, "db_query_duration_seconds", ValueType::Sum, &insert);
    assert!(sum.is_some_and(|s| s > 0.0), "{sum:?}");
    // One token check per bearer request (3 creates, 3 reads, 2 lists), also when
    // the token is refused: the two declared schemes do not check it twice. On
    // Postgres the session cache answers for the user's token after its first check;
    // the refused token is checked (and not cached).
    let checks = match backend {
        Backend::Sqlite => 8.0,
        Backend::Postgres => 2.0,
    };
    assert_eq!(db("token_status"), Some(checks));
}

/// Pool gauges (fresh at scrape time), process metrics, and a `# HELP` for every metric.
fn check_gauges(scrape: &Scrape, text: &str) {
    assert_eq!(metric(scrape, "db_pool_connections").kind, PromType::Gauge);
    let pool = |state| scalar(scrape, "db_pool_connections", &[("state", state)]);
    let size = pool("size").expect("pool size gauge");
    let idle = pool("idle").expect("pool idle gauge");
    let in_use = pool("in_use").expect("pool in_use gauge");
    assert!(
        (1.0..=5.0).contains(&size) && size == idle + in_use,
        "size {size}, idle {idle}, in use {in_use}"
    );
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        let v = scalar(scrape, name, &[]).unwrap_or_else(|| panic!("{name} missing:\n{text}"));
        assert!(
            v > 0.0 || name == "process_cpu_seconds_total",
            "{name} = {v}"
        );
    }
    for name in [
        "http_requests_total",
        "http_request_duration_seconds",
        "auth_events_total",
        "db_query_duration_seconds",
        "db_pool_connections",
    ] {
        let help = metric(scrape, name).help_desc.as_deref();
        assert!(help.is_some_and(|h| !h.is_empty()), "# HELP of {name}");
    }
}

both_backends! {
    /// Known traffic gives exact counts per method, route template and status.
    async fn metrics_count_known_traffic_exactly(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let ids = known_traffic(&app).await;
        // Raw: `/metrics` is not an operation of the spec.
        let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let ct = resp.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/plain") && ct.contains("version=0.0.4"), "{ct}");
        let text = resp.text().await.unwrap();
        let scrape = parse_metrics(&text);
        check_request_counts(&scrape, &text, &ids);
        check_histograms(&scrape, backend);
        check_gauges(&scrape, &text);
    }
}
