//! Start-up through the built binary: every fatal error names the setting, the value
//! (passwords redacted), the cause and the fix, once; warnings come only after a good
//! start; `listening` names the bound address and the docs URL; `migrate down` says
//! what it did; `openapi | head` exits quietly; `--help` lists every variable.
//!
//! Each child runs in a temporary directory (no developer `.env`) with a cleared
//! environment, under a generous timeout so that a test cannot hang.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_todo-api");

/// Long enough for a loaded machine; only reached when something hangs.
const HANG: Duration = Duration::from_secs(60);

/// 64 random hex digits, as `openssl rand -hex 32` prints them.
const STRONG_SECRET: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// `todo-api ARGS` in `dir` with only `vars` (and cheap Argon2) in its environment.
fn command(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("ARGON2_MEMORY_KIB", "8")
        .env("ARGON2_ITERATIONS", "1")
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Runs to completion (bounded by [`HANG`]).
async fn run(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let out = command(dir, args, vars).output();
    tokio::time::timeout(HANG, out)
        .await
        .expect("the binary exits instead of hanging")
        .expect("run the binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `serve`, which must fail; returns its stderr (and checks it says `error:` once).
async fn serve_fails(dir: &Path, vars: &[(&str, &str)]) -> String {
    let out = run(dir, &["serve"], vars).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert_eq!(stderr.matches("error:").count(), 1, "one error: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let all = format!("{stdout}{stderr}");
    assert!(
        !all.contains("JWT_SECRET_KEY is not set") && !all.contains("WEAK"),
        "no warning before a fatal error: {all}"
    );
    stderr
}

fn sqlite_url(path: &Path, create: bool) -> String {
    let mode = if create { "?mode=rwc" } else { "" };
    format!("sqlite://{}{mode}", path.display())
}

/// A local port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local address").port()
}

#[tokio::test]
async fn startup_port_in_use_names_the_address_and_port() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let url = sqlite_url(&dir.path().join("app.db"), true);
    let e = serve_fails(dir.path(), &[("PORT", &port), ("DATABASE_URL", &url)]).await;
    assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");
    assert!(
        e.contains("already in use") && e.contains("set PORT"),
        "{e}"
    );
}

#[tokio::test]
async fn startup_sqlite_missing_directory_names_the_path_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("no-such-dir").join("app.db");
    let url = sqlite_url(&db, true);
    let e = serve_fails(dir.path(), &[("DATABASE_URL", &url), ("PORT", "0")]).await;
    assert!(
        e.contains(&db.display().to_string()) && e.contains("DATABASE_URL"),
        "{e}"
    );
    let parent = db.parent().unwrap().display().to_string();
    assert!(
        e.contains(&format!("The directory {parent} does not exist")),
        "{e}"
    );
    assert!(e.contains("mkdir -p"), "{e}");
    assert_eq!(e.matches("unable to open database file").count(), 1, "{e}");
    assert!(!e.contains("code: 14"), "no raw driver text: {e}");
}

#[tokio::test]
async fn startup_sqlite_missing_file_suggests_mode_rwc() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let url = sqlite_url(&db, false);
    let e = serve_fails(dir.path(), &[("DATABASE_URL", &url), ("PORT", "0")]).await;
    assert!(e.contains(&db.display().to_string()), "{e}");
    assert!(e.contains("add ?mode=rwc"), "{e}");
    assert!(!db.exists(), "nothing was created");
}

#[tokio::test]
async fn startup_postgres_unreachable_names_the_redacted_url_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let url = format!("postgres://todo:hunter2@127.0.0.1:{port}/todo");
    let e = serve_fails(dir.path(), &[("DATABASE_URL", &url), ("PORT", "0")]).await;
    let shown = format!("postgres://todo:***@127.0.0.1:{port}/todo");
    assert!(e.contains(&shown), "{e}");
    assert!(!e.contains("hunter2"), "the password is redacted: {e}");
    assert!(e.contains("connection refused"), "{e}");
    assert!(
        e.contains("Is PostgreSQL running") && e.contains("DB_CONNECT_WAIT_MS"),
        "{e}"
    );
    assert!(!e.contains("pool timed out"), "{e}");
}

