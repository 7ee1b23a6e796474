//! The settings table: every variable's name, default and help, once, and the reader
//! that parses variables by it.

use std::fmt;

use anyhow::{anyhow, bail};

use super::DEFAULT_DATABASE_URL;
use crate::auth::external::ExternalSettings;
use crate::db::DbSettings;
use crate::mail::MailSettings;

/// One environment variable: its name, its default as the variable would spell it
/// (`""`: unset, and `help` says what unset means), and one line of help.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub name: &'static str,
    pub default: &'static str,
    pub help: &'static str,
}

const fn set(name: &'static str, default: &'static str, help: &'static str) -> Setting {
    Setting {
        name,
        default,
        help,
    }
}

/// The service's variables (the database layer's are in [`DbSettings::VARIABLES`]).
pub const SETTINGS: &[Setting] = &[
    set("DATABASE_URL", DEFAULT_DATABASE_URL, "sqlite://FILE?mode=rwc (mode=rwc creates the file) or postgres://USER[:PASS]@HOST:PORT/DB"),
    set("HOST", "127.0.0.1", "address or host name to listen on (0.0.0.0: all interfaces; a name binds its first IPv4 address)"),
    set("PORT", "8000", "port to listen on (0: any free port)"),
    set("APP_ENV", "development", "development (or dev) or production (or prod); production refuses weak or missing secrets"),
    set("MIGRATE_ON_START", "true", "serve applies pending migrations before it listens"),
    set("DATABASE_POOL_SIZE", "20", "connections in the database pool (at least 1; SQLite uses at most 8)"),
    set("DATABASE_LISTEN_URL", "", "PostgreSQL URL of the session cache's LISTEN connection (unset: DATABASE_URL); set it when DATABASE_URL goes through a pooler that cannot LISTEN"),
    set("JWT_SECRET_KEY", "", "HS256 signing key; unset in development: a random key per process; production: required, 32+ bytes, not guessable (e.g. openssl rand -hex 32)"),
    set("JWT_ISSUER", "", "iss claim put on issued tokens and required on presented ones (unset: none)"),
    set("JWT_AUDIENCE", "", "aud claim put on issued tokens and required on presented ones (unset: none)"),
    set("ACCESS_TOKEN_EXPIRE_MINUTES", "60", "access token lifetime in minutes (positive)"),
    set("REFRESH_TOKEN_EXPIRE_DAYS", "7", "refresh token lifetime in days (positive)"),
    set("ARGON2_MEMORY_KIB", "19456", "Argon2id memory cost in KiB"),
    set("ARGON2_ITERATIONS", "2", "Argon2id time cost"),
    set("ARGON2_PARALLELISM", "1", "Argon2id lanes"),
    set("PASSWORD_HASH_WORKERS", "", "password hashes computed at once (unset: CPU cores - 1, at least 1)"),
    set("PASSWORD_HASH_QUEUE", "64", "hash requests that may wait for a worker; beyond that, 503 SERVER_001"),
    set("AUTH_RATE_LIMIT_PER_MINUTE", "5", "requests per minute per client IP to register/login/token/refresh (one bucket); 0 switches limiting off"),
    set("LOGIN_FAILURES_PER_ACCOUNT", "10", "failed logins per account (from any address) before further attempts are slowed to one a minute; 0 switches the throttle off"),
    set("RATE_LIMIT_IPV6_PREFIX", "64", "leading bits an IPv6 client is counted by in the rate limits (0..=128; a client owns a /64)"),
    set("HEADER_READ_TIMEOUT_SECONDS", "30", "a connection whose request headers are not complete within this many seconds is closed (at least 1)"),
    set("IDLE_TIMEOUT_SECONDS", "60", "an idle keep-alive connection is closed after this many seconds (at least 1)"),
    set("BODY_READ_TIMEOUT_SECONDS", "30", "a request body not complete this many seconds after its headers gets its connection closed (at least 1)"),
    set("MAX_CONNECTIONS", "1024", "open client connections at most; one beyond is closed at once (at least 1; keep it below the open-files limit)"),
    set("TLS_CERT_FILE", "", "PEM certificate chain (leaf first) to serve HTTPS directly; set with TLS_KEY_FILE (unset: plain HTTP)"),
    set("TLS_KEY_FILE", "", "PEM private key of TLS_CERT_FILE (PKCS#8, PKCS#1 or SEC1)"),
    set("TRUSTED_PROXIES", "", "comma-separated addresses/CIDRs of load balancers whose X-Forwarded-For names the client (unset: none)"),
    set("CORS_ORIGINS", "", "comma-separated origins allowed to call the API from a browser (unset: none)"),
    set("CORS_ALLOW_HEADERS", "", "extra request headers browsers may send, comma-separated (always allowed: authorization, content-type, if-match, if-none-match, x-request-id, traceparent, tracestate, baggage)"),
    set("LOG_LEVEL", "info", "tracing EnvFilter directives, e.g. info or todo_api=debug,sqlx=warn"),
    set("LOG_FORMAT", "json", "json (one JSON object per line) or pretty"),
    set("OTEL_EXPORTER_OTLP_ENDPOINT", "", "OTLP collector for traces, e.g. http://localhost:4318 (unset: no export)"),
    set("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "http/protobuf, the one transport built in (grpc stops the start-up, saying what to set)"),
    set("OTEL_SERVICE_NAME", "todo-api", "service name on exported traces"),
];

/// Every variable: the service's, then the database layer's, the mail flows', and the
/// identity settings (local accounts, external issuer).
pub fn all_settings() -> impl Iterator<Item = &'static Setting> {
    SETTINGS
        .iter()
        .chain(DbSettings::VARIABLES)
        .chain(MailSettings::VARIABLES)
        .chain(ExternalSettings::VARIABLES)
}

