//! The outermost request wrapper: request ids, body limit, auth rate limit, and the
//! rendering of every error (handler or framework) in the documented format.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use opentelemetry::trace::{TraceContextExt, TraceId};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use poem::http::{header, HeaderValue, Method, StatusCode};
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::error::{
    AuthorizationError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};

use super::body::serde_error;
use super::client_ip::{ClientIp, TrustedProxies};
use super::cors::CorsPolicy;
use super::rate_limit::{AuthRateLimiter, LIMITED_PATHS};
use crate::error::{ApiError, ErrorCode};
use crate::metrics::Metrics;

/// Largest request body read, in bytes (1 MiB).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Where authentication leaves the caller's id for the request log line.
#[derive(Debug, Clone, Default)]
pub struct CallerSlot(pub Arc<OnceLock<uuid::Uuid>>);

/// Query and path parameters whose values are enums (VALIDATION_006 when invalid).
const ENUM_PARAMS: &[&str] = &["sort_by", "sort_order", "priority"];

/// The route templates of the spec and their methods, for `Allow` and route labels.
pub struct RouteTable {
    routes: Vec<(Vec<String>, String, String)>,
}

impl RouteTable {
    /// Builds the table from the emitted OpenAPI document.
    pub fn from_spec(spec: &serde_json::Value) -> Self {
        let mut routes = Vec::new();
        if let Some(paths) = spec["paths"].as_object() {
            for (template, ops) in paths {
                let mut methods: Vec<String> = ops
                    .as_object()
                    .map(|o| o.keys().map(|m| m.to_ascii_uppercase()).collect())
                    .unwrap_or_default();
                if methods.iter().any(|m| m == "GET") {
                    methods.push("HEAD".into());
                }
                let segments = template.split('/').map(str::to_owned).collect();
                routes.push((segments, template.clone(), methods.join(", ")));
            }
        }
        // Plain routes outside the spec, so their metrics get a route label too.
        for path in [
            "/metrics",
            "/docs",
            "/redoc",
            "/openapi.json",
            "/openapi.yaml",
        ] {
            let segments = path.split('/').map(str::to_owned).collect();
            routes.push((segments, path.to_owned(), "GET, HEAD".to_owned()));
        }
        RouteTable { routes }
    }

    fn find(&self, path: &str) -> Option<&(Vec<String>, String, String)> {
        let parts: Vec<&str> = path.split('/').collect();
        self.routes.iter().find(|(segs, _, _)| {
            segs.len() == parts.len()
                && segs
                    .iter()
                    .zip(&parts)
                    .all(|(s, p)| s == p || (s.starts_with('{') && !p.is_empty()))
        })
    }

    /// The methods allowed on `path`, as an `Allow` header value.
    pub fn allow(&self, path: &str) -> Option<&str> {
        self.find(path).map(|(_, _, allow)| allow.as_str())
    }

    /// The spec name of the internal path parameter `param<N>` of `path`.
    pub fn path_param(&self, path: &str, internal: &str) -> Option<String> {
        let index: usize = internal.strip_prefix("param")?.parse().ok()?;
        let (segments, _, _) = self.find(path)?;
        segments
            .iter()
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .nth(index)
            .map(str::to_owned)
    }

    /// The route template matching `path` (e.g. `/api/v1/todos/{id}`).
    pub fn template(&self, path: &str) -> Option<&str> {
        self.find(path).map(|(_, t, _)| t.as_str())
    }
}

/// Shared parts the wrapper needs.
pub struct HttpContext {
    pub routes: RouteTable,
    pub cors: CorsPolicy,
    pub metrics: Arc<Metrics>,
    pub limiter: AuthRateLimiter,
    pub trusted_proxies: TrustedProxies,
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

/// Reads the body up to the limit so oversized ones are refused without being read whole.
async fn enforce_body_limit(req: &mut Request) -> Result<(), ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > MAX_BODY_BYTES as u64 => Err(ApiError::PayloadTooLarge),
        Some(_) => Ok(()),
        None => {
            let bytes = req
                .take_body()
                .into_bytes_limit(MAX_BODY_BYTES)
                .await
                .map_err(|_| ApiError::PayloadTooLarge)?;
            req.set_body(bytes);
            Ok(())
        }
    }
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

