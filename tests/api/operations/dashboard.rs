//! The Grafana dashboard (`deploy/grafana/dashboards/todo-api.json`) queries only
//! metrics `/metrics` exports, and the dashboard series have their exact values for
//! known traffic: rate-limit rejections by limit, the password hasher's queue and wait,
//! session cache lookups by result, the circuit breaker state, `build_info`.

use std::collections::BTreeSet;

use client_sdk::types::ErrorCode;
use prom_text_format_parser::{Scrape, Type as PromType, ValueType};
use reqwest::StatusCode;
use serde_json::Value;

use super::metrics::{metric, scalar, scrape};
use super::{create, created_id, new_user};
use crate::helpers::*;
use crate::sdk_helpers::*;

const DASHBOARD: &str = include_str!("../../../deploy/grafana/dashboards/todo-api.json");

/// PromQL words that are not metric names: keywords, and aggregation operators (which
/// may be followed by `by (…)` rather than by their parenthesis).
const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "and",
    "or",
    "unless",
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "limitk",
    "limit_ratio",
];

/// Every PromQL expression of the dashboard: panel targets, and the metric of each
/// `label_values(metric, label)` variable query (as a plain selector).
fn expressions(dashboard: &Value) -> Vec<String> {
    let mut out = vec![];
    for panel in dashboard["panels"].as_array().expect("panels") {
        for t in panel["targets"].as_array().into_iter().flatten() {
            out.push(t["expr"].as_str().expect("a target expression").to_owned());
        }
    }
    for var in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let q = var["query"]["query"].as_str().or(var["query"].as_str());
        if let Some(args) = q.and_then(|q| q.strip_prefix("label_values(")) {
            out.push(args.split(',').next().unwrap().trim().to_owned());
        }
    }
    out
}

/// The metric names of a PromQL expression: identifiers that are not functions (no
/// `(` after them), keywords, label names of `by (…)`-style clauses, or inside label
/// matchers, strings or range brackets.
fn metric_names(expr: &str) -> Vec<String> {
    let bytes = expr.as_bytes();
    let (mut names, mut i) = (vec![], 0);
    let mut skip_group = false;
    while i < bytes.len() {
        let c = bytes[i] as char;
        let close = match c {
            '{' => Some('}'),
            '[' => Some(']'),
            '"' => Some('"'),
            '(' if skip_group => Some(')'),
            _ => None,
        };
        if let Some(close) = close {
            skip_group = false;
            let end = expr[i + 1..].find(close).expect("a closed group");
            i += end + 2;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let len = expr[i..]
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == ':'))
                .unwrap_or(expr.len() - i);
            let word = &expr[i..i + len];
            i += len;
            let next = expr[i..].trim_start().chars().next();
            if KEYWORDS.contains(&word) {
                skip_group = matches!(
                    word,
                    "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
                );
            } else if next != Some('(') {
                names.push(word.to_owned());
            }
            continue;
        }
        i += 1;
    }
    names
}

#[test]
fn metric_names_are_read_from_promql() {
    let expr = r#"histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket{instance=~"$instance",status="5xx"}[$__rate_interval]))) / on (job) sum(up)"#;
    assert_eq!(
        metric_names(expr),
        ["http_request_duration_seconds_bucket", "up"]
    );
}

/// The family a sample name of the dashboard belongs to in `scrape`: itself, or for
/// `_bucket`/`_sum`/`_count` the histogram it is a part of.
fn family_of<'a>(scrape: &'a Scrape, name: &str) -> Option<&'a prom_text_format_parser::Metric> {
    scrape.metrics.iter().find(|m| m.name == name).or_else(|| {
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))?;
        scrape
            .metrics
            .iter()
            .find(|m| m.name == base && m.kind == PromType::Histogram)
    })
}

/// Register, log in, create a todo, read it back: every kind of series has a sample.
async fn some_traffic(app: &TestApp) {
    let user = new_user(app).await;
    created_id(create(&user.client, "dashboard").await);
    expect_ok(user.client.get_me().send().await, StatusCode::OK);
}

