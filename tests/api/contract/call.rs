//! One resolved request: what is sent, how to replay it, and what came back.

use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::Method;
use serde_json::Value;

use super::input::{Body, Query};

/// One request, resolved (tokens and placeholders filled in).
pub struct Call {
    pub op: &'static str,
    pub method: Method,
    pub path: String,
    pub query: Query,
    pub authorization: Option<String>,
    pub token_label: &'static str,
    pub if_match: Option<String>,
    pub request_id: Option<String>,
    pub body: Body,
    /// The body before placeholders were filled in (for the report).
    pub template: String,
}

impl Call {
    pub fn new(op: &'static str, method: Method, path: String) -> Call {
        Call {
            op,
            method,
            path,
            query: vec![],
            authorization: None,
            token_label: "none",
            if_match: None,
            request_id: None,
            body: Body::None,
            template: String::new(),
        }
    }

    pub fn bearer(mut self, token: &str) -> Call {
        self.authorization = Some(format!("Bearer {token}"));
        self.token_label = "valid token";
        self
    }

    pub fn json(mut self, body: Value) -> Call {
        self.template = body.to_string();
        self.body = Body::Json(body);
        self
    }

    /// A shell command that replays the request (tokens shown by kind).
    pub fn repro(&self) -> String {
        let mut url = self.path.clone();
        if !self.query.is_empty() {
            let q: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            url = format!("{url}?{}", q.join("&"));
        }
        let mut s = format!("curl -X {} '$BASE{url}'", self.method);
        if self.authorization.is_some() {
            s += &format!(" -H 'Authorization: <{}>'", self.token_label);
        }
        if let Some(m) = &self.if_match {
            s += &format!(" -H 'If-Match: {m}'");
        }
        if let Some(r) = &self.request_id {
            s += &format!(" -H 'X-Request-ID: {r}'");
        }
        let shown = |t: &str| {
            let t: String = t.chars().take(300).collect();
            t.replace('\'', "'\\''")
        };
        match &self.body {
            Body::None => {}
            Body::Json(_) => {
                s += &format!(
                    " -H 'Content-Type: application/json' --data '{}'",
                    shown(&self.template)
                )
            }
            Body::Raw(ct, t) => s += &format!(" -H 'Content-Type: {ct}' --data '{}'", shown(t)),
            Body::Form(_) => s += &format!(" --data-urlencode … ({})", shown(&self.template)),
            Body::TooLarge(n, form) => {
                s += &format!(
                    " --data <{n} bytes{}>",
                    if *form { ", form" } else { ", JSON" }
                )
            }
        }
        s
    }
}

pub struct Outcome {
    pub status: u16,
    pub code: Option<String>,
    pub field: Option<String>,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Call {
    /// The request on `client`, to `base_url` + the call's path.
    pub fn request(&self, client: &reqwest::Client, base_url: &str) -> reqwest::RequestBuilder {
        let url = format!("{base_url}{}", self.path);
        let mut req = client.request(self.method.clone(), url);
        if !self.query.is_empty() {
            req = req.query(&self.query);
        }
        if let Some(a) = &self.authorization {
            req = req.header(reqwest::header::AUTHORIZATION, a);
        }
        if let Some(m) = &self.if_match {
            req = req.header("If-Match", m);
        }
        if let Some(r) = &self.request_id {
            req = req.header("X-Request-ID", r);
        }
        match &self.body {
            Body::None => req,
            Body::Json(v) => req
                .header(CONTENT_TYPE, "application/json")
                .body(v.to_string()),
            Body::Raw(ct, t) => req.header(CONTENT_TYPE, *ct).body(t.clone()),
            Body::Form(f) => req.form(f),
            Body::TooLarge(n, form) => {
                let (ct, body) = oversized(*n, *form);
                req.header(CONTENT_TYPE, ct).body(body)
            }
        }
    }
}

/// A JSON object (or form) of exactly `n` bytes: its content type and text.
fn oversized(n: usize, form: bool) -> (&'static str, String) {
    let (ct, head, tail) = if form {
        (
            "application/x-www-form-urlencoded",
            "grant_type=password&pad=",
            "",
        )
    } else {
        ("application/json", "{\"pad\": \"", "\"}")
    };
    let body = format!("{head}{}{tail}", "x".repeat(n - head.len() - tail.len()));
    assert_eq!(body.len(), n);
    (ct, body)
}
