//! The built `todo-api` binary as a child process, for what only `main` sets up (the
//! global log subscriber, OTLP export, signal handling). Its stdout and stderr are
//! captured line by line (and, with `TEST_LOG` set, logged as they come).
//!
//! The child binds port 0 itself and reports the port it got in its `listening` log
//! line (JSON, at info level), so no port is picked by the test and released again.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::helpers::{http_client, init_test_log, Served, TEST_ENV};

/// How long a child may take to start (bind) or to exit after SIGTERM; reaching it means
/// it hung.
const HANG: Duration = Duration::from_secs(60);

/// A running `todo-api serve` over its own SQLite file (or `DATABASE_URL` from `vars`).
pub struct ServerProcess {
    /// `None` once [`ServerProcess::terminate`] has reaped it.
    child: Option<Child>,
    pub base_url: String,
    pub database_url: String,
    output: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// The port of a `listening` log line: `{"message": "listening", "port": N, …}`.
fn listening_port(line: &str) -> Option<u16> {
    let line: serde_json::Value = serde_json::from_str(line).ok()?;
    if line.get("message")? != "listening" {
        return None;
    }
    u16::try_from(line.get("port")?.as_u64()?).ok()
}

/// The environment of every child: the test defaults, its database, JSON logs at info
/// level.
fn defaults(database_url: &str) -> Vec<(&str, &str)> {
    let mut env = TEST_ENV.to_vec();
    env.extend([
        ("DATABASE_URL", database_url),
        ("DATABASE_POOL_SIZE", "4"),
        // The port is read from the `listening` line: keep JSON logs at info level.
        ("LOG_FORMAT", "json"),
        ("LOG_LEVEL", "info"),
    ]);
    env
}

/// Reads `stream` line by line into `sink` until it closes; sends the port of the
/// first `listening` line through `port` (shared by the stdout and stderr readers).
fn read_lines(
    stream: Box<dyn std::io::Read + Send>,
    sink: Arc<Mutex<Vec<String>>>,
    port: Arc<Mutex<Option<oneshot::Sender<u16>>>>,
    pid: u32,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            tracing::info!(target: "todo_api_child", pid, "{line}");
            if let Some(p) = listening_port(&line) {
                if let Some(tx) = port.lock().unwrap().take() {
                    let _ = tx.send(p);
                }
            }
            sink.lock().unwrap().push(line);
        }
    })
}

/// `todo-api serve` in `dir` with the test defaults plus `vars` (which win), output piped.
fn command(dir: &std::path::Path, database_url: &str, vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_todo-api"));
    // A directory of its own: no `.env` of the developer is read.
    cmd.current_dir(dir)
        .arg("serve")
        .env_remove("RUST_LOG")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
        .env_remove("OTEL_SERVICE_NAME")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in defaults(database_url).iter().chain(vars) {
        cmd.env(k, v);
    }
    cmd
}

impl ServerProcess {
    /// Starts the binary with the test defaults plus `vars` (which win), waits (bounded)
    /// for the port it bound, and checks that `GET /health/live` answers.
    pub async fn start(vars: &[(&str, &str)]) -> ServerProcess {
        init_test_log();
        let dir = tempfile::Builder::new()
            .prefix("todo-api-proc-")
            .tempdir()
            .expect("temporary directory");
        let database_url = format!("sqlite://{}?mode=rwc", dir.path().join("app.db").display());
        let mut cmd = command(dir.path(), &database_url, vars);
        let database_url = vars
            .iter()
            .find(|(k, _)| *k == "DATABASE_URL")
            .map_or(database_url, |(_, v)| (*v).to_owned());
        let mut child = cmd.spawn().expect("start the todo-api binary");
        let output = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = oneshot::channel();
        let tx = Arc::new(Mutex::new(Some(tx)));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let readers = [
            Box::new(stdout) as Box<dyn std::io::Read + Send>,
            Box::new(stderr),
        ]
        .into_iter()
        .map(|s| read_lines(s, output.clone(), tx.clone(), child.id()))
        .collect();
        drop(tx);
        let mut server = ServerProcess {
            child: Some(child),
            base_url: String::new(),
            database_url,
            output,
            readers,
            _dir: dir,
        };
        let port = server.bound_port(rx).await;
        server.base_url = format!("http://127.0.0.1:{port}");
        server.check_live().await;
        server
    }

    /// The port of the child's `listening` line (logged once it has bound its socket).
    async fn bound_port(&mut self, rx: oneshot::Receiver<u16>) -> u16 {
        match tokio::time::timeout(HANG, rx).await {
            Ok(Ok(port)) => port,
            // Both readers ended without the line: the child exited.
            Ok(Err(_)) => {
                let status = self.child.as_mut().and_then(|c| c.wait().ok());
                panic!(
                    "todo-api exited ({status:?}) before listening:\n{}",
                    self.output_text()
                )
            }
            Err(_) => panic!(
                "todo-api logged no `listening` line within {HANG:?}:\n{}",
                self.output_text()
            ),
        }
    }

    /// The socket is bound, so the request waits in its backlog until the server serves.
    async fn check_live(&self) {
        let live = http_client()
            .get(self.url("/health/live"))
            .timeout(HANG)
            .send()
            .await;
        match live {
            Ok(r) if r.status().is_success() => {}
            other => panic!("GET /health/live: {other:?}\n{}", self.output_text()),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// Everything printed so far, one entry per line.
    pub fn lines(&self) -> Vec<String> {
        self.output.lock().unwrap().clone()
    }

    pub fn output_text(&self) -> String {
        self.lines().join("\n")
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit and its output to end.
    pub async fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the child is running");
        let pid = child.id();
        signal(pid, "-TERM");
        let exited = tokio::task::spawn_blocking(move || child.wait());
        let status = match tokio::time::timeout(HANG, exited).await {
            Ok(waited) => waited
                .expect("the wait did not panic")
                .expect("wait for the child"),
            Err(_) => {
                signal(pid, "-KILL");
                panic!(
                    "todo-api did not exit within {HANG:?} of SIGTERM:\n{}",
                    self.output_text()
                );
            }
        };
        // The pipes close with the process: the readers finish on their own.
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        status
    }
}

/// `kill <signal> <pid>`.
fn signal(pid: u32, signal: &str) {
    let pid = pid.to_string();
    let sent = Command::new("kill")
        .args([signal, &pid])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill {signal} {pid} failed");
}

impl Served for ServerProcess {
    fn base_url(&self) -> &str {
        &self.base_url
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            eprintln!("todo-api output:\n{}", self.output_text());
        }
    }
}
