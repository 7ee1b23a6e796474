//! A TCP proxy the test controls, between the server and PostgreSQL: `cut` closes every
//! open connection and the listening socket (new connections are refused), `restore`
//! listens again on the same port; `freeze` keeps every connection (and new ones) open
//! but drops the bytes both ways, as a network that silently loses packets does.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct FaultProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    /// Bumped by every cut; connection tasks end when it changes.
    epoch: watch::Sender<u64>,
    accept: Mutex<Option<JoinHandle<()>>>,
    /// Connections accepted since start (for the test's diagnostics).
    accepted: Arc<AtomicUsize>,
    /// While set, bytes are read and dropped instead of forwarded.
    frozen: watch::Sender<bool>,
}

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    // Rebinding the same port right after a cut must not wait for TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

impl FaultProxy {
    /// Listens on 127.0.0.1 (a free port) and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = listen("127.0.0.1:0".parse().unwrap()).expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (epoch, _) = watch::channel(0);
        let (frozen, _) = watch::channel(false);
        let proxy = FaultProxy {
            addr,
            upstream,
            epoch,
            accept: Mutex::new(None),
            accepted: Arc::new(AtomicUsize::new(0)),
            frozen,
        };
        proxy.serve(listener);
        proxy
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }

    fn serve(&self, listener: TcpListener) {
        let upstream = self.upstream;
        let epoch = self.epoch.subscribe();
        let frozen = self.frozen.subscribe();
        let accepted = self.accepted.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                accepted.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(forward(client, upstream, epoch.clone(), frozen.clone()));
            }
        });
        *self.accept.lock().unwrap() = Some(task);
    }

    /// Stops listening (new connections are refused) and closes every open connection.
    pub async fn cut(&self) {
        let task = self.accept.lock().unwrap().take();
        if let Some(task) = task {
            task.abort();
            // The listener is dropped with the task: wait until it is gone.
            let _ = task.await;
        }
        self.epoch.send_modify(|e| *e += 1);
    }

    /// From now on, drops every byte instead of forwarding it, on open and new
    /// connections alike; nothing is closed or reset.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    /// Listens again on the same port.
    pub async fn restore(&self) {
        let listener = listen(self.addr).expect("rebind the proxy port");
        self.serve(listener);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(task) = self.accept.lock().unwrap().take() {
            task.abort();
        }
        self.epoch.send_modify(|e| *e += 1);
    }
}

/// Pipes `client` to `upstream` until either side closes or the proxy is cut.
/// `epoch` was subscribed when the listener started, so a cut at any time after that,
/// even before this task first runs, ends it.
async fn forward(
    client: TcpStream,
    upstream: SocketAddr,
    mut epoch: watch::Receiver<u64>,
    frozen: watch::Receiver<bool>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (client_rd, client_wr) = client.into_split();
    let (server_rd, server_wr) = server.into_split();
    tokio::select! {
        _ = pump(client_rd, server_wr, frozen.clone()) => {}
        _ = pump(server_rd, client_wr, frozen) => {}
        _ = epoch.changed() => {}
    }
    // Both sockets drop here: the server sees its database connections closed.
}

/// Copies `from` to `to` until either closes; while `frozen`, what is read is dropped.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, frozen: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if *frozen.borrow() {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
