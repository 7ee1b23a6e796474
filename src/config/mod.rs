//! Typed settings read from the environment (and an optional `.env`).
//!
//! Every variable is named once, in [`SETTINGS`] (and [`DbSettings::VARIABLES`] for the
//! database ones): its name, its default as text, and one line of help. Parsing, the
//! defaults, `todo-api --help` and the README/`.env.example` check all read those tables.

use std::fmt;
use std::net::{IpAddr, ToSocketAddrs};
use std::time::Duration;

mod secret;
mod table;

pub use secret::{secret_weakness, secrets_equal, Weakness, MIN_DISTINCT_BYTES, MIN_ENTROPY_BITS};
pub use table::{all_settings, help_text, Lookup, Setting, SETTINGS};

use anyhow::{anyhow, bail, Context};

use crate::auth::external::{ExternalSettings, KeySource};
use crate::db::DbSettings;
use crate::mail::MailSettings;

/// Deployment environment; production refuses weak secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

/// A secret that never shows up in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into())
    }
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// All settings of one service instance; tests build their own.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    /// `HOST`, resolved (a host name becomes its first IPv4 address, else its first one).
    pub host: IpAddr,
    pub port: u16,
    pub app_env: AppEnv,
    pub jwt_secret: Secret,
    pub jwt_issuer: Option<String>,
    pub jwt_audience: Option<String>,
    pub access_token_minutes: i64,
    pub refresh_token_days: i64,
    pub argon2: Argon2Params,
    /// Password hashes allowed to run at once (default: cores - 1, at least 1).
    pub hash_workers: usize,
    /// Hash requests that may wait for a worker before login answers 503.
    pub hash_queue: usize,
    pub pool_size: u32,
    /// `DATABASE_LISTEN_URL`: where the session cache's `LISTEN` connects (PostgreSQL;
    /// `None`: `database_url`).
    pub database_listen_url: Option<String>,
    /// Database timeouts, circuit breaker and SQLite durability (`DB_*`, `SQLITE_*`).
    pub db: DbSettings,
    /// The mail flows: SMTP, links, one-time token lifetimes (`SMTP_URL`, `MAIL_*`, …).
    pub mail: MailSettings,
    /// Local accounts on or off, and the external issuer (`LOCAL_AUTH`, `EXTERNAL_*`).
    pub identity: ExternalSettings,
    pub cors_origins: Vec<String>,
    /// Request headers CORS allows besides the API's own and the W3C trace context.
    pub cors_allow_headers: Vec<String>,
    /// Auth requests per minute per client IP; 0 switches limiting off.
    pub auth_rate_limit_per_minute: u32,
    /// Failed logins per account before the per-account throttle slows them; 0: off.
    pub login_failures_per_account: u32,
    /// Leading bits an IPv6 client is counted by in the rate limits (default 64).
    pub rate_limit_ipv6_prefix: u8,
    /// Load balancers / reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: crate::http::client_ip::TrustedProxies,
    /// Slow and idle clients, and the connection cap.
    pub connections: ConnectionSettings,
    /// Certificate and key to serve TLS with (`TLS_CERT_FILE`, `TLS_KEY_FILE`).
    pub tls: Option<crate::http::tls::TlsFiles>,
    pub log_level: String,
    pub log_format: LogFormat,
    pub migrate_on_start: bool,
    pub otel_endpoint: Option<String>,
    pub otel_protocol: OtlpProtocol,
    pub otel_service_name: String,
    /// Accepted but questionable settings (a weak development secret, …). Printed by
    /// `serve` once the service started, so that they never precede a fatal error.
    pub warnings: Vec<String>,
}

/// `HEADER_READ_TIMEOUT_SECONDS`, `IDLE_TIMEOUT_SECONDS`, `BODY_READ_TIMEOUT_SECONDS`,
/// `MAX_CONNECTIONS`.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionSettings {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_read_timeout: Duration,
    pub max_connections: usize,
}

impl ConnectionSettings {
    fn from_lookup(env: &Lookup) -> anyhow::Result<Self> {
        let seconds = |name: &str| -> anyhow::Result<Duration> {
            let s: u64 = env.parse(name)?;
            if s == 0 {
                bail!("{name} must be at least 1");
            }
            Ok(Duration::from_secs(s))
        };
        let max_connections = env.parse("MAX_CONNECTIONS")?;
        if max_connections == 0 {
            bail!("MAX_CONNECTIONS must be at least 1");
        }
        Ok(ConnectionSettings {
            header_read_timeout: seconds("HEADER_READ_TIMEOUT_SECONDS")?,
            idle_timeout: seconds("IDLE_TIMEOUT_SECONDS")?,
            body_read_timeout: seconds("BODY_READ_TIMEOUT_SECONDS")?,
            max_connections,
        })
    }
}

/// Transport of OTLP trace export (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    HttpProtobuf,
    Grpc,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// `DATABASE_URL` when unset: an SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://todo.db?mode=rwc";

/// Minimum length of `JWT_SECRET_KEY` in production.
pub const MIN_SECRET_BYTES: usize = 32;

