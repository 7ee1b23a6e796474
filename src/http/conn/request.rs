//! The outermost request wrapper: marks the connection's request in flight (its headers
//! are complete), puts the body under its deadline, and does not buffer a body that no
//! operation could use: the answer goes out at once, and the body is read into nothing
//! behind it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use poem::http::{header, HeaderValue, Method, Version};
use poem::{Body, Endpoint, IntoResponse, Request, Response};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio::time::Sleep;

use super::{ConnState, Connections, InFlight};
use crate::http::middleware::MAX_BODY_BYTES;

/// What [`guard`] needs: the connections and the operations' routes.
pub struct RequestGuard {
    connections: Arc<Connections>,
    gate: BodyGate,
}

impl RequestGuard {
    /// Over `connections`, for the operations of the OpenAPI document `spec`.
    pub fn new(connections: Arc<Connections>, spec: &serde_json::Value) -> Self {
        RequestGuard {
            connections,
            gate: BodyGate::from_spec(spec),
        }
    }
}

/// Refused bodies are read (and dropped) up to this size; a longer one, or one of
/// unknown length, is announced with `Connection: close`.
const DRAIN_LIMIT: u64 = MAX_BODY_BYTES as u64;

/// Runs `req` through `ep` as a request of its connection (see the module docs).
pub async fn guard<E: Endpoint>(
    ep: Arc<E>,
    mut req: Request,
    ctx: Arc<RequestGuard>,
) -> poem::Result<Response> {
    let conn = ctx.connections.of(req.remote_addr());
    let in_flight = conn.as_ref().map(ConnState::begin);
    let deadline = Instant::now() + ctx.connections.settings.body_read_timeout;
    let plan = plan_body(&mut req, &ctx, conn.as_ref(), deadline);
    let mut resp = ep.call(req).await?.into_response();
    let close = match plan {
        BodyPlan::None => false,
        // An answer that left the body unread: the rest of it is not read either.
        BodyPlan::Read(ended) => !ended.load(Ordering::Acquire),
        BodyPlan::Refused { body, announce } => match conn {
            Some(conn) => {
                let drain = drain(body, conn, ctx.clone(), deadline, in_flight);
                tokio::spawn(drain);
                announce
            }
            None => true,
        },
    };
    if close {
        let close = HeaderValue::from_static("close");
        resp.headers_mut().insert(header::CONNECTION, close);
    }
    Ok(resp)
}

/// What becomes of a request's body.
enum BodyPlan {
    /// None to read.
    None,
    /// Read by the operation under its deadline; set once read to its end.
    Read(Arc<AtomicBool>),
    /// No operation can use it: the operation sees none, and it is read and dropped
    /// once the answer is on its way (`announce`: the answer says `Connection: close`).
    Refused { body: Body, announce: bool },
}

fn plan_body(
    req: &mut Request,
    ctx: &RequestGuard,
    conn: Option<&Arc<ConnState>>,
    deadline: Instant,
) -> BodyPlan {
    if !may_have_body(req) {
        return BodyPlan::None;
    }
    if ctx.gate.refuses(req) {
        let length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
        let announce = length.is_none_or(|n| n > DRAIN_LIMIT);
        let body = req.take_body();
        return BodyPlan::Refused { body, announce };
    }
    let Some(conn) = conn else {
        return BodyPlan::None;
    };
    let ended = Arc::new(AtomicBool::new(false));
    let body = req.take_body().into_async_read();
    let body = BodyDeadline::new(body, deadline, conn.clone(), &ctx.connections, &ended);
    req.set_body(Body::from_async_read(body));
    BodyPlan::Read(ended)
}

/// Reads a refused body (at most [`DRAIN_LIMIT`] bytes, by its deadline) into nothing,
/// with its request still in flight: the next request on the connection can follow,
/// and a close cannot reset the answer away before the client has read it.
async fn drain(
    body: Body,
    conn: Arc<ConnState>,
    ctx: Arc<RequestGuard>,
    deadline: Instant,
    in_flight: Option<InFlight>,
) {
    let ended = Arc::new(AtomicBool::new(false));
    let body = BodyDeadline::new(
        body.into_async_read(),
        deadline,
        conn,
        &ctx.connections,
        &ended,
    );
    let _ = tokio::io::copy(&mut body.take(DRAIN_LIMIT), &mut tokio::io::sink()).await;
    drop(in_flight);
}

