//! The outermost request wrapper: request ids, the body (read whole, within the
//! limit), plain HTTP behind a proxy, UTF-8 URIs, the auth rate limit, the security
//! headers, and the rendering of every error (handler or framework) in the documented
//! format.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use tracing::Instrument;

use poem::error::ReadBodyError;
use poem::http::{header, HeaderValue, Method, StatusCode};
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::error::{
    AuthorizationError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};

use super::body::serde_error;
use super::client_ip::{ClientIp, TrustedProxies};
use super::cors::CorsPolicy;
use super::headers::SecurityHeaders;
use super::rate_limit::{AuthRateLimiter, LIMITED_PATHS};
use super::routes::{root_answer, RouteTable};
use super::span::{finish_span, request_span};
use super::utf8;
use crate::error::{ApiError, ErrorCode};
use crate::metrics::{MethodLabel, Metrics, RateLimit};

/// Largest request body read, in bytes (1 MiB).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Where authentication leaves the caller's id for the request log line.
#[derive(Debug, Clone, Default)]
pub struct CallerSlot(pub Arc<OnceLock<uuid::Uuid>>);

/// Query and path parameters whose values are enums (VALIDATION_006 when invalid).
const ENUM_PARAMS: &[&str] = &["sort_by", "sort_order", "priority"];

/// Shared parts the wrapper needs.
pub struct HttpContext {
    pub routes: RouteTable,
    pub cors: CorsPolicy,
    pub metrics: Arc<Metrics>,
    pub limiter: AuthRateLimiter,
    pub trusted_proxies: TrustedProxies,
    pub headers: SecurityHeaders,
}

fn request_id(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=128).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Reads the whole body, within the limit, before anything answers: a response sent
/// with the body unread (a 401, a 404, GET /metrics with a body) leaves bytes that
/// make hyper close the keep-alive connection without a word. A declared length over
/// the limit is refused unread (413), and a body that breaks off or breaks its framing
/// is VALIDATION_004; both answers say `Connection: close`.
async fn read_body(req: &mut Request) -> Result<(), ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    let bytes = req
        .take_body()
        .into_bytes_limit(MAX_BODY_BYTES)
        .await
        .map_err(|e| match e {
            ReadBodyError::PayloadTooLarge => ApiError::PayloadTooLarge,
            _ => ApiError::UnreadableBody,
        })?;
    req.set_body(bytes);
    Ok(())
}

/// Turns any error that reached the top into the catalog error it stands for.
fn classify(err: poem::Error, routes: &RouteTable, path: &str) -> ApiError {
    if err.is::<ApiError>() {
        return err
            .downcast::<ApiError>()
            .unwrap_or_else(ApiError::internal_poem);
    }
    if let Some(e) = classify_param(&err, routes, path) {
        return e;
    }
    if let Some(p) = err.downcast_ref::<ParseRequestPayloadError>() {
        return match serde_error(".".into(), &p.reason) {
            e @ ApiError::Validation {
                code: ErrorCode::VALIDATION_004,
                ..
            } => e,
            _ => ApiError::invalid(
                ErrorCode::VALIDATION_004,
                "body",
                "Body is not valid JSON of the documented schema",
            ),
        };
    }
    if err.is::<AuthorizationError>() {
        return ApiError::InvalidToken;
    }
    classify_status(err, routes, path)
}

/// A query or path parameter poem-openapi could not parse, as a VALIDATION_* error.
fn classify_param(err: &poem::Error, routes: &RouteTable, path: &str) -> Option<ApiError> {
    let (name, reason) = match (
        err.downcast_ref::<ParseParamError>(),
        err.downcast_ref::<ParsePathError>(),
    ) {
        (Some(p), _) => (p.name.to_owned(), p.reason.as_str()),
        // poem-openapi names path parameters `param<N>` internally; report the spec's name.
        (_, Some(p)) => (
            routes
                .path_param(path, p.name)
                .unwrap_or_else(|| p.name.to_owned()),
            p.reason.as_str(),
        ),
        _ => return None,
    };
    let code = if reason.contains("expects an input value") {
        ErrorCode::VALIDATION_004
    } else if reason.contains("maxLength") {
        ErrorCode::VALIDATION_005
    } else if ENUM_PARAMS.contains(&name.as_str()) {
        ErrorCode::VALIDATION_006
    } else {
        ErrorCode::VALIDATION_009
    };
    let message = format!("Invalid parameter `{name}`");
    Some(ApiError::invalid(code, name, message))
}

/// Any other framework error, by its status.
fn classify_status(err: poem::Error, routes: &RouteTable, path: &str) -> ApiError {
    match err.status() {
        StatusCode::NOT_FOUND => ApiError::RouteNotFound,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed {
            allow: routes.allow(path).unwrap_or("").to_owned(),
        },
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        s if s.is_client_error() => ApiError::invalid(
            ErrorCode::VALIDATION_004,
            "body",
            "The request could not be understood",
        ),
        _ => ApiError::internal_poem(err),
    }
}

