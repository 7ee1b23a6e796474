//! Raw HTTP: requests the generated SDK cannot express (explicit JSON `null`, unknown
//! or mistyped fields, values its types refuse, malformed bodies, other content types,
//! methods and routes outside the spec, wire formats its types hide), and requests
//! reqwest will not send (lying `Content-Length`, unterminated chunks). Every call site
//! says why it is raw; normal calls go through [`crate::sdk_helpers`].

use std::collections::HashMap;

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use super::TestApp;

impl TestApp {
    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// `POST /api/v1/auth/register` with a name.
    pub async fn register(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/v1/auth/register",
            &json!({"email": email, "password": password, "name": "Test User"}),
        )
        .await
    }

    /// `POST /api/v1/auth/login`, unchecked.
    pub async fn login_raw(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/v1/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// `GET /api/v1/auth/me` with `access` as the bearer token.
    pub async fn me(&self, access: &str) -> Response {
        self.client
            .get(self.auth_url("/me"))
            .bearer_auth(access)
            .send()
            .await
            .expect("request sent")
    }

    /// `POST /api/v1/auth/refresh`.
    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": refresh_token}),
        )
        .await
    }

    /// `POST /api/v1/auth/logout` with an optional JSON body.
    pub async fn logout(&self, access: &str, body: Option<Value>) -> Response {
        let mut req = self
            .client
            .post(self.auth_url("/logout"))
            .bearer_auth(access);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request sent")
    }

    /// `POST /api/v1/auth/change-password`.
    pub async fn change_password(&self, access: &str, current: &str, new: &str) -> Response {
        self.client
            .post(self.auth_url("/change-password"))
            .bearer_auth(access)
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
            .await
            .expect("request sent")
    }

    /// `POST /api/v1/auth/token` (OAuth2 password grant, form-encoded).
    pub async fn token(&self, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.auth_url("/token"))
            .form(form)
            .send()
            .await
            .expect("request sent")
    }
}

/// A user's raw view of the API, for requests the SDK cannot express (explicit JSON
/// `null`, unknown fields, values its types refuse, malformed JSON) and for reading
/// wire formats its types hide. Normal calls go through the SDK ([`crate::sdk_helpers`]).
pub struct RawClient<'a> {
    pub app: &'a TestApp,
    pub token: String,
}

impl RawClient<'_> {
    /// `method path` with the user's bearer token, an optional JSON body and `If-Match`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> Response {
        let mut req = self
            .app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        if let Some(m) = if_match {
            req = req.header("If-Match", m);
        }
        req.send().await.expect("request sent")
    }

    /// Creates a todo, asserting 201 with `Location` and `ETag`.
    pub async fn create(&self, body: Value) -> Value {
        let resp = self
            .send(Method::POST, "/api/v1/todos", Some(body), None)
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
        let todo: Value = resp.json().await.unwrap();
        assert_eq!(
            location,
            format!("/api/v1/todos/{}", todo["id"].as_str().unwrap())
        );
        assert_eq!(etag, format!("\"{}\"", todo["version"]));
        todo
    }

    /// Sends and expects 200 with an ETag equal to the version; returns the todo.
    pub async fn ok(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> Value {
        let resp = self.send(method, path, body, if_match).await;
        let status = resp.status();
        let etag = resp
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned());
        let todo: Value = resp.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{todo}");
        assert_eq!(etag, Some(format!("\"{}\"", todo["version"])), "{todo}");
        todo
    }
}

/// Checks an error response: status, `error_code`, the full `ErrorBody` shape, and that
/// `request_id` equals the `X-Request-ID` header. Returns the body.
pub async fn assert_error(resp: Response, status: StatusCode, code: &str) -> Value {
    let body = assert_error_shape(resp, status).await;
    assert_eq!(body["error_code"], code, "error_code: {body}");
    body
}

/// Checks an error response's status, `ErrorBody` shape and `X-Request-ID`, whatever its code.
pub async fn assert_error_shape(resp: Response, status: StatusCode) -> Value {
    let actual = resp.status();
    let header_id = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = resp.text().await.expect("a readable body");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("error body is not JSON ({e}): {actual} {text:?}"));
    assert_eq!(actual, status, "status: {body}");
    assert!(body["error_code"].is_string(), "error_code: {body}");
    assert!(
        content_type.starts_with("application/json"),
        "content type {content_type:?}"
    );
    let obj = body.as_object().expect("the error body is an object");
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "details",
            "error_code",
            "message",
            "request_id",
            "timestamp"
        ],
        "{body}"
    );
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message: {body}"
    );
    assert!(body["details"].is_object(), "details: {body}");
    let ts = body["timestamp"].as_str().expect("timestamp is a string");
    assert!(ts.ends_with('Z'), "timestamp {ts:?} ends with Z");
    chrono::DateTime::parse_from_rfc3339(ts).unwrap_or_else(|e| panic!("timestamp {ts:?}: {e}"));
    let header_id = header_id.expect("every response carries X-Request-ID");
    assert_eq!(
        body["request_id"],
        header_id.as_str(),
        "request_id equals X-Request-ID"
    );
    body
}

/// Like [`assert_error`], also checking `details.field`.
pub async fn assert_field_error(
    resp: Response,
    status: StatusCode,
    code: &str,
    field: &str,
) -> Value {
    let body = assert_error(resp, status, code).await;
    assert_eq!(body["details"]["field"], field, "details.field: {body}");
    body
}

/// A parsed raw HTTP/1.1 response.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

/// Writes `head` then `body` to the server and reads one response, without closing
/// the write side (so the server answers from what it has read, not from an EOF).
/// Fails if no response arrives within `limit`.
pub async fn raw_exchange(
    port: u16,
    head: &str,
    body: &[u8],
    limit: std::time::Duration,
) -> RawResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let head = head.to_owned();
    let body = body.to_vec();
    // Write concurrently with reading: the server may answer before it has read everything.
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(head.as_bytes()).await;
        let _ = wr.write_all(&body).await;
        let _ = wr.flush().await;
        // Keep the write half open until the response has been read.
        wr
    });
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(resp) = parse_raw_response(&buf) {
                return resp;
            }
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => {
                    return parse_raw_response(&buf).unwrap_or_else(|| {
                        panic!(
                            "connection ended without a full response: {:?}",
                            String::from_utf8_lossy(&buf)
                        )
                    })
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let resp = tokio::time::timeout(limit, read).await.unwrap_or_else(|_| {
        panic!("no response within {limit:?}: the server waited for the whole body")
    });
    writer.abort();
    resp
}

fn parse_raw_response(buf: &[u8]) -> Option<RawResponse> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers.get("content-length")?.parse().ok()?;
    let body = buf.get(end + 4..end + 4 + len)?;
    Some(RawResponse {
        status,
        headers,
        body: serde_json::from_slice(body).ok()?,
    })
}

/// Checks a raw error response like [`assert_error`] does.
pub fn assert_raw_error(resp: &RawResponse, status: u16, code: &str) {
    assert_eq!(resp.status, status, "{resp:?}");
    let body = &resp.body;
    assert_eq!(body["error_code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["details"].is_object(), "{body}");
    assert!(
        body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{body}"
    );
    let id = resp
        .headers
        .get("x-request-id")
        .expect("X-Request-ID header");
    assert_eq!(body["request_id"], id.as_str(), "{body}");
}