const APP_ENVS: &[(&str, AppEnv)] = &[
    ("development", AppEnv::Development),
    ("dev", AppEnv::Development),
    ("production", AppEnv::Production),
    ("prod", AppEnv::Production),
];
const LOG_FORMATS: &[(&str, LogFormat)] = &[
    ("json", LogFormat::Json),
    ("pretty", LogFormat::Pretty),
    ("text", LogFormat::Pretty),
];
const OTLP_PROTOCOLS: &[(&str, OtlpProtocol)] = &[
    ("http/protobuf", OtlpProtocol::HttpProtobuf),
    ("grpc", OtlpProtocol::Grpc),
];

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `get` (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let env = Lookup::new(&get, SETTINGS);
        let app_env = env.choice("APP_ENV", APP_ENVS)?;
        let mut warnings = Vec::new();
        let jwt_secret = jwt_secret(&env, app_env, &mut warnings)?;
        let config = Config {
            database_url: env.text("DATABASE_URL"),
            host: resolve_host(&env.text("HOST"))?,
            port: env.parse("PORT")?,
            app_env,
            jwt_secret,
            jwt_issuer: env.value("JWT_ISSUER"),
            jwt_audience: env.value("JWT_AUDIENCE"),
            access_token_minutes: env.parse("ACCESS_TOKEN_EXPIRE_MINUTES")?,
            refresh_token_days: env.parse("REFRESH_TOKEN_EXPIRE_DAYS")?,
            argon2: Argon2Params {
                memory_kib: env.parse("ARGON2_MEMORY_KIB")?,
                iterations: env.parse("ARGON2_ITERATIONS")?,
                parallelism: env.parse("ARGON2_PARALLELISM")?,
            },
            hash_workers: env.parse_or("PASSWORD_HASH_WORKERS", default_hash_workers())?,
            hash_queue: env.parse("PASSWORD_HASH_QUEUE")?,
            pool_size: env.parse("DATABASE_POOL_SIZE")?,
            database_listen_url: env.value("DATABASE_LISTEN_URL"),
            db: DbSettings::from_lookup(&get)?,
            mail: MailSettings::from_lookup(&get, app_env == AppEnv::Production)?,
            identity: ExternalSettings::from_lookup(&get, app_env == AppEnv::Production)?,
            cors_origins: comma_list(&env.text("CORS_ORIGINS")),
            cors_allow_headers: header_names(&env.text("CORS_ALLOW_HEADERS"))?,
            auth_rate_limit_per_minute: env.parse("AUTH_RATE_LIMIT_PER_MINUTE")?,
            login_failures_per_account: env.parse("LOGIN_FAILURES_PER_ACCOUNT")?,
            rate_limit_ipv6_prefix: env.parse("RATE_LIMIT_IPV6_PREFIX")?,
            trusted_proxies: crate::http::client_ip::TrustedProxies::parse(
                &env.text("TRUSTED_PROXIES"),
            )
            .map_err(|e| anyhow!("TRUSTED_PROXIES: {e}"))?,
            connections: ConnectionSettings::from_lookup(&env)?,
            tls: crate::http::tls::TlsFiles::from_lookup(|k| env.value(k))?,
            log_level: env.text("LOG_LEVEL"),
            log_format: env.choice("LOG_FORMAT", LOG_FORMATS)?,
            migrate_on_start: env.parse("MIGRATE_ON_START")?,
            otel_endpoint: env.value("OTEL_EXPORTER_OTLP_ENDPOINT"),
            otel_protocol: env.choice("OTEL_EXPORTER_OTLP_PROTOCOL", OTLP_PROTOCOLS)?,
            otel_service_name: env.text("OTEL_SERVICE_NAME"),
            warnings,
        };
        config.validate()?;
        Ok(config.with_setting_warnings())
    }

    /// Checks across variables, once each has parsed.
    fn validate(&self) -> anyhow::Result<()> {
        if self.access_token_minutes <= 0 || self.refresh_token_days <= 0 {
            bail!("ACCESS_TOKEN_EXPIRE_MINUTES and REFRESH_TOKEN_EXPIRE_DAYS must be positive");
        }
        if self.rate_limit_ipv6_prefix > 128 {
            bail!("RATE_LIMIT_IPV6_PREFIX must be 0 to 128");
        }
        if self.pool_size == 0 {
            bail!("DATABASE_POOL_SIZE must be at least 1");
        }
        if let Some(url) = &self.database_listen_url {
            url.parse::<sqlx::postgres::PgConnectOptions>()
                .ok()
                .filter(|_| url.starts_with("postgres"))
                .ok_or_else(|| {
                    anyhow!("DATABASE_LISTEN_URL is not a postgres://USER[:PASS]@HOST:PORT/DB URL")
                })?;
        }
        self.validate_identity()?;
        let a = self.argon2;
        argon2::Params::new(a.memory_kib, a.iterations, a.parallelism, None)
            .map_err(|e| anyhow!("invalid Argon2 parameters: {e}"))
            .context("check ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_PARALLELISM")?;
        Ok(())
    }

    /// The external issuer against the service's own tokens: its `iss` and its shared
    /// secret must not be the service's own (tokens are routed to keys by `iss`).
    fn validate_identity(&self) -> anyhow::Result<()> {
        let Some(ext) = &self.identity.issuer else {
            return Ok(());
        };
        if self.jwt_issuer.as_deref() == Some(ext.issuer.as_str()) {
            bail!("EXTERNAL_ISSUER equals JWT_ISSUER: the service's own tokens and the external ones must name different issuers");
        }
        if let KeySource::Secret(secret) = &ext.keys {
            if secrets_equal(secret.expose(), self.jwt_secret.expose()) {
                bail!("EXTERNAL_JWT_SECRET equals JWT_SECRET_KEY: the external issuer's secret must differ from the service's signing key (or it could sign tokens as this service)");
            }
        }
        Ok(())
    }

    /// Adds the warnings about accepted but risky database settings.
    fn with_setting_warnings(mut self) -> Self {
        let sqlite = crate::db::Backend::from_url(&self.database_url)
            .is_ok_and(|b| b == crate::db::Backend::Sqlite);
        if sqlite && self.db.sqlite_synchronous == sqlx::sqlite::SqliteSynchronous::Off {
            self.warnings.push(
                "SQLITE_SYNCHRONOUS=off: acknowledged writes can be lost, and the database \
                 corrupted, by a power loss or an OS crash; use full (the default) unless the \
                 data is disposable"
                    .to_owned(),
            );
        }
        self
    }
}

