//! Typed settings read from the environment (and an optional `.env`).
//!
//! Every variable is named once, in [`SETTINGS`] (and [`DbSettings::VARIABLES`] for the
//! database ones): its name, its default as text, and one line of help. Parsing, the
//! defaults, `todo-api --help` and the README/`.env.example` check all read those tables.

use std::fmt;
use std::net::{IpAddr, ToSocketAddrs};

use anyhow::{anyhow, bail, Context};

use crate::db::DbSettings;

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
    /// Database timeouts, circuit breaker and SQLite durability (`DB_*`, `SQLITE_*`).
    pub db: DbSettings,
    pub cors_origins: Vec<String>,
    /// Auth requests per minute per client IP; 0 switches limiting off.
    pub auth_rate_limit_per_minute: u32,
    /// Leading bits an IPv6 client is counted by in the rate limits (default 64).
    pub rate_limit_ipv6_prefix: u8,
    /// Load balancers / reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: crate::http::client_ip::TrustedProxies,
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
    set("RATE_LIMIT_IPV6_PREFIX", "64", "leading bits an IPv6 client is counted by in the rate limits (0..=128; a client owns a /64)"),
    set("TRUSTED_PROXIES", "", "comma-separated addresses/CIDRs of load balancers whose X-Forwarded-For names the client (unset: none)"),
    set("CORS_ORIGINS", "", "comma-separated origins allowed to call the API from a browser (unset: none)"),
    set("LOG_LEVEL", "info", "tracing EnvFilter directives, e.g. info or todo_api=debug,sqlx=warn"),
    set("LOG_FORMAT", "json", "json (one JSON object per line) or pretty"),
    set("OTEL_EXPORTER_OTLP_ENDPOINT", "", "OTLP collector for traces, e.g. http://localhost:4318 (unset: no export)"),
    set("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "http/protobuf or grpc"),
    set("OTEL_SERVICE_NAME", "todo-api", "service name on exported traces"),
];

/// Every variable: the service's, then the database layer's.
pub fn all_settings() -> impl Iterator<Item = &'static Setting> {
    SETTINGS.iter().chain(DbSettings::VARIABLES)
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
            db: DbSettings::from_lookup(&get)?,
            cors_origins: comma_list(&env.text("CORS_ORIGINS")),
            auth_rate_limit_per_minute: env.parse("AUTH_RATE_LIMIT_PER_MINUTE")?,
            rate_limit_ipv6_prefix: env.parse("RATE_LIMIT_IPV6_PREFIX")?,
            trusted_proxies: crate::http::client_ip::TrustedProxies::parse(
                &env.text("TRUSTED_PROXIES"),
            )
            .map_err(|e| anyhow!("TRUSTED_PROXIES: {e}"))?,
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
        let a = self.argon2;
        argon2::Params::new(a.memory_kib, a.iterations, a.parallelism, None)
            .map_err(|e| anyhow!("invalid Argon2 parameters: {e}"))
            .context("check ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_PARALLELISM")?;
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

/// Why a secret is weak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Weakness {
    /// Fewer than [`MIN_SECRET_BYTES`] bytes (the count).
    TooShort(usize),
    /// Little but well-known words (`secret`, `changeme`, `password`, …).
    Placeholder,
    /// Fewer than [`MIN_DISTINCT_BYTES`] distinct bytes (the count).
    FewDistinct(usize),
    /// One shorter pattern repeated (the pattern's length).
    Repeated(usize),
    /// A Shannon-entropy estimate below [`MIN_ENTROPY_BITS`] (the estimate).
    LowEntropy(u32),
}

impl fmt::Display for Weakness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Weakness::TooShort(n) => write!(f, "{n} bytes, need at least {MIN_SECRET_BYTES}"),
            Weakness::Placeholder => {
                f.write_str("it is made of well-known words such as secret, changeme, password")
            }
            Weakness::FewDistinct(n) => write!(
                f,
                "only {n} distinct characters, need at least {MIN_DISTINCT_BYTES}"
            ),
            Weakness::Repeated(p) => write!(f, "it repeats a {p}-character pattern"),
            Weakness::LowEntropy(b) => write!(
                f,
                "about {b} bits of entropy, need at least {MIN_ENTROPY_BITS}"
            ),
        }
    }
}

/// Fewest distinct bytes of an acceptable secret. Random hex (16 symbols) of 32+
/// characters has at least 8 in practice (a bound of 16 would refuse a quarter of
/// `openssl rand -hex 32` outputs).
pub const MIN_DISTINCT_BYTES: usize = 8;