/// Whether `req` may carry a body: a non-zero `Content-Length` or `Transfer-Encoding`;
/// on HTTP/2 (which frames bodies itself), anything but `Content-Length: 0`.
fn may_have_body(req: &Request) -> bool {
    let headers = req.headers();
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim() != "0");
    match length {
        Some(nonzero) => nonzero,
        None => {
            headers.contains_key(header::TRANSFER_ENCODING)
                || !matches!(req.version(), Version::HTTP_10 | Version::HTTP_11)
        }
    }
}

/// The operations of the spec by path template and method, and whether each needs a
/// bearer token: enough to tell that a request's body cannot be used.
pub struct BodyGate {
    routes: Vec<Route>,
}

/// A path template's segments, and its operations' methods (with whether each needs a
/// bearer token).
type Route = (Vec<String>, Vec<(Method, bool)>);

impl BodyGate {
    /// From the emitted OpenAPI document.
    pub fn from_spec(spec: &serde_json::Value) -> Self {
        let mut routes = Vec::new();
        for (template, ops) in spec["paths"].as_object().into_iter().flatten() {
            let segments = template.split('/').map(str::to_owned).collect();
            let methods = ops
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(method, op)| {
                    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).ok()?;
                    let bearer = op["security"].as_array().is_some_and(|s| !s.is_empty());
                    Some((method, bearer))
                })
                .collect();
            routes.push((segments, methods));
        }
        BodyGate { routes }
    }

    /// Whether no operation could use a body sent with `req`: none matches its method
    /// and path, or each one that does needs a bearer token and it carries no
    /// `Authorization`.
    pub fn refuses(&self, req: &Request) -> bool {
        let path: Vec<&str> = req.uri().path().split('/').collect();
        let authorized = req.headers().contains_key(header::AUTHORIZATION);
        !self
            .routes
            .iter()
            .filter(|(segments, _)| matches(segments, &path))
            .flat_map(|(_, methods)| methods)
            .any(|(method, bearer)| method == req.method() && (authorized || !bearer))
    }
}

fn matches(template: &[String], path: &[&str]) -> bool {
    template.len() == path.len()
        && template
            .iter()
            .zip(path)
            .all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()))
}

/// A request body that fails, and dooms its connection, when it is not complete by its
/// deadline.
struct BodyDeadline<R> {
    inner: R,
    deadline: Instant,
    sleep: Pin<Box<Sleep>>,
    limit: Duration,
    conn: Arc<ConnState>,
    connections: Arc<Connections>,
    /// Set once the body has been read to its end.
    ended: Arc<AtomicBool>,
    expired: bool,
}

impl<R> BodyDeadline<R> {
    fn new(
        inner: R,
        deadline: Instant,
        conn: Arc<ConnState>,
        connections: &Arc<Connections>,
        ended: &Arc<AtomicBool>,
    ) -> Self {
        let limit = connections.settings.body_read_timeout;
        BodyDeadline {
            inner,
            deadline,
            sleep: Box::pin(tokio::time::sleep_until(deadline.into())),
            limit,
            conn,
            connections: connections.clone(),
            ended: ended.clone(),
            expired: false,
        }
    }

    fn expire(&mut self) -> Poll<io::Result<()>> {
        let secs = self.limit.as_secs();
        if !self.expired {
            self.expired = true;
            self.conn.doom();
            self.connections.closed("body_timeout");
            tracing::info!("request body not complete within {secs} s: closing the connection");
        }
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("request body not complete within {secs} s"),
        )))
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for BodyDeadline<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.ended.load(Ordering::Acquire) {
            return Poll::Ready(Ok(()));
        }
        // Checked before reading too: a body trickling in never leaves a read pending.
        if this.expired || Instant::now() >= this.deadline {
            return this.expire();
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() == before {
                    this.ended.store(true, Ordering::Release);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                ready!(this.sleep.as_mut().poll(cx));
                this.expire()
            }
        }
    }
}