/// The maintenance database of the Postgres tests, with its last path segment replaced.
fn postgres_url_of(database: &str) -> String {
    let base = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let base = base.split('?').next().unwrap_or(&base);
    let cut = base.rfind('/').expect("a database path");
    format!("{}/{database}", &base[..cut])
}

#[tokio::test]
#[cfg_attr(skip_postgres, ignore = "SKIP_POSTGRES=1")]
async fn startup_postgres_missing_database_suggests_createdb() {
    if std::env::var("SKIP_POSTGRES").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true")) {
        eprintln!("SKIP_POSTGRES=1: skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let database = format!("todo_missing_{}", uuid::Uuid::new_v4().simple());
    let url = postgres_url_of(&database);
    let e = serve_fails(dir.path(), &[("DATABASE_URL", &url), ("PORT", "0")]).await;
    assert!(
        e.contains(&format!("database \"{database}\" does not exist")),
        "{e}"
    );
    assert!(e.contains("createdb") && e.contains(&database), "{e}");
    assert_eq!(e.matches("does not exist").count(), 1, "said once: {e}");
}

#[tokio::test]
async fn startup_unresolvable_host_names_host() {
    let dir = tempfile::tempdir().unwrap();
    let e = serve_fails(dir.path(), &[("HOST", "no-such-host.invalid")]).await;
    assert!(
        e.contains(r#"HOST="no-such-host.invalid" does not resolve"#),
        "{e}"
    );
    assert!(e.contains("use an IP address"), "{e}");
    assert!(
        !dir.path().join("todo.db").exists(),
        "checked before the database"
    );
}

#[tokio::test]
async fn startup_production_refuses_a_low_entropy_secret() {
    let dir = tempfile::tempdir().unwrap();
    let weak = "a".repeat(32);
    let vars = [("APP_ENV", "production"), ("JWT_SECRET_KEY", weak.as_str())];
    let e = serve_fails(dir.path(), &vars).await;
    assert!(
        e.contains("JWT_SECRET_KEY is too weak for production"),
        "{e}"
    );
    assert!(
        e.contains("openssl rand -hex 32") && !e.contains(&weak),
        "{e}"
    );
    assert!(
        !dir.path().join("todo.db").exists(),
        "checked before the database"
    );
}

/// Starts `serve` and reads its stdout until the `listening` line; returns the lines
/// read so far (the child is killed when the test drops it).
async fn until_listening(
    dir: &Path,
    vars: &[(&str, &str)],
    is_listening: impl Fn(&str) -> bool,
) -> (tokio::process::Child, Vec<String>) {
    let mut child = command(dir, &["serve"], vars)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the binary");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut seen = Vec::new();
    let read = async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            let done = is_listening(&line);
            seen.push(line);
            if done {
                return;
            }
        }
        panic!("stdout ended before `listening`: {seen:#?}");
    };
    tokio::time::timeout(HANG, read)
        .await
        .expect("`listening` is logged");
    (child, seen)
}

#[tokio::test]
async fn startup_logs_listening_with_the_docs_url_then_serves_them() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir.path().join("app.db"), true);
    let vars = [
        ("HOST", "localhost"),
        ("PORT", "0"),
        ("DATABASE_URL", url.as_str()),
        ("JWT_SECRET_KEY", "secret"),
        ("LOG_FORMAT", "json"),
    ];
    let listening = |l: &str| l.contains(r#""message":"listening""#);
    let (_child, lines) = until_listening(dir.path(), &vars, listening).await;
    let event: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    let address = event["address"].as_str().expect("an address field");
    assert!(
        address.starts_with("127.0.0.1:"),
        "localhost → 127.0.0.1: {event}"
    );
    assert!(!address.ends_with(":0"), "the bound port, not 0: {event}");
    let docs = format!("http://{address}/docs");
    assert_eq!(event["docs"], docs.as_str(), "{event}");
    // The development warning about the weak secret, once, after a good start.
    let warnings: Vec<&String> = lines.iter().filter(|l| l.contains("WEAK")).collect();
    assert_eq!(warnings.len(), 1, "{lines:#?}");
    assert!(warnings[0].contains(r#""level":"WARN""#) && warnings[0].contains("JWT_SECRET_KEY"));
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let page = client.get(&docs).send().await.expect("GET the docs");
    assert_eq!(page.status(), reqwest::StatusCode::OK);
}

#[tokio::test]
async fn startup_pretty_logs_print_the_listening_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir.path().join("app.db"), true);
    let vars = [
        ("PORT", "0"),
        ("DATABASE_URL", url.as_str()),
        ("JWT_SECRET_KEY", STRONG_SECRET),
        ("LOG_FORMAT", "pretty"),
    ];
    let sentence = |l: &str| l.starts_with("listening on http://");
    let (_child, lines) = until_listening(dir.path(), &vars, sentence).await;
    let line = lines.last().unwrap();
    let rest = line
        .strip_prefix("listening on http://127.0.0.1:")
        .expect(line);
    let (port, docs) = rest.split_once(" \u{2014} docs at ").expect(line);
    assert!(port.parse::<u16>().is_ok_and(|p| p != 0), "{line}");
    assert_eq!(docs, format!("http://127.0.0.1:{port}/docs"), "{line}");
    let secret_warning = lines.iter().any(|l| l.contains("JWT_SECRET_KEY"));
    assert!(
        !secret_warning,
        "a strong secret draws no warning: {lines:#?}"
    );
}

