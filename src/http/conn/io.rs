//! A connection's IO under its deadlines (see the module above).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Sleep;

use super::{ConnState, Connections, Expiry};

/// An accepted connection: reads fail (or end) when the connection's deadline passes,
/// reads and writes fail once it is doomed; its place is freed when it drops.
pub struct GuardedIo<T> {
    inner: T,
    state: Arc<ConnState>,
    connections: Arc<Connections>,
    addr: Option<SocketAddr>,
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
    _permit: OwnedSemaphorePermit,
}

impl<T> GuardedIo<T> {
    pub(super) fn new(
        inner: T,
        state: Arc<ConnState>,
        permit: OwnedSemaphorePermit,
        addr: Option<SocketAddr>,
        connections: Arc<Connections>,
    ) -> Self {
        GuardedIo {
            inner,
            state,
            connections,
            addr,
            sleep: Box::pin(tokio::time::sleep_until(tokio::time::Instant::now())),
            armed: None,
            _permit: permit,
        }
    }

    /// With no data to read: waits for the deadline, if one applies now. Past it, a
    /// connection reading headers fails and an idle one reads end-of-file.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.state.park_reader(cx.waker());
        let Some((at, expiry)) = self.state.deadline() else {
            return Poll::Pending;
        };
        if self.armed != Some(at) {
            self.sleep.as_mut().reset(at.into());
            self.armed = Some(at);
        }
        ready!(self.sleep.as_mut().poll(cx));
        self.state
            .doomed
            .store(true, std::sync::atomic::Ordering::Release);
        self.connections.closed(expiry.label());
        tracing::debug!(remote_addr = ?self.addr, reason = expiry.label(), "closing connection");
        match expiry {
            Expiry::Idle => Poll::Ready(Ok(())),
            Expiry::Header => Poll::Ready(Err(closed("request headers not complete in time"))),
        }
    }
}

fn closed(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, why.to_owned())
}

impl<T: AsyncRead + Unpin> AsyncRead for GuardedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.state.is_doomed() {
            return Poll::Ready(Err(closed("connection closed by the server")));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.state.received();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => this.poll_deadline(cx),
            failed => failed,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for GuardedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.state.is_doomed() {
            return Poll::Ready(Err(closed("connection closed by the server")));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.state.is_doomed() {
            return Poll::Ready(Err(closed("connection closed by the server")));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<T> Drop for GuardedIo<T> {
    fn drop(&mut self) {
        self.connections.leave(self.addr, &self.state);
    }
}
