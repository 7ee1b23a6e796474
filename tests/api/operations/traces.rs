//! OTLP trace export through the built binary and an in-test decoding receiver: spans
//! continue the caller's trace and follow OpenTelemetry's HTTP and database semantic
//! conventions (names and value types exact); log lines name the span they are in.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::logs::field;
use super::otlp::{self, OtlpReceiver};
use super::process::ServerProcess;
use crate::helpers::*;
use crate::sdk_helpers::*;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";
/// The trace of the request no route matches.
const UNMATCHED_TRACE: &str = "5bf92f3577b34da6a3ce929d0e0e4737";
/// The trace of the request that fails with 503.
const FAILED_TRACE: &str = "6bf92f3577b34da6a3ce929d0e0e4738";
const USER_AGENT: &str = "trace-test/1.0";

/// Headers joining trace `trace` (parent [`PARENT_ID`]) with request id `id`.
fn trace_headers(trace: &str, id: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let parent = format!("00-{trace}-{PARENT_ID}-01");
    headers.insert("traceparent", HeaderValue::from_str(&parent).unwrap());
    headers.insert("x-request-id", HeaderValue::from_static(id));
    headers.insert("user-agent", HeaderValue::from_static(USER_AGENT));
    headers
}

/// Registers, then logs in as the caller of trace [`TRACE_ID`] (request `otlp-login`).
async fn traced_login(server: &ServerProcess) {
    let email = unique_email();
    let anon = anonymous(server);
    let register = anon.register().body(register_body(&email, STRONG_PASSWORD));
    expect_ok(register.send().await, StatusCode::CREATED);
    let caller = with_headers(server, trace_headers(TRACE_ID, "otlp-login"));
    let login = caller.login().body(login_body(&email, STRONG_PASSWORD));
    expect_tokens(login.send().await);
}

/// A raw GET (no route has this path: the SDK cannot send it) in trace [`UNMATCHED_TRACE`].
async fn unmatched_request(server: &ServerProcess) {
    let resp = http_client()
        .get(server.url("/no/such/route"))
        .headers(trace_headers(UNMATCHED_TRACE, "otlp-unmatched"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

/// A registration while the test holds SQLite's write lock: the insert is busy past
/// the statement timeout, the answer 503, in trace [`FAILED_TRACE`].
async fn failed_request(server: &ServerProcess) {
    use sqlx::Connection;
    let mut lock = sqlx::SqliteConnection::connect(&server.database_url)
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut lock)
        .await
        .unwrap();
    let caller = with_headers(server, trace_headers(FAILED_TRACE, "otlp-failed"));
    let register = caller
        .register()
        .body(register_body(&unique_email(), STRONG_PASSWORD));
    let result = register.send().await;
    expect_error_response(
        result,
        StatusCode::SERVICE_UNAVAILABLE,
        client_sdk::types::ErrorCode::Server001,
    );
    sqlx::raw_sql("ROLLBACK").execute(&mut lock).await.unwrap();
}

/// The server span of `trace`, under the caller's span.
fn server_span<'a>(spans: &'a [otlp::ReceivedSpan], trace: &str) -> &'a otlp::ReceivedSpan {
    let summary = summary(spans);
    let span = spans
        .iter()
        .find(|s| s.trace_id == trace && s.kind == 2)
        .unwrap_or_else(|| panic!("no server span in trace {trace}: {summary:?}"));
    assert_eq!(span.parent_span_id, PARENT_ID, "{summary:?}");
    span
}

fn summary(spans: &[otlp::ReceivedSpan]) -> Vec<String> {
    spans
        .iter()
        .map(|s| {
            format!(
                "{} {} ({}) <- {}",
                s.trace_id, s.name, s.span_id, s.parent_span_id
            )
        })
        .collect()
}

fn string(s: &str) -> Option<Any> {
    Some(Any::StringValue(s.to_owned()))
}

/// The login's server span: the conventions' attributes with their exact types.
fn check_server_span(span: &otlp::ReceivedSpan, port: u16) {
    let v = |k| span.value(k);
    assert_eq!(span.name, "POST /api/v1/auth/login");
    assert_eq!(v("http.request.method"), string("POST"));
    assert_eq!(v("http.route"), string("/api/v1/auth/login"));
    assert_eq!(v("url.path"), string("/api/v1/auth/login"));
    assert_eq!(v("url.scheme"), string("http"));
    assert_eq!(v("http.response.status_code"), Some(Any::IntValue(200)));
    assert_eq!(v("server.address"), string("127.0.0.1"));
    assert_eq!(v("server.port"), Some(Any::IntValue(i64::from(port))));
    assert_eq!(v("client.address"), string("127.0.0.1"));
    assert_eq!(v("network.peer.address"), string("127.0.0.1"));
    assert!(matches!(v("network.peer.port"), Some(Any::IntValue(p)) if p > 0));
    assert_eq!(v("network.protocol.version"), string("1.1"));
    assert_eq!(v("user_agent.original"), string(USER_AGENT));
    assert_eq!(v("request_id"), string("otlp-login"));
    assert_eq!(v("error.type"), None);
    assert_eq!(span.status_code, 0, "a 2xx leaves the status unset");
    assert_eq!(span.service_name.as_deref(), Some("todo-api-otlp-test"));
}

