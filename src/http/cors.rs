//! CORS for the configured origins (`CORS_ORIGINS`).
//!
//! poem's `Cors` answers 403 in its own format to a disallowed `Origin`; here such
//! requests are served without CORS headers instead (the browser enforces the
//! policy), so every error keeps the documented body.

use poem::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use poem::{Request, Response};

const ALLOW_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
/// Request headers always allowed: the API's own and the W3C trace context (browser
/// tracing SDKs send `traceparent`, `tracestate` and `baggage`).
const ALLOW_HEADERS: &str =
    "authorization, content-type, if-match, if-none-match, x-request-id, traceparent, tracestate, baggage";
const EXPOSE_HEADERS: &str = "etag, location, retry-after, x-request-id";

/// The allowed origins (empty means CORS is off) and request headers.
pub struct CorsPolicy {
    origins: Vec<String>,
    allow_headers: HeaderValue,
}

impl CorsPolicy {
    /// `extra_headers` (`CORS_ALLOW_HEADERS`) are allowed besides [`ALLOW_HEADERS`].
    pub fn new(origins: &[String], extra_headers: &[String]) -> Self {
        let origins = origins
            .iter()
            .map(|o| o.trim_end_matches('/').to_owned())
            .collect();
        let mut headers = ALLOW_HEADERS.to_owned();
        for h in extra_headers {
            headers.push_str(", ");
            headers.push_str(&h.to_ascii_lowercase());
        }
        let allow_headers = HeaderValue::from_str(&headers)
            .unwrap_or_else(|_| HeaderValue::from_static(ALLOW_HEADERS));
        CorsPolicy {
            origins,
            allow_headers,
        }
    }

    fn allowed<'a>(&self, req: &'a Request) -> Option<&'a HeaderValue> {
        let origin = req.headers().get(header::ORIGIN)?;
        let o = origin.to_str().ok()?;
        self.origins
            .iter()
            .any(|a| a == "*" || a == o)
            .then_some(origin)
    }

    /// The answer to a preflight request from an allowed origin, if this is one.
    pub fn preflight(&self, req: &Request) -> Option<Response> {
        let is_preflight = req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let origin = self.allowed(req).filter(|_| is_preflight)?.clone();
        let mut resp = Response::builder().status(StatusCode::NO_CONTENT).finish();
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            self.allow_headers.clone(),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        h.insert(header::VARY, HeaderValue::from_static("origin"));
        Some(resp)
    }

    /// Adds the CORS headers for an allowed origin to an actual response.
    pub fn decorate(&self, origin: Option<HeaderValue>, headers: &mut HeaderMap) {
        if let Some(origin) = origin {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSE_HEADERS),
            );
            headers.insert(header::VARY, HeaderValue::from_static("origin"));
        }
    }

    /// The request's origin when it is allowed.
    pub fn origin_of(&self, req: &Request) -> Option<HeaderValue> {
        self.allowed(req).cloned()
    }
}