/// The `--help` section listing every variable with its default and meaning.
pub fn help_text() -> String {
    let mut out = String::from(
        "Environment variables (also read from ./.env; real environment variables win):\n",
    );
    for s in all_settings() {
        let default = if s.default.is_empty() {
            "unset".to_owned()
        } else {
            format!("default: {}", s.default)
        };
        out.push_str(&format!("  {} [{default}]\n      {}\n", s.name, s.help));
    }
    out
}

/// Reads the variables of one table through a lookup (the environment, or a map in
/// tests). Unset or blank means the table's default; errors name the variable.
pub struct Lookup<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    table: &'static [Setting],
}

impl<'a> Lookup<'a> {
    pub fn new(get: &'a dyn Fn(&str) -> Option<String>, table: &'static [Setting]) -> Self {
        Lookup { get, table }
    }

    /// The value of `name` when it is set and not blank.
    pub fn value(&self, name: &str) -> Option<String> {
        (self.get)(name).filter(|v| !v.trim().is_empty())
    }

    /// The value of `name`, or its default from the table.
    pub fn text(&self, name: &str) -> String {
        self.value(name).unwrap_or_else(|| {
            let row = self.table.iter().find(|s| s.name == name);
            row.map_or("", |s| s.default).to_owned()
        })
    }

    /// The value (or default) of `name`, parsed.
    pub fn parse<T: std::str::FromStr>(&self, name: &str) -> anyhow::Result<T>
    where
        T::Err: fmt::Display,
    {
        let v = self.text(name);
        v.trim()
            .parse()
            .map_err(|e| anyhow!("{name}={v:?} is invalid: {e}"))
    }

    /// The value of `name` parsed, or `computed` when unset (a default the table can
    /// only describe, such as one depending on the CPU count).
    pub fn parse_or<T: std::str::FromStr>(&self, name: &str, computed: T) -> anyhow::Result<T>
    where
        T::Err: fmt::Display,
    {
        match self.value(name) {
            None => Ok(computed),
            Some(_) => self.parse(name),
        }
    }

    /// The value (or default) of `name` as one of `choices`, case-insensitively. The
    /// error lists the first spelling of each value (aliases are accepted, not advertised).
    pub fn choice<T: Copy + PartialEq>(
        &self,
        name: &str,
        choices: &[(&str, T)],
    ) -> anyhow::Result<T> {
        let v = self.text(name).trim().to_ascii_lowercase();
        if let Some((_, t)) = choices.iter().find(|(k, _)| *k == v) {
            return Ok(*t);
        }
        let mut names: Vec<&str> = Vec::new();
        for (i, (k, t)) in choices.iter().enumerate() {
            if !choices[..i].iter().any(|(_, u)| u == t) {
                names.push(k);
            }
        }
        bail!("{name}={v:?} is invalid: use {}", names.join(" or "))
    }
}