/// DB spans (CLIENT, named after the store operation) and the hashing span descend
/// from the server span.
fn check_child_spans(spans: &[otlp::ReceivedSpan], server_span: &otlp::ReceivedSpan) {
    let summary = summary(spans);
    let by_id: BTreeMap<&str, &otlp::ReceivedSpan> =
        spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let descends = |s: &otlp::ReceivedSpan| {
        let mut cur = s;
        for _ in 0..16 {
            if cur.parent_span_id == server_span.span_id {
                return true;
            }
            match by_id.get(cur.parent_span_id.as_str()) {
                Some(p) => cur = p,
                None => return false,
            }
        }
        false
    };
    for name in [
        "user_by_email",
        "create_session",
        "touch_last_login",
        "password_hash",
    ] {
        let span = spans
            .iter()
            .find(|s| s.trace_id == TRACE_ID && s.name == name)
            .unwrap_or_else(|| panic!("no {name} span: {summary:?}"));
        assert!(
            descends(span),
            "{name} is not under the server span: {summary:?}"
        );
    }
    let db = spans
        .iter()
        .find(|s| s.trace_id == TRACE_ID && s.name == "user_by_email")
        .unwrap();
    assert_eq!(db.kind, 3, "a database span is CLIENT");
    assert_eq!(db.value("db.system.name"), string("sqlite"));
    assert_eq!(db.value("db.operation.name"), string("user_by_email"));
    assert_eq!(db.value("db.namespace"), string("app.db"));
    assert_eq!(db.value("error.type"), None);
    assert_eq!(db.status_code, 0);
}

/// No route matched: the span is named after the method alone and has no `http.route`.
fn check_unmatched(spans: &[otlp::ReceivedSpan]) {
    let span = server_span(spans, UNMATCHED_TRACE);
    assert_eq!(span.name, "GET");
    assert_eq!(span.value("http.route"), None, "{:?}", span.attributes);
    assert_eq!(span.value("url.path"), string("/no/such/route"));
    assert_eq!(
        span.value("http.response.status_code"),
        Some(Any::IntValue(404))
    );
    assert_eq!(span.status_code, 0, "a 4xx is the client's: status unset");
}

/// A 5xx: the server span has status Error and `error.type` the status code; the
/// failed database call's span has status Error, its `error.type` and SQLSTATE.
fn check_failed(spans: &[otlp::ReceivedSpan]) {
    let span = server_span(spans, FAILED_TRACE);
    assert_eq!(span.name, "POST /api/v1/auth/register");
    assert_eq!(
        span.value("http.response.status_code"),
        Some(Any::IntValue(503))
    );
    assert_eq!(span.value("error.type"), string("503"));
    assert_eq!(span.status_code, 2, "a 5xx is an error");
    let db = spans
        .iter()
        .find(|s| s.trace_id == FAILED_TRACE && s.kind == 3 && s.status_code == 2)
        .unwrap_or_else(|| panic!("no failed database span: {:?}", summary(spans)));
    assert_eq!(db.value("error.type"), string("unavailable"));
    // SQLITE_BUSY.
    assert_eq!(db.value("db.response.status_code"), string("5"));
}

/// The request line of request `id`.
fn request_line(server: &ServerProcess, id: &str) -> Value {
    server
        .lines()
        .into_iter()
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
        .find(|l| {
            field(l, "request_id") == Some(&json!(id))
                && field(l, "message") == Some(&json!("request"))
        })
        .unwrap_or_else(|| panic!("no request line of {id}"))
}

#[tokio::test]
async fn otlp_export_follows_the_http_and_db_conventions() {
    let receiver = OtlpReceiver::start().await;
    let mut server = ServerProcess::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        ("OTEL_SERVICE_NAME", "todo-api-otlp-test"),
        ("DB_STATEMENT_TIMEOUT_MS", "200"),
    ])
    .await;
    let port: u16 = server.base_url.rsplit(':').next().unwrap().parse().unwrap();
    traced_login(&server).await;
    unmatched_request(&server).await;
    failed_request(&server).await;

    // Graceful stop: the batch exporter flushes on shutdown, and the process exits only
    // after its export was answered, so every span is in by then.
    let status = server.terminate().await;
    assert!(status.success(), "graceful exit on SIGTERM, got {status}");
    assert!(
        receiver.rejected().is_empty(),
        "malformed exports: {:?}",
        receiver.rejected()
    );
    let spans = receiver.spans();
    let login = server_span(&spans, TRACE_ID);
    check_server_span(login, port);
    check_child_spans(&spans, login);
    check_unmatched(&spans);
    check_failed(&spans);

    // The request's log line names the same trace and the server span.
    let line = request_line(&server, "otlp-login");
    assert_eq!(field(&line, "trace_id"), Some(&json!(TRACE_ID)), "{line}");
    assert_eq!(
        field(&line, "span_id"),
        Some(&json!(login.span_id)),
        "{line}"
    );
    let line = request_line(&server, "otlp-unmatched");
    assert_eq!(field(&line, "route"), Some(&json!("unmatched")), "{line}");
}