/// Least estimated entropy of an acceptable secret: length × the empirical Shannon
/// entropy per byte. It underestimates random text (32 random hex digits, 128 real bits,
/// estimate about 90..120), so the bound sits below that.
pub const MIN_ENTROPY_BITS: u32 = 80;

/// Words that make up placeholder secrets (`your-secret-key-change-me`, …).
const WELL_KNOWN_WORDS: &[&str] = &[
    "placeholder",
    "development",
    "production",
    "changeme",
    "password",
    "passw0rd",
    "insecure",
    "example",
    "letmein",
    "default",
    "replace",
    "signing",
    "secret",
    "sample",
    "change",
    "please",
    "qwerty",
    "dummy",
    "admin",
    "token",
    "super",
    "hello",
    "world",
    "your",
    "here",
    "test",
    "with",
    "todo",
    "key",
    "jwt",
    "api",
    "app",
    "dev",
    "the",
    "my",
    "me",
    "in",
];

/// Why `secret` is too weak to sign tokens with, or `None` when it looks random enough.
pub fn secret_weakness(secret: &[u8]) -> Option<Weakness> {
    if secret.len() < MIN_SECRET_BYTES {
        return Some(Weakness::TooShort(secret.len()));
    }
    if is_placeholder(secret) {
        return Some(Weakness::Placeholder);
    }
    let distinct = distinct_bytes(secret);
    if distinct < MIN_DISTINCT_BYTES {
        return Some(Weakness::FewDistinct(distinct));
    }
    let period = shortest_period(secret);
    if period <= secret.len() / 2 {
        return Some(Weakness::Repeated(period));
    }
    let bits = entropy_bits(secret);
    (bits < MIN_ENTROPY_BITS).then_some(Weakness::LowEntropy(bits))
}

/// Whether fewer than 16 letters and digits remain once the well-known words are removed.
fn is_placeholder(secret: &[u8]) -> bool {
    let mut rest: String = String::from_utf8_lossy(secret)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    for word in WELL_KNOWN_WORDS {
        rest = rest.replace(word, "");
    }
    rest.len() < 16
}

fn distinct_bytes(bytes: &[u8]) -> usize {
    let mut seen = [false; 256];
    bytes.iter().for_each(|&b| seen[usize::from(b)] = true);
    seen.iter().filter(|&&s| s).count()
}

/// The smallest `p` with `bytes[i] == bytes[i - p]` for every `i >= p` (the length when
/// nothing repeats).
fn shortest_period(bytes: &[u8]) -> usize {
    (1..bytes.len())
        .find(|&p| bytes[p..].iter().zip(bytes).all(|(a, b)| a == b))
        .unwrap_or(bytes.len())
}

