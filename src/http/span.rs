//! The server span of a request, after OpenTelemetry's HTTP semantic conventions
//! (attribute names from `opentelemetry-semantic-conventions`): `http.request.method`
//! (`_OTHER` for unknown methods, the original in `http.request.method_original`),
//! `http.route` (only for a matched route), `url.path`, `url.scheme`,
//! `server.address`/`server.port` (from `Host`), `client.address` (the client behind
//! trusted proxies), `network.peer.address`/`network.peer.port`,
//! `network.protocol.version`, `user_agent.original`, and once answered
//! `http.response.status_code` (an integer) with, for a 5xx, `error.type` and the
//! span status Error. The span is named `{method} {route}` (`{method}` when no route
//! matched).

use opentelemetry::trace::{Status, TraceContextExt, TraceId};
use opentelemetry_semantic_conventions::attribute as semconv;
use poem::http::{header, Version};
use poem::Request;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::client_ip::ClientIp;
use crate::metrics::MethodLabel;

/// Longest copy of a client-controlled value kept on the span (`Host`, `User-Agent`).
const MAX_ORIGINAL: usize = 256;

/// Longest copy of an unknown method kept (`http.request.method_original`).
const MAX_METHOD_ORIGINAL: usize = 64;

fn bounded(s: &str) -> String {
    s.chars().take(MAX_ORIGINAL).collect()
}

/// The trace id of a well-formed W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`).
fn traceparent_id(req: &Request) -> Option<TraceId> {
    let header = req.headers().get("traceparent")?.to_str().ok()?;
    let id = TraceId::from_hex(header.split('-').nth(1)?).ok()?;
    (id != TraceId::INVALID).then_some(id)
}

/// `network.protocol.version` of a request.
fn protocol_version(v: Version) -> Option<&'static str> {
    Some(match v {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => return None,
    })
}

/// `server.address` and `server.port` from the `Host` header (the port of the scheme
/// when it names none).
fn server_address(req: &Request, https: bool) -> Option<(String, i64)> {
    let host = req.headers().get(header::HOST)?.to_str().ok()?;
    let authority: poem::http::uri::Authority = host.parse().ok()?;
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    Some((bounded(authority.host()), i64::from(port)))
}

/// The server span of `req` (request id `id`, route template `route` when one
/// matched), joined to the caller's trace when it sent a W3C `traceparent`. Without
/// trace export the span records a `trace_id` (the caller's, else a random one) for
/// the log lines inside it.
pub fn request_span(req: &Request, route: Option<&str>, id: &str) -> tracing::Span {
    let method = MethodLabel::of(req.method());
    let name = if method.is_other() {
        "HTTP"
    } else {
        method.as_str()
    };
    let span = tracing::info_span!(
        "request",
        otel.name = %match route {
            Some(r) => format!("{name} {r}"),
            None => name.to_owned(),
        },
        otel.kind = "server",
        request_id = %id,
        trace_id = tracing::field::Empty,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|p| {
        p.extract(&opentelemetry_http::HeaderExtractor(req.headers()))
    });
    let _ = span.set_parent(parent);
    if !span.context().span().span_context().is_valid() {
        // No export: the log lines still carry the caller's trace (or a new one).
        let trace = traceparent_id(req).unwrap_or_else(|| TraceId::from(rand::random::<u128>()));
        span.record("trace_id", tracing::field::display(trace));
        return span;
    }
    set_request_attributes(&span, req, method, route);
    span
}

/// The conventions' request attributes (only set when the span is exported).
fn set_request_attributes(
    span: &tracing::Span,
    req: &Request,
    method: MethodLabel,
    route: Option<&str>,
) {
    span.set_attribute(semconv::HTTP_REQUEST_METHOD, method.as_str());
    if method.is_other() {
        let original: String = req
            .method()
            .as_str()
            .chars()
            .take(MAX_METHOD_ORIGINAL)
            .collect();
        span.set_attribute(semconv::HTTP_REQUEST_METHOD_ORIGINAL, original);
    }
    if let Some(route) = route {
        span.set_attribute(semconv::HTTP_ROUTE, route.to_owned());
    }
    span.set_attribute(semconv::URL_PATH, req.uri().path().to_owned());
    let https = req.scheme() == &poem::http::uri::Scheme::HTTPS;
    span.set_attribute(semconv::URL_SCHEME, if https { "https" } else { "http" });
    if let Some((host, port)) = server_address(req, https) {
        span.set_attribute(semconv::SERVER_ADDRESS, host);
        span.set_attribute(semconv::SERVER_PORT, port);
    }
    let peer = req.remote_addr().as_socket_addr().copied();
    let client = req
        .extensions()
        .get::<ClientIp>()
        .map(|c| c.0)
        .or(peer.map(|p| p.ip()));
    if let Some(client) = client {
        span.set_attribute(semconv::CLIENT_ADDRESS, client.to_string());
    }
    if let Some(peer) = peer {
        span.set_attribute(semconv::NETWORK_PEER_ADDRESS, peer.ip().to_string());
        span.set_attribute(semconv::NETWORK_PEER_PORT, i64::from(peer.port()));
    }
    if let Some(v) = protocol_version(req.version()) {
        span.set_attribute(semconv::NETWORK_PROTOCOL_VERSION, v);
    }
    if let Some(ua) = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        span.set_attribute(semconv::USER_AGENT_ORIGINAL, bounded(ua));
    }
}

/// Records the answer on the span: `http.response.status_code` as an integer and,
/// for a server error (5xx; a 4xx is the client's), `error.type` and status Error.
pub fn finish_span(span: &tracing::Span, status: u16) {
    span.set_attribute(semconv::HTTP_RESPONSE_STATUS_CODE, i64::from(status));
    if status >= 500 {
        span.set_attribute(semconv::ERROR_TYPE, status.to_string());
        let reason = poem::http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("server error");
        span.set_status(Status::error(reason));
    }
}
