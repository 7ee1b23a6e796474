//! The security headers of every response, and plain HTTP behind a trusted proxy
//! (contract: "Security rules (v3)"; README: Security).

use poem::http::uri::Authority;
use poem::http::{header, HeaderMap, HeaderValue, StatusCode};
use poem::{Request, Response};

use super::client_ip::TrustedProxies;
use crate::error::{ApiError, ErrorCode};

/// HSTS for one year; sent in production only.
const HSTS: &str = "max-age=31536000";
/// Nobody may frame the docs UIs (clickjacking).
const NO_FRAMING: &str = "frame-ancestors 'none'";

/// Paths served over plain HTTP even in production: load-balancer probes and scrapers.
const PLAIN_HTTP_PATHS: &[&str] = &["/health", "/health/live", "/metrics"];

/// Whether `path` is `prefix` itself or below it.
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The header rules, and whether plain HTTP is redirected (production).
pub struct SecurityHeaders {
    production: bool,
}

impl SecurityHeaders {
    pub fn new(production: bool) -> Self {
        SecurityHeaders { production }
    }

    /// Adds the headers a response to `path` carries: `nosniff` always, `no-store` on
    /// auth responses (they carry tokens and credentials, RFC 6749 §5.1), no framing
    /// of the docs, HSTS in production.
    pub fn decorate(&self, path: &str, headers: &mut HeaderMap) {
        let set = |h: &mut HeaderMap, name, value| {
            h.insert(name, HeaderValue::from_static(value));
        };
        set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        if under(path, "/api/v1/auth") {
            set(headers, header::CACHE_CONTROL, "no-store");
            set(headers, header::PRAGMA, "no-cache");
        }
        if under(path, "/docs") || under(path, "/redoc") {
            set(headers, header::CONTENT_SECURITY_POLICY, NO_FRAMING);
            set(headers, header::X_FRAME_OPTIONS, "DENY");
        }
        if self.production {
            set(headers, header::STRICT_TRANSPORT_SECURITY, HSTS);
        }
    }

    /// In production, the answer to a request that a trusted proxy received over plain
    /// HTTP (`X-Forwarded-Proto: http`): 308 to the same URL on https; VALIDATION_004
    /// on `host` when there is no host to redirect to. `None`: serve it.
    pub fn plain_http(
        &self,
        req: &Request,
        proxies: &TrustedProxies,
    ) -> Option<Result<Response, ApiError>> {
        let peer = req.remote_addr().as_socket_addr()?.ip();
        let plain = req
            .headers()
            .get_all("x-forwarded-proto")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|proto| proto.trim().eq_ignore_ascii_case("http"));
        let exempt = PLAIN_HTTP_PATHS.contains(&req.uri().path());
        (self.production && plain && !exempt && proxies.contains(peer)).then(|| https_redirect(req))
    }
}

/// `308 Permanent Redirect` to `https://<host><path and query>` (the port is dropped:
/// the plain-HTTP port is not the TLS one).
fn https_redirect(req: &Request) -> Result<Response, ApiError> {
    let from_header = || {
        let host = req.headers().get(header::HOST)?.to_str().ok()?;
        host.parse::<Authority>().ok()
    };
    let authority = req.uri().authority().cloned().or_else(from_header);
    let location = authority
        .filter(|a| !a.as_str().contains('@'))
        .map(|a| {
            let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
            format!("https://{}{target}", a.host())
        })
        .and_then(|l| HeaderValue::from_str(&l).ok())
        .ok_or_else(|| {
            ApiError::invalid(
                ErrorCode::VALIDATION_004,
                "host",
                "Plain HTTP is redirected to https, which needs a valid Host header",
            )
        })?;
    Ok(Response::builder()
        .status(StatusCode::PERMANENT_REDIRECT)
        .header(header::LOCATION, location)
        .finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decorated(production: bool, path: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        SecurityHeaders::new(production).decorate(path, &mut h);
        h
    }

    #[test]
    fn headers_by_path_and_environment() {
        let h = decorated(false, "/api/v1/todos");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(
            !h.contains_key(header::CACHE_CONTROL)
                && !h.contains_key(header::STRICT_TRANSPORT_SECURITY)
        );
        assert_eq!(
            decorated(false, "/api/v1/auth/login")[header::CACHE_CONTROL],
            "no-store"
        );
        assert!(!decorated(false, "/api/v1/authx").contains_key(header::CACHE_CONTROL));
        for docs in ["/docs", "/docs/", "/redoc"] {
            let h = decorated(false, docs);
            assert_eq!(h[header::CONTENT_SECURITY_POLICY], NO_FRAMING, "{docs}");
            assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{docs}");
        }
        assert!(!decorated(false, "/docsx").contains_key(header::X_FRAME_OPTIONS));
        assert_eq!(
            decorated(true, "/health")[header::STRICT_TRANSPORT_SECURITY],
            HSTS
        );
    }
}
