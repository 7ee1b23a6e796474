//! Typed settings read from the environment (and an optional `.env`).

use std::fmt;
use std::net::IpAddr;

use anyhow::{bail, Context};

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
    /// Database timeouts and circuit breaker (`DB_*` variables).
    pub db: crate::db::DbSettings,
    pub cors_origins: Vec<String>,
    /// Auth requests per minute per client IP; 0 switches limiting off.
    pub auth_rate_limit_per_minute: u32,
    /// Load balancers / reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: crate::http::client_ip::TrustedProxies,
    /// Certificate and key to serve TLS with (`TLS_CERT_FILE`, `TLS_KEY_FILE`).
    pub tls: Option<crate::http::tls::TlsFiles>,
    pub log_level: String,
    pub log_format: LogFormat,
    pub migrate_on_start: bool,
    pub otel_endpoint: Option<String>,
    pub otel_protocol: OtlpProtocol,
    pub otel_service_name: String,
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

/// The non-blank entries of a comma-separated setting.
fn comma_list(value: Option<String>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `get` (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        fn parse<T: std::str::FromStr>(k: &str, v: Option<String>, default: T) -> anyhow::Result<T>
        where
            T::Err: fmt::Display,
        {
            match v {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse()
                    .map_err(|e| anyhow::anyhow!("{k}={v:?} is invalid: {e}")),
            }
        }
        let app_env = match var("APP_ENV")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("development") | Some("dev") => AppEnv::Development,
            Some("production") | Some("prod") => AppEnv::Production,
            Some(other) => bail!("APP_ENV={other:?} is invalid: use development or production"),
        };
        let jwt_secret = match (var("JWT_SECRET_KEY"), app_env) {
            (Some(s), AppEnv::Production) if s.len() < MIN_SECRET_BYTES => bail!(
                "JWT_SECRET_KEY is too short for production: {} bytes, need at least {MIN_SECRET_BYTES}",
                s.len()
            ),
            (None, AppEnv::Production) => bail!(
                "JWT_SECRET_KEY is not set: production needs a secret of at least {MIN_SECRET_BYTES} bytes"
            ),
            (Some(s), _) => Secret::new(s.into_bytes()),
            (None, AppEnv::Development) => {
                eprintln!("warning: JWT_SECRET_KEY is not set; using a random per-process secret (tokens die with the process)");
                Secret::new(rand::random::<[u8; 32]>().to_vec())
            }
        };
        let log_format = match var("LOG_FORMAT")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("json") => LogFormat::Json,
            Some("pretty") | Some("text") => LogFormat::Pretty,
            Some(other) => bail!("LOG_FORMAT={other:?} is invalid: use json or pretty"),
        };
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let config = Config {
            database_url: var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            host: parse("HOST", var("HOST"), IpAddr::from([127, 0, 0, 1]))?,
            port: parse("PORT", var("PORT"), 8000)?,
            app_env,
            jwt_secret,
            jwt_issuer: var("JWT_ISSUER"),
            jwt_audience: var("JWT_AUDIENCE"),
            access_token_minutes: parse(
                "ACCESS_TOKEN_EXPIRE_MINUTES",
                var("ACCESS_TOKEN_EXPIRE_MINUTES"),
                60,
            )?,
            refresh_token_days: parse(
                "REFRESH_TOKEN_EXPIRE_DAYS",
                var("REFRESH_TOKEN_EXPIRE_DAYS"),
                7,
            )?,
            argon2: Argon2Params {
                memory_kib: parse("ARGON2_MEMORY_KIB", var("ARGON2_MEMORY_KIB"), 19_456)?,
                iterations: parse("ARGON2_ITERATIONS", var("ARGON2_ITERATIONS"), 2)?,
                parallelism: parse("ARGON2_PARALLELISM", var("ARGON2_PARALLELISM"), 1)?,
            },
            hash_workers: parse(
                "PASSWORD_HASH_WORKERS",
                var("PASSWORD_HASH_WORKERS"),
                cores.saturating_sub(1).max(1),
            )?,
            hash_queue: parse("PASSWORD_HASH_QUEUE", var("PASSWORD_HASH_QUEUE"), 64)?,
            pool_size: parse("DATABASE_POOL_SIZE", var("DATABASE_POOL_SIZE"), 20)?,
            db: crate::db::DbSettings::from_lookup(var)?,
            cors_origins: comma_list(var("CORS_ORIGINS")),
            auth_rate_limit_per_minute: parse(
                "AUTH_RATE_LIMIT_PER_MINUTE",
                var("AUTH_RATE_LIMIT_PER_MINUTE"),
                5,
            )?,
            trusted_proxies: crate::http::client_ip::TrustedProxies::parse(
                &var("TRUSTED_PROXIES").unwrap_or_default(),
            )
            .map_err(|e| anyhow::anyhow!("TRUSTED_PROXIES: {e}"))?,
            tls: crate::http::tls::TlsFiles::from_lookup(var)?,
            log_level: var("LOG_LEVEL").unwrap_or_else(|| "info".into()),
            log_format,
            migrate_on_start: parse("MIGRATE_ON_START", var("MIGRATE_ON_START"), true)?,
            otel_endpoint: var("OTEL_EXPORTER_OTLP_ENDPOINT"),
            otel_protocol: match var("OTEL_EXPORTER_OTLP_PROTOCOL").as_deref() {
                None | Some("http/protobuf") => OtlpProtocol::HttpProtobuf,
                Some("grpc") => OtlpProtocol::Grpc,
                Some(other) => bail!(
                    "OTEL_EXPORTER_OTLP_PROTOCOL={other:?} is invalid: use http/protobuf or grpc"
                ),
            },
            otel_service_name: var("OTEL_SERVICE_NAME").unwrap_or_else(|| "todo-api".into()),
        };
        if config.access_token_minutes <= 0 || config.refresh_token_days <= 0 {
            bail!("ACCESS_TOKEN_EXPIRE_MINUTES and REFRESH_TOKEN_EXPIRE_DAYS must be positive");
        }
        if config.pool_size == 0 {
            bail!("DATABASE_POOL_SIZE must be at least 1");
        }
        argon2::Params::new(
            config.argon2.memory_kib,
            config.argon2.iterations,
            config.argon2.parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters: {e}"))
        .context("check ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_PARALLELISM")?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(vars: &[(&str, &str)]) -> anyhow::Result<Config> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn production_requires_a_long_secret() {
        let err = with(&[("APP_ENV", "production")]).unwrap_err().to_string();
        assert!(err.contains("JWT_SECRET_KEY is not set"), "{err}");
        let err = with(&[("APP_ENV", "production"), ("JWT_SECRET_KEY", "short")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("too short"), "{err}");
        let ok = with(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET_KEY", &"k".repeat(32)),
        ])
        .unwrap();
        assert_eq!(ok.app_env, AppEnv::Production);
    }

    #[test]
    fn trusted_proxies_are_parsed_or_refused() {
        let c = with(&[("TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1")]).unwrap();
        assert!(c.trusted_proxies.contains("10.2.3.4".parse().unwrap()));
        let err = with(&[("TRUSTED_PROXIES", "lb.internal")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("TRUSTED_PROXIES"), "{err}");
        assert_eq!(with(&[]).unwrap().trusted_proxies, Default::default());
    }

    #[test]
    fn defaults_match_the_contract() {
        let c = with(&[]).unwrap();
        assert_eq!(c.database_url, "sqlite://todo.db?mode=rwc");
        assert_eq!((c.host.to_string().as_str(), c.port), ("127.0.0.1", 8000));
        assert_eq!((c.access_token_minutes, c.refresh_token_days), (60, 7));
        assert_eq!(c.auth_rate_limit_per_minute, 5);
        assert_eq!(c.pool_size, 20);
        assert_eq!(c.jwt_secret.expose().len(), 32);
        assert!(with(&[("PORT", "http")]).is_err());
    }
}
