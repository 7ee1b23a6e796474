//! Log hygiene and OTLP trace export, through the built binary (JSON logs): one request
//! line per request with its fields, auth events, no secret in any form; spans that
//! continue the caller's trace.

use std::collections::{BTreeMap, HashSet};

use client_sdk::types::{self, ErrorCode};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::otlp::{self, OtlpReceiver};
use super::process::ServerProcess;
use crate::helpers::*;
use crate::sdk_helpers::*;

/// A field of a JSON log line (`fields.x` as tracing-subscriber writes it, or top level).
pub(super) fn field<'a>(line: &'a Value, name: &str) -> Option<&'a Value> {
    line.get("fields")
        .and_then(|f| f.get(name))
        .or_else(|| line.get(name))
}

/// An SDK client whose requests carry `X-Request-ID: id` (and a bearer token).
fn traced(server: &ServerProcess, id: &str, access: Option<&str>) -> client_sdk::Client {
    let mut headers = HeaderMap::new();
    headers.insert("x-request-id", HeaderValue::from_str(id).expect("an id"));
    if let Some(token) = access {
        let value = HeaderValue::from_str(&format!("Bearer {token}")).expect("a token");
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    with_headers(server, headers)
}

/// A request the log must show: its id, method, route, status, and whether it is
/// authenticated (its line then names the user).
struct Step {
    id: &'static str,
    method: &'static str,
    route: &'static str,
    status: u16,
    authenticated: bool,
}

const fn step(id: &'static str, method: &'static str, route: &'static str, status: u16) -> Step {
    Step {
        id,
        method,
        route,
        status,
        authenticated: false,
    }
}

const fn authenticated(mut s: Step) -> Step {
    s.authenticated = true;
    s
}

/// The requests [`log_traffic`] sends, in order.
const STEPS: &[Step] = &[
    step("log-register", "POST", "/api/v1/auth/register", 201),
    step("log-login", "POST", "/api/v1/auth/login", 200),
    authenticated(step("log-me", "GET", "/api/v1/auth/me", 200)),
    step("log-refresh", "POST", "/api/v1/auth/refresh", 200),
    authenticated(step(
        "log-change-password",
        "POST",
        "/api/v1/auth/change-password",
        200,
    )),
    step("log-login-2", "POST", "/api/v1/auth/login", 200),
    authenticated(step("log-logout", "POST", "/api/v1/auth/logout", 200)),
    step("log-login-failed", "POST", "/api/v1/auth/login", 401),
    // A revoked token presented again: refused, and still not logged.
    step("log-me-revoked", "GET", "/api/v1/auth/me", 401),
];

const NEW_PASSWORD: &str = "Brand-New#Secret42";
const WRONG_PASSWORD: &str = "Not-The#Password77";

/// Registers `email` as step `log-register`; returns the user id.
async fn traced_register(server: &ServerProcess, email: &str) -> String {
    let name = Some("Log Test".parse().unwrap());
    let register = register_body(email, STRONG_PASSWORD).name(name);
    let user = traced(server, "log-register", None)
        .register()
        .body(register)
        .send()
        .await;
    let user = expect_ok(user, StatusCode::CREATED).into_inner();
    user.id.to_string()
}

/// Sends [`STEPS`] as `email`; returns the user id and every token issued.
async fn log_traffic(server: &ServerProcess, email: &str) -> (String, Vec<String>) {
    let user_id = traced_register(server, email).await;
    let login = |id, password| async move {
        let body = login_body(email, password);
        expect_tokens(traced(server, id, None).login().body(body).send().await)
    };
    let first = login("log-login", STRONG_PASSWORD).await;
    let me = traced(server, "log-me", Some(&first.access_token))
        .get_me()
        .send()
        .await;
    expect_ok(me, StatusCode::OK);
    let refresh = refresh_body(&first.refresh_token);
    let rotated = traced(server, "log-refresh", None)
        .refresh_token()
        .body(refresh)
        .send()
        .await;
    let rotated = expect_tokens(rotated);
    let change = change_password_body(STRONG_PASSWORD, NEW_PASSWORD);
    let client = traced(server, "log-change-password", Some(&rotated.access_token));
    expect_ok(
        client.change_password().body(change).send().await,
        StatusCode::OK,
    );
    let again = login("log-login-2", NEW_PASSWORD).await;
    let logout =
        types::LogoutRequest::builder().refresh_token(Some(again.refresh_token.parse().unwrap()));
    let client = traced(server, "log-logout", Some(&again.access_token));
    expect_ok(client.logout().body(logout).send().await, StatusCode::OK);
    let failed = login_body(email, WRONG_PASSWORD);
    let failed = traced(server, "log-login-failed", None)
        .login()
        .body(failed)
        .send()
        .await;
    expect_error(failed, StatusCode::UNAUTHORIZED, ErrorCode::Auth001);
    let revoked = traced(server, "log-me-revoked", Some(&first.access_token))
        .get_me()
        .send()
        .await;
    expect_error(revoked, StatusCode::UNAUTHORIZED, ErrorCode::Auth004);
    let tokens = [first, rotated, again]
        .into_iter()
        .flat_map(|t| [t.access_token, t.refresh_token])
        .collect();
    (user_id, tokens)
}

/// The stored password hash of `email` in the child's SQLite database.
async fn stored_hash(server: &ServerProcess, email: &str) -> String {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&server.database_url)
        .await
        .unwrap();
    sqlx::query_scalar("SELECT password_hash FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// No secret appears in the log text, in any form.
fn check_no_secrets(text: &str, secrets: &[String]) {
    for s in secrets {
        assert!(
            !text.contains(s.as_str()),
            "a secret appears in the logs: {}…",
            &s[..12.min(s.len())]
        );
    }
    let lower = text.to_ascii_lowercase();
    for needle in ["$argon2", "eyj", "authorization", "bearer "] {
        assert!(
            !lower.contains(needle),
            "{needle:?} appears in the logs:\n{text}"
        );
    }
}

/// One request line per step, with its fields.
fn check_request_lines(parsed: &[Value], text: &str, user_id: &str) {
    for s in STEPS {
        let line = parsed
            .iter()
            .find(|l| {
                field(l, "message") == Some(&json!("request"))
                    && field(l, "request_id") == Some(&json!(s.id))
            })
            .unwrap_or_else(|| panic!("no request line for {}:\n{text}", s.id));
        assert_eq!(field(line, "method"), Some(&json!(s.method)), "{line}");
        assert_eq!(field(line, "route"), Some(&json!(s.route)), "{line}");
        let status = field(line, "status").and_then(Value::as_u64);
        assert_eq!(status, Some(u64::from(s.status)), "{line}");
        let latency = field(line, "latency_ms").and_then(Value::as_f64);
        assert!(latency.is_some_and(|ms| ms >= 0.0), "{line}");
        let trace_id = field(line, "trace_id").and_then(Value::as_str);
        assert!(trace_id.is_some_and(|t| t.len() == 32), "{line}");
        if s.authenticated {
            assert_eq!(field(line, "user_id"), Some(&json!(user_id)), "{line}");
        }
    }
}

/// Every auth event of the traffic is logged with its outcome.
fn check_auth_events(parsed: &[Value]) {
    let events: HashSet<(String, String)> = parsed
        .iter()
        .filter(|l| field(l, "message") == Some(&json!("auth event")))
        .map(|l| {
            let s = |k| {
                field(l, k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            (s("event"), s("outcome"))
        })
        .collect();
    for (event, outcome) in [
        ("login", "success"),
        ("login", "failure"),
        ("refresh", "success"),
        ("logout", "success"),
        ("password_change", "success"),
    ] {
        assert!(
            events.contains(&(event.to_owned(), outcome.to_owned())),
            "auth event {event}/{outcome} missing: {events:?}"
        );
    }
}

#[tokio::test]
async fn logs_carry_request_fields_and_no_secrets() {
    let mut server = ServerProcess::start(&[]).await;
    let email = unique_email();
    let (user_id, tokens) = log_traffic(&server, &email).await;
    let hash = stored_hash(&server, &email).await;
    assert!(hash.starts_with("$argon2"));
    let mut secrets: Vec<String> = [STRONG_PASSWORD, NEW_PASSWORD, WRONG_PASSWORD]
        .map(str::to_owned)
        .into();
    secrets.extend(tokens);
    secrets.push(hash);

    let status = server.terminate().await;
    assert!(status.success(), "graceful exit on SIGTERM, got {status}");
    let lines = server.lines();
    let text = lines.join("\n");
    // Every line is a JSON object.
    let parsed: Vec<Value> = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .collect();
    assert!(parsed.iter().all(Value::is_object));
    check_no_secrets(&text, &secrets);
    check_request_lines(&parsed, &text, &user_id);
    check_auth_events(&parsed);
    assert!(
        lines.iter().any(|l| l.contains("shut down")),
        "a clean shutdown is logged:\n{text}"
    );
}

// ---------------------------------------------------------------------------------
// OTLP trace export (the binary, an in-test receiver)

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

/// Registers, then logs in as the caller of trace [`TRACE_ID`] (request `otlp-login`).
async fn traced_login(server: &ServerProcess) {
    let email = unique_email();
    let anon = anonymous(server);
    let register = anon.register().body(register_body(&email, STRONG_PASSWORD));
    expect_ok(register.send().await, StatusCode::CREATED);
    let mut headers = HeaderMap::new();
    let parent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    headers.insert("traceparent", HeaderValue::from_str(&parent).unwrap());
    headers.insert("x-request-id", HeaderValue::from_static("otlp-login"));
    let caller = with_headers(server, headers);
    let login = caller.login().body(login_body(&email, STRONG_PASSWORD));
    expect_tokens(login.send().await);
}

/// The server span of the caller's trace: under the caller's span, with its attributes.
fn check_server_span<'a>(
    spans: &'a [otlp::ReceivedSpan],
    summary: &[String],
) -> &'a otlp::ReceivedSpan {
    let server_span = spans
        .iter()
        .find(|s| s.kind == 2)
        .unwrap_or_else(|| panic!("no server span in trace {TRACE_ID}: {summary:?}"));
    assert_eq!(server_span.parent_span_id, PARENT_ID);
    let attr = |k| server_span.attr(k);
    assert_eq!(attr("http.route").as_deref(), Some("/api/v1/auth/login"));
    assert_eq!(attr("http.response.status_code").as_deref(), Some("200"));
    assert_eq!(attr("http.request.method").as_deref(), Some("POST"));
    assert_eq!(
        server_span.service_name.as_deref(),
        Some("todo-api-otlp-test")
    );
    server_span
}

/// DB spans (named after the store operation) and the hashing span descend from the
/// server span.
fn check_child_spans(
    spans: &[otlp::ReceivedSpan],
    server_span: &otlp::ReceivedSpan,
    summary: &[String],
) {
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
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no {name} span: {summary:?}"));
        assert!(
            descends(span),
            "{name} is not under the server span: {summary:?}"
        );
    }
    let db = spans.iter().find(|s| s.name == "user_by_email").unwrap();
    assert_eq!(
        db.attr("db.operation.name").as_deref(),
        Some("user_by_email")
    );
}

#[tokio::test]
async fn otlp_export_continues_the_callers_trace_with_db_and_hash_spans() {
    let receiver = OtlpReceiver::start().await;
    let mut server = ServerProcess::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        ("OTEL_SERVICE_NAME", "todo-api-otlp-test"),
    ])
    .await;
    traced_login(&server).await;

    // Graceful stop: the batch exporter flushes on shutdown, and the process exits only
    // after its export was answered, so every span is in by then.
    let status = server.terminate().await;
    assert!(status.success(), "graceful exit on SIGTERM, got {status}");
    assert!(
        receiver.rejected().is_empty(),
        "malformed exports: {:?}",
        receiver.rejected()
    );
    let spans: Vec<_> = receiver
        .spans()
        .into_iter()
        .filter(|s| s.trace_id == TRACE_ID)
        .collect();
    let summary: Vec<String> = spans
        .iter()
        .map(|s| format!("{} ({}) <- {}", s.name, s.span_id, s.parent_span_id))
        .collect();
    let server_span = check_server_span(&spans, &summary);
    check_child_spans(&spans, server_span, &summary);

    // The request's log line names the same trace.
    let line = server
        .lines()
        .into_iter()
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
        .find(|l| {
            field(l, "request_id") == Some(&json!("otlp-login"))
                && field(l, "message") == Some(&json!("request"))
        })
        .expect("the login's request line");
    assert_eq!(field(&line, "trace_id"), Some(&json!(TRACE_ID)), "{line}");
}
