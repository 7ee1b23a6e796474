//! An SMTP server for the tests: a tokio task on a loopback port that speaks enough of
//! RFC 5321 for a client to deliver to it (greeting, EHLO/HELO, MAIL, RCPT, DATA with
//! dot-unstuffing, RSET, NOOP, QUIT) and keeps what it received. While "unavailable" it
//! greets every connection with `421` and hangs up, as a server that is down for
//! maintenance does: clients must keep the message and retry.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::message::Received;

/// How long a test waits for mail before it fails.
pub const MAIL_WAIT: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    arrived: Notify,
    unavailable: AtomicBool,
}

/// A running SMTP sink; stops when dropped.
pub struct SmtpSink {
    pub port: u16,
    shared: Arc<Shared>,
    _tasks: JoinSet<()>,
}

impl SmtpSink {
    /// A sink on a free loopback port, accepting mail.
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP sink");
        let port = listener.local_addr().expect("a local address").port();
        let shared = Arc::new(Shared::default());
        let mut tasks = JoinSet::new();
        let s = shared.clone();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                connections.spawn(serve(stream, s.clone()));
            }
        });
        SmtpSink {
            port,
            shared,
            _tasks: tasks,
        }
    }

    /// `SMTP_URL` for this sink.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// While unavailable, every connection is greeted with 421 and closed.
    pub fn set_available(&self, available: bool) {
        self.shared.unavailable.store(!available, Ordering::SeqCst);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits (at most [`MAIL_WAIT`]) until `n` messages have arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + MAIL_WAIT;
        loop {
            // Registered before the check, so an arrival in between is not missed.
            let arrived = self.shared.arrived.notified();
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!("{} of {n} messages arrived within {MAIL_WAIT:?}", got.len());
            }
        }
    }

    /// Waits for the next message to `to` (counting from `after` messages to it).
    pub async fn wait_for_to(&self, to: &str, after: usize) -> Received {
        let deadline = tokio::time::Instant::now() + MAIL_WAIT;
        loop {
            let arrived = self.shared.arrived.notified();
            let mine: Vec<Received> = self
                .received()
                .into_iter()
                .filter(|m| m.is_to(to))
                .collect();
            if mine.len() > after {
                return mine[after].clone();
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!("no message {} to {to} within {MAIL_WAIT:?}", after + 1);
            }
        }
    }
}

async fn reply(w: &mut (impl AsyncWriteExt + Unpin), text: &str) -> std::io::Result<()> {
    w.write_all(text.as_bytes()).await?;
    w.write_all(b"\r\n").await?;
    w.flush().await
}

/// One client connection, until QUIT or EOF.
async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    if shared.unavailable.load(Ordering::SeqCst) {
        let _ = reply(
            &mut write,
            "421 sink.test Service not available, try again later",
        )
        .await;
        return;
    }
    if reply(&mut write, "220 sink.test ESMTP test sink")
        .await
        .is_err()
    {
        return;
    }
    let mut current = Received::default();
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end().to_owned();
        let verb = command.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let answer = match verb.as_str() {
            "EHLO" => "250-sink.test\r\n250-8BITMIME\r\n250 SIZE 10485760",
            "HELO" | "NOOP" => "250 OK",
            "RSET" => {
                current = Received::default();
                "250 OK"
            }
            "MAIL" => {
                current = Received::default();
                current.mail_from = address_of(&command);
                "250 OK"
            }
            "RCPT" => {
                current.rcpt_to.push(address_of(&command));
                "250 OK"
            }
            "DATA" => {
                if reply(&mut write, "354 End data with <CR><LF>.<CR><LF>")
                    .await
                    .is_err()
                {
                    return;
                }
                let Some(data) = read_data(&mut lines).await else {
                    return;
                };
                current.data = data;
                shared
                    .received
                    .lock()
                    .unwrap()
                    .push(std::mem::take(&mut current));
                shared.arrived.notify_waiters();
                "250 OK queued"
            }
            "QUIT" => {
                let _ = reply(&mut write, "221 Bye").await;
                return;
            }
            _ => "502 Command not implemented",
        };
        if reply(&mut write, answer).await.is_err() {
            return;
        }
    }
}

/// The address between `<` and `>` of a MAIL or RCPT command.
fn address_of(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command.rfind('>').unwrap_or(command.len());
    command[start..end.max(start)].to_owned()
}

/// The message after DATA, up to the lone `.` line, dot-unstuffed (`None` on EOF).
async fn read_data(lines: &mut (impl AsyncBufReadExt + Unpin)) -> Option<String> {
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let content = line.trim_end_matches(['\r', '\n']);
        if content == "." {
            return Some(data);
        }
        data.push_str(content.strip_prefix('.').unwrap_or(content));
        data.push_str("\r\n");
    }
}