/// Length × empirical Shannon entropy per byte, rounded down.
fn entropy_bits(bytes: &[u8]) -> u32 {
    let mut counts = [0u32; 256];
    bytes.iter().for_each(|&b| counts[usize::from(b)] += 1);
    let n = bytes.len() as f64;
    let per_byte: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    (per_byte * n) as u32
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

    fn err(vars: &[(&str, &str)]) -> String {
        format!(
            "{:#}",
            with(vars).expect_err("the configuration is refused")
        )
    }

    /// 64 hex digits as `openssl rand -hex 32` prints them.
    const RANDOM_HEX: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn production_requires_a_long_secret() {
        let e = err(&[("APP_ENV", "production")]);
        assert!(e.contains("JWT_SECRET_KEY is not set"), "{e}");
        let e = err(&[("APP_ENV", "production"), ("JWT_SECRET_KEY", "short")]);
        assert!(e.contains("too short"), "{e}");
        let ok = with(&[("APP_ENV", "production"), ("JWT_SECRET_KEY", RANDOM_HEX)]).unwrap();
        assert_eq!(ok.app_env, AppEnv::Production);
        assert_eq!(ok.jwt_secret.expose(), RANDOM_HEX.as_bytes());
        assert!(ok.warnings.is_empty(), "{:?}", ok.warnings);
    }

    #[test]
    fn production_refuses_low_entropy_secrets() {
        for (secret, why) in [
            ("a".repeat(32), "distinct"),
            ("ab".repeat(20), "distinct"),
            (
                "0123456789abcdef".repeat(2),
                "repeats a 16-character pattern",
            ),
            ("correct-horse!".repeat(3), "repeats a 14-character pattern"),
            ("secret".repeat(6), "well-known words"),
            (
                "changeme-changeme-changeme-changeme".into(),
                "well-known words",
            ),
            (
                "your-super-secret-jwt-key-change-me-in-production".into(),
                "well-known words",
            ),
            ("password-password-password-1234".into(), "too short"),
            ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaabcdefgh".into(), "entropy"),
        ] {
            let e = err(&[("APP_ENV", "production"), ("JWT_SECRET_KEY", &secret)]);
            assert!(
                e.contains("JWT_SECRET_KEY") && e.contains(why),
                "{secret}: {e}"
            );
            assert!(!e.contains(&secret), "the secret is not echoed: {e}");
        }
        // Random text of every usual shape passes, and so does a long mixed passphrase.
        for secret in [
            RANDOM_HEX,
            &RANDOM_HEX[..32],
            "q3J9v+Yc1sT0mXo4p2Wk8eRz6uLh5bNa7dFg0iCj3Ks=",
            "test-secret-0123456789abcdef-0123456789abcdef",
        ] {
            assert_eq!(secret_weakness(secret.as_bytes()), None, "{secret}");
            with(&[("APP_ENV", "prod"), ("JWT_SECRET_KEY", secret)]).unwrap();
        }
    }

    #[test]
    fn development_accepts_weak_secrets_with_a_loud_warning() {
        let c = with(&[("JWT_SECRET_KEY", "secret")]).unwrap();
        assert_eq!(c.jwt_secret.expose(), b"secret");
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        let w = &c.warnings[0];
        assert!(
            w.contains("JWT_SECRET_KEY IS WEAK") && w.contains("6 bytes"),
            "{w}"
        );
        assert!(!w.contains("\"secret\""), "the secret is not echoed: {w}");

        let c = with(&[("JWT_SECRET_KEY", &"a".repeat(32))]).unwrap();
        assert!(c.warnings[0].contains("1 distinct"), "{:?}", c.warnings);

        let c = with(&[]).unwrap();
        assert_eq!(c.jwt_secret.expose().len(), 32);
        assert!(
            c.warnings[0].contains("JWT_SECRET_KEY is not set"),
            "{:?}",
            c.warnings
        );
        assert!(with(&[("JWT_SECRET_KEY", RANDOM_HEX)])
            .unwrap()
            .warnings
            .is_empty());
    }

    #[test]
    fn trusted_proxies_are_parsed_or_refused() {
        let c = with(&[("TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1")]).unwrap();
        assert!(c.trusted_proxies.contains("10.2.3.4".parse().unwrap()));
        let e = err(&[("TRUSTED_PROXIES", "lb.internal")]);
        assert!(e.contains("TRUSTED_PROXIES"), "{e}");
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
        assert_eq!(c.hash_queue, 64);
        assert_eq!(c.hash_workers, default_hash_workers());
        assert_eq!((c.argon2.memory_kib, c.argon2.iterations), (19_456, 2));
        assert_eq!(c.argon2.parallelism, 1);
        assert_eq!(
            (c.app_env, c.log_format),
            (AppEnv::Development, LogFormat::Json)
        );
        assert_eq!(c.otel_protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(
            (c.log_level.as_str(), c.otel_service_name.as_str()),
            ("info", "todo-api")
        );
        assert!(c.migrate_on_start && c.cors_origins.is_empty());
        assert_eq!((c.jwt_issuer, c.otel_endpoint), (None, None));
        assert_eq!(c.db, DbSettings::default());
    }

    #[test]
    fn values_override_defaults_and_blank_means_default() {
        let c = with(&[
            ("PORT", " 9000 "),
            ("APP_ENV", "Dev"),
            ("LOG_FORMAT", "TEXT"),
            ("CORS_ORIGINS", "https://a.example, ,https://b.example"),
            ("PASSWORD_HASH_WORKERS", "3"),
            ("MIGRATE_ON_START", "false"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("LOG_LEVEL", "  "),
        ])
        .unwrap();
        assert_eq!(
            (c.port, c.hash_workers, c.migrate_on_start),
            (9000, 3, false)
        );
        assert_eq!(
            (c.app_env, c.log_format),
            (AppEnv::Development, LogFormat::Pretty)
        );
        assert_eq!(c.cors_origins, ["https://a.example", "https://b.example"]);
        assert_eq!(c.otel_protocol, OtlpProtocol::Grpc);
        assert_eq!(c.log_level, "info");
    }

    #[test]
    fn invalid_values_name_the_variable() {
        for (k, v, expected) in [
            ("PORT", "http", r#"PORT="http" is invalid"#),
            ("PORT", "70000", r#"PORT="70000" is invalid"#),
            ("ACCESS_TOKEN_EXPIRE_MINUTES", "0", "must be positive"),
            (
                "DATABASE_POOL_SIZE",
                "0",
                "DATABASE_POOL_SIZE must be at least 1",
            ),
            (
                "PASSWORD_HASH_WORKERS",
                "many",
                r#"PASSWORD_HASH_WORKERS="many" is invalid"#,
            ),
            (
                "MIGRATE_ON_START",
                "yes",
                r#"MIGRATE_ON_START="yes" is invalid"#,
            ),
            (
                "APP_ENV",
                "Staging",
                r#"APP_ENV="staging" is invalid: use development or production"#,
            ),
            (
                "LOG_FORMAT",
                "xml",
                r#"LOG_FORMAT="xml" is invalid: use json or pretty"#,
            ),
            (
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                "udp",
                "use http/protobuf or grpc",
            ),
            ("ARGON2_MEMORY_KIB", "1", "check ARGON2_MEMORY_KIB"),
            (
                "DB_ACQUIRE_TIMEOUT_MS",
                "soon",
                r#"DB_ACQUIRE_TIMEOUT_MS="soon" is invalid"#,
            ),
            ("SQLITE_SYNCHRONOUS", "always", "SQLITE_SYNCHRONOUS"),
        ] {
            let e = err(&[(k, v)]);
            assert!(e.contains(expected), "{k}={v}: {e}");
        }
    }

    #[test]
    fn host_accepts_addresses_and_names() {
        let host = |v: &str| with(&[("HOST", v)]).map(|c| c.host);
        assert_eq!(host("0.0.0.0").unwrap(), IpAddr::from([0, 0, 0, 0]));
        assert_eq!(host("::1").unwrap().to_string(), "::1");
        assert_eq!(host("[::1]").unwrap().to_string(), "::1");
        assert_eq!(host("localhost").unwrap(), IpAddr::from([127, 0, 0, 1]));
        assert_eq!(host(" LocalHost ").unwrap(), IpAddr::from([127, 0, 0, 1]));
        for bad in ["no-such-host.invalid", "http://x", "a b"] {
            let e = err(&[("HOST", bad)]);
            assert!(e.contains("HOST=") && e.contains(bad.trim()), "{bad}: {e}");
            assert!(e.contains("IP address"), "says what would work: {e}");
        }
    }

    #[test]
    fn sqlite_synchronous_off_is_accepted_with_a_warning() {
        let c = with(&[
            ("SQLITE_SYNCHRONOUS", "off"),
            ("JWT_SECRET_KEY", RANDOM_HEX),
        ])
        .unwrap();
        assert_eq!(
            c.db.sqlite_synchronous,
            sqlx::sqlite::SqliteSynchronous::Off
        );
        assert!(c
            .warnings
            .iter()
            .any(|w| w.contains("SQLITE_SYNCHRONOUS=off")));
        let c = with(&[
            ("SQLITE_SYNCHRONOUS", "normal"),
            ("JWT_SECRET_KEY", RANDOM_HEX),
        ]);
        assert!(c.unwrap().warnings.is_empty());
    }

    #[test]
    fn every_table_default_parses_and_names_are_unique() {
        let names: Vec<&str> = all_settings().map(|s| s.name).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "a variable is listed twice");
        // Setting every variable to its own default changes nothing.
        let defaults: HashMap<&str, &str> = all_settings().map(|s| (s.name, s.default)).collect();
        let c = Config::from_lookup(|k| defaults.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(
            (c.port, c.pool_size, c.db),
            (8000, 20, DbSettings::default())
        );
    }

    #[test]
    fn help_lists_every_variable_with_default_and_meaning() {
        let help = help_text();
        for s in all_settings() {
            let line = format!("  {} [", s.name);
            assert!(help.contains(&line), "{} missing from --help", s.name);
            assert!(help.contains(s.help), "{}'s help missing", s.name);
            if !s.default.is_empty() {
                let shown = format!("  {} [default: {}]", s.name, s.default);
                assert!(help.contains(&shown), "{}'s default missing", s.name);
            }
        }
    }

    /// The README table and `.env.example` document every variable, with its default.
    #[test]
    fn readme_and_env_example_document_every_variable() {
        let readme = include_str!("../README.md");
        let example = include_str!("../.env.example");
        for s in all_settings() {
            let row = format!("| `{}` |", s.name);
            assert!(readme.contains(&row), "README.md has no row for {}", s.name);
            if !s.default.is_empty() {
                let row = format!("| `{}` | `{}` |", s.name, s.default);
                assert!(
                    readme.contains(&row),
                    "README.md: {} default is not {}",
                    s.name,
                    s.default
                );
            }
            let line = format!("#{}={}\n", s.name, s.default);
            assert!(example.contains(&line), ".env.example lacks {line:?}");
        }
    }
}
