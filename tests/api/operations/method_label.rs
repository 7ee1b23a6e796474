//! Unknown HTTP methods share the label `_OTHER` (OpenTelemetry's convention) in the
//! metrics, on the server span (`http.request.method`; the original, cut to 64 bytes,
//! in `http.request.method_original`) and in the request's log line, so no client can
//! grow `/metrics` or the label sets of the trace backend without bound.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::logs::field;
use super::metrics::{label, metric, parse_metrics, scalar};
use super::otlp::OtlpReceiver;
use super::process::ServerProcess;
use crate::helpers::*;

const TRACE_ID: &str = "5bf92f3577b34da6a3ce929d0e0e4737";
const KNOWN: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
];

#[tokio::test]
async fn unknown_methods_share_the_other_label() {
    let receiver = OtlpReceiver::start().await;
    let mut server =
        ServerProcess::start(&[("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str())]).await;
    let c = http_client();
    let long = "X".repeat(60 * 1024);
    let unknown = ["BREW", "get", "PROPFIND", "M-SEARCH", long.as_str()];
    for (i, m) in unknown.iter().enumerate() {
        for path in ["/health/live", "/api/v1/todos"] {
            let resp = c
                .request(Method::from_bytes(m.as_bytes()).unwrap(), server.url(path))
                .header(
                    "traceparent",
                    format!("00-{TRACE_ID}-00f067aa0ba902b{i}-01"),
                )
                .header("x-request-id", format!("method-{i}"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        }
    }
    let resp = c.get(server.url("/health/live")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let text = c
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.len() < 64 * 1024,
        "/metrics grew to {} bytes",
        text.len()
    );
    let scrape = parse_metrics(&text);
    let methods: HashSet<&str> = metric(&scrape, "http_requests_total")
        .samples
        .iter()
        .filter_map(|s| label(s, "method"))
        .collect();
    assert!(
        methods.iter().all(|m| *m == "_OTHER" || KNOWN.contains(m)),
        "{methods:?}"
    );
    for route in ["/health/live", "/api/v1/todos"] {
        let labels = [("method", "_OTHER"), ("route", route), ("status", "405")];
        assert_eq!(
            scalar(&scrape, "http_requests_total", &labels),
            Some(5.0),
            "{route}"
        );
    }

    // The log lines say `_OTHER` too.
    let lines: Vec<Value> = server
        .lines()
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    for i in 0..unknown.len() {
        let id = json!(format!("method-{i}"));
        let logged: Vec<&Value> = lines
            .iter()
            .filter(|l| {
                field(l, "request_id") == Some(&id)
                    && field(l, "message") == Some(&json!("request"))
            })
            .collect();
        assert_eq!(logged.len(), 2, "request lines of method-{i}");
        for line in logged {
            assert_eq!(field(line, "method"), Some(&json!("_OTHER")), "{line}");
        }
    }

    // And the server spans, keeping a bounded copy of the original.
    assert!(server.terminate().await.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let spans = loop {
        let spans: Vec<_> = receiver
            .spans()
            .into_iter()
            .filter(|s| s.trace_id == TRACE_ID && s.kind == 2)
            .collect();
        if spans.len() >= 2 * unknown.len() || Instant::now() > deadline {
            break spans;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(spans.len(), 2 * unknown.len(), "{spans:?}");
    for span in &spans {
        let i: usize = span
            .attr("request_id")
            .unwrap()
            .trim_start_matches("method-")
            .parse()
            .unwrap();
        assert_eq!(span.attr("http.request.method").as_deref(), Some("_OTHER"));
        let original = &unknown[i][..unknown[i].len().min(64)];
        assert_eq!(
            span.attr("http.request.method_original").as_deref(),
            Some(original)
        );
        let route = span.attr("http.route").unwrap();
        assert_eq!(span.name, format!("HTTP {route}"));
    }
}
