//! The rules every answer must keep: (a) a declared status, (b) the declared body schema
//! and required headers, (c) a catalogued error code with the catalog's status and the
//! error rules, (d) never a 5xx; plus `X-Request-ID`, `ETag`, `Allow` and `Retry-After`.

use reqwest::header::HeaderMap;
use serde_json::Value;
use uuid::Uuid;

use super::call::Call;
use super::catalog::CATALOG;
use super::input::Body;
use super::spec::Operation;
use super::strategies::request_id_well_formed;

/// An answer as received.
pub struct Answer<'a> {
    pub status: u16,
    pub headers: &'a HeaderMap,
    pub bytes: &'a [u8],
    /// The body as JSON (`Null` when it is not JSON).
    pub body: &'a Value,
    pub text: &'a str,
}

pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Every rule `answer` to `call` (an operation `op` of the spec) breaks, and the
/// `error_code` it carries.
pub fn check(op: &Operation, call: &Call, answer: &Answer) -> (Option<String>, Vec<String>) {
    let mut problems = vec![];
    if answer.status >= 500 {
        problems.push(format!("(d) server error {}", answer.status));
    }
    check_declared(op, answer, &mut problems);
    check_request_id(call, answer, &mut problems);
    let code = if answer.status >= 400 {
        check_error(call, answer, &mut problems)
    } else {
        None
    };
    check_headers(answer, &mut problems);
    (code, problems)
}

/// (a) a declared status; (b) the declared schema and required headers.
fn check_declared(op: &Operation, answer: &Answer, problems: &mut Vec<String>) {
    let status = answer.status;
    let Some(declared) = op.responses.get(&status) else {
        let declared: Vec<_> = op.responses.keys().collect();
        problems.push(format!(
            "(a) status {status} is not declared (declared: {declared:?})"
        ));
        return;
    };
    match &declared.validator {
        Some(v) => check_schema(v, answer, problems),
        None if !answer.bytes.is_empty() => {
            problems.push(format!("(b) {status}: a body on a body-less response"))
        }
        None => {}
    }
    for h in &declared.required_headers {
        if !answer.headers.contains_key(h.as_str()) {
            problems.push(format!("(b) {status}: required header {h} missing"));
        }
    }
}

fn check_schema(v: &jsonschema::Validator, answer: &Answer, problems: &mut Vec<String>) {
    let status = answer.status;
    let ct = header(answer.headers, "content-type").unwrap_or_default();
    if !ct.starts_with("application/json") {
        problems.push(format!("(b) {status}: content type {ct:?}"));
    }
    match serde_json::from_slice::<Value>(answer.bytes) {
        Err(e) => problems.push(format!("(b) {status}: body is not JSON ({e})")),
        Ok(b) => {
            let errors: Vec<String> = v
                .iter_errors(&b)
                .take(3)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            if !errors.is_empty() {
                problems.push(format!(
                    "(b) {status}: body does not match the schema: {}",
                    errors.join("; ")
                ));
            }
        }
    }
}

/// `X-Request-ID`: echoed when well formed, else a fresh UUID.
fn check_request_id(call: &Call, answer: &Answer, problems: &mut Vec<String>) {
    let rid = header(answer.headers, "x-request-id");
    match (&rid, &call.request_id) {
        (None, _) => problems.push("no X-Request-ID header".into()),
        (Some(got), Some(sent)) if request_id_well_formed(sent) => {
            if got != sent {
                problems.push("a well-formed X-Request-ID was not echoed".into());
            }
        }
        (Some(got), _) => {
            if Uuid::parse_str(got).is_err() {
                problems.push(format!("X-Request-ID {got:?} is not a new UUID"));
            }
        }
    }
}

/// (c) a documented code with the catalog's status, `details.field` for validation
/// errors, `request_id` = `X-Request-ID`, and no secret of the request echoed.
fn check_error(call: &Call, answer: &Answer, problems: &mut Vec<String>) -> Option<String> {
    let (status, body) = (answer.status, answer.body);
    let rid = header(answer.headers, "x-request-id");
    if rid.is_some() && body["request_id"].as_str() != rid.as_deref() {
        problems.push("(c) request_id differs from X-Request-ID".into());
    }
    if let Some(s) = echoed_secret(call, answer.text) {
        problems.push(format!("(c) the error echoes a secret ({s}…)"));
    }
    let Some(c) = body["error_code"].as_str() else {
        problems.push(format!("(c) {status} without an error_code"));
        return None;
    };
    match CATALOG.iter().find(|(k, _)| *k == c) {
        None => problems.push(format!("(c) undocumented error_code {c}")),
        Some((_, s)) if *s != status => problems.push(format!(
            "(c) {c} is {s} in the catalog, answered with {status}"
        )),
        Some(_) => {}
    }
    let field = body["details"]["field"].as_str();
    if c.starts_with("VALIDATION_") && field.is_none_or(str::is_empty) {
        problems.push(format!("(c) {c} without details.field"));
    }
    Some(c.to_owned())
}

/// The start of a token or password of `call` that appears in `text`.
fn echoed_secret(call: &Call, text: &str) -> Option<String> {
    let mut secrets: Vec<String> = vec![];
    if let Some(a) = &call.authorization {
        secrets.extend(a.split_whitespace().nth(1).map(str::to_owned));
    }
    if let Body::Json(Value::Object(m)) = &call.body {
        for k in [
            "password",
            "current_password",
            "new_password",
            "refresh_token",
        ] {
            secrets.extend(m.get(k).and_then(Value::as_str).map(str::to_owned));
        }
    }
    secrets
        .iter()
        .find(|s| s.len() >= 8 && text.contains(s.as_str()))
        .map(|s| s.chars().take(12).collect())
}

/// `ETag` is the version; 405 carries `Allow`; 429 a `Retry-After` of 1 to 60 s.
fn check_headers(answer: &Answer, problems: &mut Vec<String>) {
    let (status, headers) = (answer.status, answer.headers);
    let version = answer.body["version"].as_i64();
    if let (Some(etag), Some(version)) = (header(headers, "etag"), version) {
        if status < 300 && etag != format!("\"{version}\"") {
            problems.push(format!("ETag {etag} is not the version {version}"));
        }
    }
    if status == 405 && !headers.contains_key("allow") {
        problems.push("405 without an Allow header".into());
    }
    if status == 429 {
        let after = header(headers, "retry-after").and_then(|v| v.parse::<u64>().ok());
        if !after.is_some_and(|s| (1..=60).contains(&s)) {
            problems.push(format!("429 with Retry-After {after:?} (want 1..=60)"));
        }
    }
}