both_backends! {
    /// Every metric the dashboard queries is exported (with at least one sample), and
    /// the dashboard has a panel on each series issue #17 asked for.
    async fn dashboard_queries_only_exported_metrics(backend: Backend) {
        let dashboard: Value = serde_json::from_str(DASHBOARD).expect("the dashboard is JSON");
        let queried: BTreeSet<String> = expressions(&dashboard)
            .iter()
            .flat_map(|e| metric_names(e))
            .collect();
        let app = TestApp::spawn(backend).await;
        some_traffic(&app).await;
        let (text, scrape) = scrape(&app).await;
        for name in &queried {
            let family = family_of(&scrape, name)
                .unwrap_or_else(|| panic!("the dashboard queries {name}, which /metrics lacks:\n{text}"));
            assert!(!family.samples.is_empty(), "{name} has no sample:\n{text}");
        }
        for wanted in [
            "db_circuit_breaker_state",
            "rate_limit_rejections_total",
            "password_hash_queue_depth",
            "password_hash_wait_seconds_bucket",
            "session_cache_lookups_total",
            "session_cache_live",
            "session_listener_heartbeats_total",
            "build_info",
            "http_request_duration_seconds_bucket",
            "db_query_duration_seconds_bucket",
        ] {
            assert!(queried.contains(wanted), "no panel queries {wanted}: {queried:?}");
        }
    }

    /// The client-address limit and a per-account limit each refuse once, and each
    /// refusal is counted under its limit; the other series have their values.
    async fn dashboard_series_have_exact_values(backend: Backend) {
        let app = TestApp::spawn_with(
            backend,
            &[("AUTH_RATE_LIMIT_PER_MINUTE", "4"), ("LOGIN_FAILURES_PER_ACCOUNT", "1")],
        )
        .await;
        let user = new_user(&app).await; // register + login: 2 of the 4 tokens
        let client = anonymous(&app);
        let wrong = || {
            let body = login_body(&user.email, "Wrong#Passw0rd");
            client.login().body(body).send()
        };
        expect_error(wrong().await, StatusCode::UNAUTHORIZED, ErrorCode::Auth001);
        // The account's one failure is used up: refused by the per-account limit.
        expect_error(wrong().await, StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimit001);
        // The address's four tokens are used up: refused before routing.
        expect_error(wrong().await, StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimit001);
        expect_ok(user.client.get_me().send().await, StatusCode::OK);
        expect_ok(user.client.get_me().send().await, StatusCode::OK);

        let (text, scrape) = scrape(&app).await;
        let limited = |limit| scalar(&scrape, "rate_limit_rejections_total", &[("limit", limit)]);
        assert_eq!((limited("client_ip"), limited("account")), (Some(1.0), Some(1.0)), "{text}");
        // Hashes: the registration's, the login's and the failed login's verification
        // (the refused ones never reach the hasher).
        let hash_waits = scalar_of(&scrape, "password_hash_wait_seconds", ValueType::Count);
        assert_eq!(hash_waits, Some(2.0 + 1.0), "{text}");
        assert_eq!(scalar(&scrape, "password_hash_queue_depth", &[]), Some(0.0));
        assert_eq!(scalar(&scrape, "password_hash_rejections_total", &[]), Some(0.0));
        let lookups = |result| scalar(&scrape, "session_cache_lookups_total", &[("result", result)]);
        let expected = match backend {
            // No listener on SQLite: the cache never answers.
            Backend::Sqlite => (Some(0.0), Some(0.0), Some(2.0)),
            // The first check misses (and fills the cache), the second hits.
            Backend::Postgres => (Some(1.0), Some(1.0), Some(0.0)),
        };
        assert_eq!((lookups("hit"), lookups("miss"), lookups("off")), expected, "{text}");
        let breaker = |state| scalar(&scrape, "db_circuit_breaker_state", &[("state", state)]);
        assert_eq!(
            (breaker("closed"), breaker("half_open"), breaker("open")),
            (Some(1.0), Some(0.0), Some(0.0))
        );
        let version = env!("CARGO_PKG_VERSION");
        let build = metric(&scrape, "build_info");
        assert_eq!(build.kind, PromType::Gauge);
        assert_eq!(build.samples.len(), 1, "{text}");
        assert_eq!(scalar(&scrape, "build_info", &[("version", version), ("profile", "debug")]), Some(1.0));
        let live = scalar(&scrape, "session_cache_live", &[]);
        assert_eq!(live, Some(if backend == Backend::Postgres { 1.0 } else { 0.0 }));
    }
}

/// The one sample of kind `kind` of an unlabelled histogram.
fn scalar_of(scrape: &Scrape, name: &str, kind: ValueType) -> Option<f64> {
    let m = metric(scrape, name);
    let found: Vec<f64> = m
        .samples
        .iter()
        .filter(|s| s.value.value_type == kind)
        .map(|s| s.value.value.as_f64())
        .collect();
    assert!(
        found.len() <= 1,
        "{name}: {} samples of {kind:?}",
        found.len()
    );
    found.first().copied()
}