impl ApiError {
    fn internal_poem(err: poem::Error) -> Self {
        ApiError::internal(anyhow::anyhow!("{err}"))
    }
}

/// What is checked before routing: the body, plain HTTP behind a trusted proxy (in
/// production), UTF-8 in the path's parameters and in the query of known routes, then
/// the auth rate limit. `Ok(Some(_))` is the redirect to https.
async fn pre_checks(req: &mut Request, ctx: &HttpContext) -> Result<Option<Response>, ApiError> {
    read_body(req).await?;
    if let Some(answer) = ctx.headers.plain_http(req, &ctx.trusted_proxies) {
        return answer.map(Some);
    }
    let path = req.uri().path();
    utf8::check_path(path, &ctx.routes)?;
    if ctx.routes.template(path).is_some() {
        utf8::check_query(req.uri().query().unwrap_or(""))?;
    }
    client_and_rate_limit(req, ctx).await.map(|()| None)
}

/// Puts the client address into the request's extensions ([`ClientIp`]), then applies
/// the auth rate limit to the limited operations.
async fn client_and_rate_limit(req: &mut Request, ctx: &HttpContext) -> Result<(), ApiError> {
    let Some(peer) = req.remote_addr().as_socket_addr().map(|a| a.ip()) else {
        return Ok(());
    };
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let client = ctx.trusted_proxies.client(peer, &forwarded);
    req.extensions_mut().insert(ClientIp(client));
    if req.method() != Method::POST || !LIMITED_PATHS.contains(&req.uri().path()) {
        return Ok(());
    }
    ctx.limiter.check(client).await
}

/// What the request's log line and metrics need once the response is known.
struct Finished<'a> {
    method: MethodLabel,
    route: &'a str,
    caller: &'a CallerSlot,
    /// The client-address limit refused the request before routing.
    ip_limited: bool,
    started: Instant,
}

impl Finished<'_> {
    /// Records the status on the span, counts the request and writes its log line
    /// (inside the span: the line carries the request's `request_id` and `trace_id`).
    fn record(self, span: &tracing::Span, status: u16, metrics: &Metrics) {
        finish_span(span, status);
        let elapsed = self.started.elapsed().as_secs_f64();
        metrics.observe_request(self.method, self.route, status, elapsed);
        if status == 429 {
            // The only 429 after routing is a per-account limit's.
            let limit = if self.ip_limited {
                RateLimit::ClientIp
            } else {
                RateLimit::Account
            };
            metrics.rate_limited(limit);
        }
        span.in_scope(|| {
            tracing::info!(
                method = %self.method,
                route = self.route,
                status,
                latency_ms = elapsed * 1000.0,
                user_id = self.caller.0.get().map(tracing::field::display),
                "request"
            )
        });
    }
}

/// The headers every response gets: `X-Request-ID`, CORS, the security headers.
fn decorate(
    resp: &mut Response,
    id: &str,
    path: &str,
    origin: Option<HeaderValue>,
    ctx: &HttpContext,
) {
    if let Ok(v) = HeaderValue::from_str(id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    ctx.cors.decorate(origin, resp.headers_mut());
    ctx.headers.decorate(path, resp.headers_mut());
}

/// Wraps the whole application: every response gets `X-Request-ID` and the security
/// headers, every error the documented body, and a log line is written per request.
pub async fn handle<E: Endpoint>(
    ep: Arc<E>,
    mut req: Request,
    ctx: Arc<HttpContext>,
) -> poem::Result<Response> {
    let started = Instant::now();
    let id = request_id(&req);
    let caller = CallerSlot::default();
    req.extensions_mut().insert(caller.clone());
    let method = MethodLabel::of(req.method());
    let path = req.uri().path().to_owned();
    let pre = pre_checks(&mut req, &ctx).await;
    let ip_limited = matches!(pre, Err(ApiError::RateLimited { .. }));
    let template = ctx.routes.template(&path);
    let span = request_span(&req, template, &id);
    // Metrics and log lines need a bounded label: `unmatched` (the span has no route).
    let route = template.unwrap_or("unmatched");
    let origin = ctx.cors.origin_of(&req);
    let preflight = ctx.cors.preflight(&req);
    let mut resp = async {
        match (pre, preflight) {
            (Err(e), _) => e.to_response(&id),
            (Ok(Some(redirect)), _) => redirect,
            (Ok(None), Some(answer)) => answer,
            (Ok(None), None) => match root_answer(&req) {
                Some(Ok(r)) => r,
                Some(Err(e)) => e.to_response(&id),
                None => match ep.call(req).await {
                    Ok(r) => r.into_response(),
                    Err(e) => classify(e, &ctx.routes, &path).to_response(&id),
                },
            },
        }
    }
    .instrument(span.clone())
    .await;
    decorate(&mut resp, &id, &path, origin, &ctx);
    let finished = Finished {
        method,
        route,
        caller: &caller,
        ip_limited,
        started,
    };
    finished.record(&span, resp.status().as_u16(), &ctx.metrics);
    Ok(resp)
}
