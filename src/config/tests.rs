//! Tests of the configuration: defaults, overrides, errors naming the variable, secrets.

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
    let ok = with(&[
        ("APP_ENV", "production"),
        ("JWT_SECRET_KEY", RANDOM_HEX),
        ("MAIL_ENABLED", "false"),
    ])
    .unwrap();
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
        let mail = [
            ("SMTP_URL", "smtp://mail:587"),
            ("APP_URL", "https://todo.example"),
        ];
        let mut vars = vec![("APP_ENV", "prod"), ("JWT_SECRET_KEY", secret)];
        vars.extend(mail);
        with(&vars).unwrap();
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
    let readme = include_str!("../../README.md");
    let example = include_str!("../../.env.example");
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
