//! The built `todo-api` binary as a child process, for what only `main` sets up (the
//! global log subscriber, OTLP export, signal handling). Its stdout and stderr are
//! captured line by line.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::helpers::{http_client, Served, TEST_JWT_SECRET};

/// A running `todo-api serve` over its own SQLite file.
pub struct ServerProcess {
    child: Child,
    pub base_url: String,
    pub database_url: String,
    output: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local address").port()
}

impl ServerProcess {
    /// Starts the binary with the test defaults plus `vars`, and waits (bounded) until
    /// `GET /health/live` answers.
    pub async fn start(vars: &[(&str, &str)]) -> ServerProcess {
        let dir = tempfile::Builder::new()
            .prefix("todo-api-proc-")
            .tempdir()
            .expect("temporary directory");
        let database_url = format!("sqlite://{}?mode=rwc", dir.path().join("app.db").display());
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_todo-api"));
        // A directory of its own: no `.env` of the developer is read.
        cmd.current_dir(dir.path())
            .arg("serve")
            .env_remove("RUST_LOG")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
            .env_remove("OTEL_SERVICE_NAME")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let port_text = port.to_string();
        let defaults = [
            ("DATABASE_URL", database_url.as_str()),
            ("HOST", "127.0.0.1"),
            ("PORT", port_text.as_str()),
            ("APP_ENV", "development"),
            ("JWT_SECRET_KEY", TEST_JWT_SECRET),
            ("ARGON2_MEMORY_KIB", "8"),
            ("ARGON2_ITERATIONS", "1"),
            ("ARGON2_PARALLELISM", "1"),
            ("AUTH_RATE_LIMIT_PER_MINUTE", "0"),
            ("DATABASE_POOL_SIZE", "4"),
            ("LOG_FORMAT", "json"),
            ("LOG_LEVEL", "info"),
        ];
        for (k, v) in defaults.iter().chain(vars) {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start the todo-api binary");
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        for stream in [
            Box::new(stdout) as Box<dyn std::io::Read + Send>,
            Box::new(stderr),
        ] {
            let sink = output.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    sink.lock().unwrap().push(line);
                }
            }));
        }
        let mut server = ServerProcess {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            database_url,
            output,
            readers,
            _dir: dir,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&mut self) {
        let client = http_client();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("query the child") {
                panic!("todo-api exited early ({status}):\n{}", self.output_text());
            }
            let live = client
                .get(format!("{}/health/live", self.base_url))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if live.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "todo-api did not answer /health/live within 60 s:\n{}",
                self.output_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
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
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("query the child") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "todo-api did not exit within 30 s of SIGTERM:\n{}",
                self.output_text()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        // The pipes close with the process: the readers finish on their own.
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        status
    }
}

impl Served for ServerProcess {
    fn base_url(&self) -> &str {
        &self.base_url
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("todo-api output:\n{}", self.output_text());
        }
    }
}