/// The trace id of a well-formed W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`).
fn traceparent_id(header: &Option<String>) -> Option<TraceId> {
    let id = header.as_deref()?.split('-').nth(1)?;
    let id = TraceId::from_hex(id).ok()?;
    (id != TraceId::INVALID).then_some(id)
}

/// The server span of a request, joined to the caller's trace when it sent a W3C
/// `traceparent`; its status code is recorded when the response is known.
fn request_span(req: &Request, route: &str, id: &str) -> tracing::Span {
    let method = req.method();
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = route,
        url.path = %req.uri().path(),
        http.response.status_code = tracing::field::Empty,
        request_id = %id,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|p| {
        p.extract(&opentelemetry_http::HeaderExtractor(req.headers()))
    });
    let _ = span.set_parent(parent);
    span
}

/// What is checked before routing: the body limit, then the auth rate limit. The client
/// address goes into the request's extensions ([`ClientIp`]).
async fn pre_checks(req: &mut Request, ctx: &HttpContext) -> Result<(), ApiError> {
    enforce_body_limit(req).await?;
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
    id: &'a str,
    method: &'a Method,
    route: &'a str,
    caller: &'a CallerSlot,
    traceparent: Option<String>,
    started: Instant,
}

impl Finished<'_> {
    /// Records the status on the span, counts the request and writes its log line.
    fn record(self, span: &tracing::Span, status: u16, metrics: &Metrics) {
        span.record("http.response.status_code", status);
        let trace = span.context().span().span_context().clone();
        let trace_id = if trace.is_valid() {
            trace.trace_id()
        } else {
            // No OTel export: still correlate the log line with the caller's trace.
            traceparent_id(&self.traceparent)
                .unwrap_or_else(|| TraceId::from(rand::random::<u128>()))
        };
        let elapsed = self.started.elapsed().as_secs_f64();
        metrics.observe_request(self.method.as_str(), self.route, status, elapsed);
        tracing::info!(
            request_id = %self.id,
            method = %self.method,
            route = self.route,
            status,
            latency_ms = elapsed * 1000.0,
            user_id = self.caller.0.get().map(tracing::field::display),
            trace_id = %trace_id,
            "request"
        );
    }
}

/// Wraps the whole application: every response gets `X-Request-ID`, every error the
/// documented body, and a log line is written per request.
pub async fn handle<E: Endpoint>(
    ep: Arc<E>,
    mut req: Request,
    ctx: Arc<HttpContext>,
) -> poem::Result<Response> {
    let started = Instant::now();
    let id = request_id(&req);
    let caller = CallerSlot::default();
    req.extensions_mut().insert(caller.clone());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let pre = pre_checks(&mut req, &ctx).await;
    let route = ctx.routes.template(&path).unwrap_or("unmatched");
    let span = request_span(&req, route, &id);
    let traceparent = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let origin = ctx.cors.origin_of(&req);
    let preflight = ctx.cors.preflight(&req);
    let mut resp = async {
        match (pre, preflight) {
            (Err(e), _) => e.to_response(&id),
            (Ok(()), Some(answer)) => answer,
            (Ok(()), None) => match ep.call(req).await {
                Ok(r) => r.into_response(),
                Err(e) => classify(e, &ctx.routes, &path).to_response(&id),
            },
        }
    }
    .instrument(span.clone())
    .await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    ctx.cors.decorate(origin, resp.headers_mut());
    let finished = Finished {
        id: &id,
        method: &method,
        route,
        caller: &caller,
        traceparent,
        started,
    };
    finished.record(&span, resp.status().as_u16(), &ctx.metrics);
    Ok(resp)
}