/// `PASSWORD_HASH_WORKERS` when unset: CPU cores - 1, at least 1.
fn default_hash_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    cores.saturating_sub(1).max(1)
}

/// `CORS_ALLOW_HEADERS`: a comma-separated list of header names.
fn header_names(text: &str) -> anyhow::Result<Vec<String>> {
    let names = comma_list(text);
    if let Some(bad) = names
        .iter()
        .find(|n| poem::http::HeaderName::from_bytes(n.as_bytes()).is_err())
    {
        bail!("CORS_ALLOW_HEADERS: {bad:?} is not a header name");
    }
    Ok(names)
}

/// A comma-separated list, entries trimmed, empty ones dropped.
fn comma_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `JWT_SECRET_KEY`: refused in production when missing or weak; in development a weak
/// one is accepted with a warning, and a missing one is replaced by a random key.
fn jwt_secret(env: &Lookup, app_env: AppEnv, warnings: &mut Vec<String>) -> anyhow::Result<Secret> {
    let Some(s) = env.value("JWT_SECRET_KEY") else {
        if app_env == AppEnv::Production {
            bail!(
                "JWT_SECRET_KEY is not set: production needs a secret of at least \
                 {MIN_SECRET_BYTES} random bytes (e.g. JWT_SECRET_KEY=$(openssl rand -hex 32))"
            );
        }
        warnings.push(
            "JWT_SECRET_KEY is not set; using a random per-process secret (tokens die with \
             the process)"
                .to_owned(),
        );
        return Ok(Secret::new(rand::random::<[u8; 32]>().to_vec()));
    };
    let Some(weakness) = secret_weakness(s.as_bytes()) else {
        return Ok(Secret::new(s.into_bytes()));
    };
    let fix = "generate one with: openssl rand -hex 32";
    match (app_env, weakness) {
        (AppEnv::Production, Weakness::TooShort(n)) => bail!(
            "JWT_SECRET_KEY is too short for production: {n} bytes, need at least \
             {MIN_SECRET_BYTES}; {fix}"
        ),
        (AppEnv::Production, w) => {
            bail!("JWT_SECRET_KEY is too weak for production: {w}; {fix}")
        }
        (AppEnv::Development, w) => warnings.push(format!(
            "JWT_SECRET_KEY IS WEAK ({w}): accepted in development only, production refuses \
             it; anyone who guesses it can sign tokens for any user; {fix}"
        )),
    }
    Ok(Secret::new(s.into_bytes()))
}

/// Resolves `HOST`: an IP address as it is (`[::1]` too), a host name to its first IPv4
/// address (else its first address), so `localhost` binds 127.0.0.1.
pub fn resolve_host(text: &str) -> anyhow::Result<IpAddr> {
    let t = text.trim();
    let bare = t
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(t);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ip);
    }
    let fix = "use an IP address (127.0.0.1, 0.0.0.0 for all interfaces) or a name that \
               /etc/hosts or DNS resolves";
    let is_name = !t.is_empty()
        && t.len() <= 253
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if !is_name {
        bail!("HOST={t:?} is neither an IP address nor a host name; {fix}");
    }
    let addrs: Vec<IpAddr> = (t, 0)
        .to_socket_addrs()
        .map_err(|e| anyhow!("HOST={t:?} does not resolve: {e}; {fix}"))?
        .map(|a| a.ip())
        .collect();
    addrs
        .iter()
        .find(|ip| ip.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| anyhow!("HOST={t:?} resolves to no address; {fix}"))
}

#[cfg(test)]
mod tests;