#[tokio::test]
async fn openapi_into_a_closed_pipe_exits_quietly() {
    let dir = tempfile::tempdir().unwrap();
    // The reading end is closed before the child writes: its write fails with EPIPE.
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = command(dir.path(), &["openapi"], &[])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output();
    let out = tokio::time::timeout(HANG, out).await.unwrap().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "", "quietly");
}

#[tokio::test]
async fn migrate_down_says_what_it_reverted_and_refuses_too_many() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir.path().join("app.db"), true);
    let vars = [("DATABASE_URL", url.as_str())];
    let migrate = |args: &'static [&'static str]| run(dir.path(), args, &vars);

    let none = migrate(&["migrate", "down"]).await;
    assert!(none.status.success(), "{}", text(&none.stderr));
    assert!(text(&none.stdout).starts_with("nothing to revert: no migration is applied\n"));

    let up = migrate(&["migrate", "up"]).await;
    assert!(
        text(&up.stdout).starts_with("applied    1 auth\n"),
        "{}",
        text(&up.stdout)
    );

    // The shipped migrations, newest last: (version, description).
    let shipped: Vec<(i64, String)> = todo_api::db::Backend::Sqlite
        .migrator()
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| (m.version, m.description.to_string()))
        .collect();
    let n = shipped.len();
    let listed = shipped
        .iter()
        .map(|(v, _)| v.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let reverted = |ms: &[(i64, String)]| -> String {
        ms.iter()
            .rev()
            .map(|(v, d)| format!("reverted {v:>4} {d}\n"))
            .collect()
    };

    let too_many = migrate(&["migrate", "down", "99"]).await;
    let e = text(&too_many.stderr);
    assert_eq!(too_many.status.code(), Some(1), "{e}");
    assert!(
        e.contains(&format!("only {n} migration(s) are applied ({listed})")),
        "{e}"
    );
    assert!(
        e.contains("nothing was reverted") && e.contains("--all"),
        "{e}"
    );
    let status = text(&migrate(&["migrate", "status"]).await.stdout);
    assert_eq!(status.matches(" applied").count(), n, "{status}");

    let two = text(&migrate(&["migrate", "down", "2"]).await.stdout);
    assert!(two.starts_with(&reverted(&shipped[n - 2..])), "{two}");
    assert_eq!(two.matches(" pending").count(), 2, "{two}");

    let all = text(&migrate(&["migrate", "down", "--all"]).await.stdout);
    assert!(all.starts_with(&reverted(&shipped[..n - 2])), "{all}");
    assert_eq!(all.matches(" pending").count(), n, "{all}");
}

#[tokio::test]
async fn help_lists_every_variable_with_its_default() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["--help"], &[]).await;
    let help = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for s in todo_api::config::all_settings() {
        let shown = if s.default.is_empty() {
            format!("  {} [unset]", s.name)
        } else {
            format!("  {} [default: {}]", s.name, s.default)
        };
        assert!(help.contains(&shown), "{shown:?} missing:\n{help}");
        assert!(help.contains(s.help), "{}'s meaning missing", s.name);
    }
}
