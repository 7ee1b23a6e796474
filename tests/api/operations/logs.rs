//! Log hygiene through the built binary (JSON logs): flat lines, one request line per
//! request with its fields, auth events inside their request (its `request_id`,
//! `trace_id`, a `span_id`), no secret in any form.

use std::collections::{BTreeMap, HashSet};

use client_sdk::types::{self, ErrorCode};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::process::ServerProcess;
use crate::helpers::*;
use crate::sdk_helpers::*;

/// A field of a JSON log line: every field is at the top level.
pub(super) fn field<'a>(line: &'a Value, name: &str) -> Option<&'a Value> {
    line.get(name)
}

/// Whether `v` is a string of `len` lower-case hex digits, not all zero.
fn is_hex_id(v: Option<&Value>, len: usize) -> bool {
    v.and_then(Value::as_str).is_some_and(|s| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && s.bytes().any(|b| b != b'0')
    })
}

/// Every line is flat: no nested `fields`/`span`/`spans` objects, and the fixed keys
/// are there.
fn check_flat(parsed: &[Value]) {
    for line in parsed {
        for nested in ["fields", "span", "spans"] {
            assert!(line.get(nested).is_none(), "nested {nested:?}: {line}");
        }
        for key in ["timestamp", "level", "target", "message"] {
            assert!(
                line.get(key).is_some_and(Value::is_string),
                "no {key}: {line}"
            );
        }
    }
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
        assert!(is_hex_id(field(line, "trace_id"), 32), "{line}");
        assert!(is_hex_id(field(line, "span_id"), 16), "{line}");
        if s.authenticated {
            assert_eq!(field(line, "user_id"), Some(&json!(user_id)), "{line}");
        }
    }
}

/// The request line of step `id`.
fn request_line<'a>(parsed: &'a [Value], id: &str) -> &'a Value {
    parsed
        .iter()
        .find(|l| {
            field(l, "message") == Some(&json!("request"))
                && field(l, "request_id") == Some(&json!(id))
        })
        .unwrap_or_else(|| panic!("no request line for {id}"))
}

/// Every auth event of the traffic is logged with its outcome, inside its request:
/// the line carries that request's `request_id` and `trace_id`, and a span id.
fn check_auth_events(parsed: &[Value]) {
    let mut events: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for l in parsed
        .iter()
        .filter(|l| field(l, "message") == Some(&json!("auth event")))
    {
        let s = |k| {
            field(l, k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let id = s("request_id");
        let request = request_line(parsed, &id);
        assert_eq!(field(l, "trace_id"), field(request, "trace_id"), "{l}");
        assert!(is_hex_id(field(l, "span_id"), 16), "{l}");
        events
            .entry((s("event"), s("outcome")))
            .or_default()
            .push(id);
    }
    for (event, outcome, ids) in [
        ("login", "success", &["log-login", "log-login-2"][..]),
        ("login", "failure", &["log-login-failed"]),
        ("refresh", "success", &["log-refresh"]),
        ("logout", "success", &["log-logout"]),
        ("password_change", "success", &["log-change-password"]),
    ] {
        let seen = events.get(&(event.to_owned(), outcome.to_owned()));
        assert_eq!(
            seen.map(Vec::as_slice),
            Some(&ids.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()[..]),
            "auth event {event}/{outcome} with its request ids: {events:?}"
        );
    }
    // Each request is a trace of its own.
    let traces: HashSet<String> = STEPS
        .iter()
        .filter_map(|s| field(request_line(parsed, s.id), "trace_id"))
        .map(Value::to_string)
        .collect();
    assert_eq!(traces.len(), STEPS.len(), "{traces:?}");
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
    check_flat(&parsed);
    check_no_secrets(&text, &secrets);
    check_request_lines(&parsed, &text, &user_id);
    check_auth_events(&parsed);
    assert!(
        lines.iter().any(|l| l.contains("shut down")),
        "a clean shutdown is logged:\n{text}"
    );
}
