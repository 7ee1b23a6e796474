//! `ExternalSettings`: the one external issuer this service trusts (`EXTERNAL_*`) and
//! whether local accounts exist (`LOCAL_AUTH`). Checked at start-up, with messages that
//! say what to change.

use std::time::Duration;

use anyhow::{anyhow, bail};
use jsonwebtoken::Algorithm;

use crate::config::{secret_weakness, Lookup, Secret, Setting};

/// Where the external issuer's verification keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A JWKS document fetched over HTTP(S); tokens signed with one of `algorithms`.
    Jwks {
        url: String,
        algorithms: Vec<Algorithm>,
    },
    /// Legacy: one HS256 secret shared with the issuer (never `JWT_SECRET_KEY`).
    Secret(Secret),
}

/// The configured external issuer.
#[derive(Debug, Clone)]
pub struct ExternalIssuer {
    /// The exact `iss` of its tokens.
    pub issuer: String,
    /// Required in `aud` when set.
    pub audience: Option<String>,
    pub keys: KeySource,
    /// Tolerance on `exp`, `nbf` and `iat`, in seconds.
    pub clock_skew_secs: u64,
    /// An unknown `kid` triggers at most one JWKS refetch per this interval.
    pub refetch_interval: Duration,
    /// How long a fetched JWKS is used before it is fetched again.
    pub cache_max_age: Duration,
}

/// The identity settings: local accounts on or off, and the external issuer if any.
#[derive(Debug, Clone)]
pub struct ExternalSettings {
    /// `LOCAL_AUTH=enabled` (default): register, login, token, refresh and the password
    /// operations work; `disabled`: they answer 403 AUTHZ_003.
    pub local_auth: bool,
    pub issuer: Option<ExternalIssuer>,
}

const fn set(name: &'static str, default: &'static str, help: &'static str) -> Setting {
    Setting {
        name,
        default,
        help,
    }
}

/// `EXTERNAL_ALGORITHMS` when unset.
pub const DEFAULT_ALGORITHMS: &str = "EdDSA,ES256,RS256,PS256";

/// The asymmetric algorithms a JWKS key may sign with (jsonwebtoken has no ES512).
const ASYMMETRIC: &[Algorithm] = &[
    Algorithm::EdDSA,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

impl ExternalSettings {
    /// The identity variables: name, default, help (`--help`, README, parsing).
    pub const VARIABLES: &'static [Setting] = &[
        set("LOCAL_AUTH", "enabled", "enabled or disabled; disabled: register, login, token, refresh and the password operations answer 403 AUTHZ_003 (needs EXTERNAL_ISSUER)"),
        set("EXTERNAL_ISSUER", "", "the exact iss of an external auth server's tokens to accept (Better Auth: its baseURL); needs EXTERNAL_JWKS_URL or EXTERNAL_JWT_SECRET (unset: none)"),
        set("EXTERNAL_JWKS_URL", "", "the issuer's JWKS (Better Auth: <baseURL>/api/auth/jwks; OIDC: jwks_uri of its discovery document); https:// in production unless on loopback"),
        set("EXTERNAL_AUDIENCE", "", "required in the aud of external tokens when set (unset: aud is not checked)"),
        set("EXTERNAL_ALGORITHMS", DEFAULT_ALGORITHMS, "comma-separated signing algorithms accepted from the JWKS (EdDSA, ES256, ES384, RS256..RS512, PS256..PS512; never none or HS*)"),
        set("EXTERNAL_CLOCK_SKEW_SECONDS", "30", "tolerance on exp, nbf and iat of external tokens, in seconds (0..=300)"),
        set("EXTERNAL_JWKS_REFETCH_SECONDS", "10", "a token with an unknown kid triggers at most one JWKS refetch per this many seconds (at least 1)"),
        set("EXTERNAL_JWKS_CACHE_SECONDS", "300", "a fetched JWKS is used this many seconds before it is fetched again (at least 1); the last good keys stay in use while the issuer is unreachable"),
        set("EXTERNAL_JWT_SECRET", "", "legacy instead of EXTERNAL_JWKS_URL: the HS256 secret shared with the issuer (32+ bytes, never JWT_SECRET_KEY)"),
    ];

    /// Reads the identity variables through `get`; `production` refuses a weak shared secret.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        production: bool,
    ) -> anyhow::Result<Self> {
        let env = Lookup::new(&get, Self::VARIABLES);
        let local_auth = match env.text("LOCAL_AUTH").trim().to_ascii_lowercase().as_str() {
            "enabled" => true,
            "disabled" => false,
            other => bail!("LOCAL_AUTH={other:?} is invalid: use enabled or disabled"),
        };
        let issuer = match env.value("EXTERNAL_ISSUER") {
            Some(iss) => Some(issuer(&env, iss.trim().to_owned(), production)?),
            None => {
                orphans(&env)?;
                None
            }
        };
        if !local_auth && issuer.is_none() {
            bail!(
                "LOCAL_AUTH=disabled needs an external issuer: set EXTERNAL_ISSUER and \
                 EXTERNAL_JWKS_URL (or EXTERNAL_JWT_SECRET), or nobody can sign in"
            );
        }
        Ok(ExternalSettings { local_auth, issuer })
    }
}

/// Without `EXTERNAL_ISSUER`, no other `EXTERNAL_*` variable may be set (to anything
/// but its default).
fn orphans(env: &Lookup) -> anyhow::Result<()> {
    for s in ExternalSettings::VARIABLES.iter().skip(2) {
        if env.value(s.name).is_some_and(|v| v.trim() != s.default) {
            bail!(
                "{} is set but EXTERNAL_ISSUER is not: set EXTERNAL_ISSUER to the exact iss \
                 of the external tokens, or unset {}",
                s.name,
                s.name
            );
        }
    }
    Ok(())
}

/// The issuer's settings, once `EXTERNAL_ISSUER` is known to be set.
fn issuer(env: &Lookup, issuer: String, production: bool) -> anyhow::Result<ExternalIssuer> {
    let seconds = |name: &str, min: u64, max: u64| -> anyhow::Result<u64> {
        let n: u64 = env.parse(name)?;
        if !(min..=max).contains(&n) {
            bail!("{name}={n} is out of range: use {min}..={max}");
        }
        Ok(n)
    };
    let keys = match (
        env.value("EXTERNAL_JWKS_URL"),
        env.value("EXTERNAL_JWT_SECRET"),
    ) {
        (Some(url), None) => jwks_source(env, url.trim(), production)?,
        (None, Some(secret)) => secret_source(env, secret, production)?,
        (Some(_), Some(_)) => bail!(
            "EXTERNAL_JWKS_URL and EXTERNAL_JWT_SECRET are both set: use one (the JWKS, unless \
             the issuer only signs with a shared HS256 secret)"
        ),
        (None, None) => bail!(
            "EXTERNAL_ISSUER is set but neither EXTERNAL_JWKS_URL nor EXTERNAL_JWT_SECRET: \
             set EXTERNAL_JWKS_URL (Better Auth: <baseURL>/api/auth/jwks)"
        ),
    };
    Ok(ExternalIssuer {
        issuer,
        audience: env.value("EXTERNAL_AUDIENCE").map(|a| a.trim().to_owned()),
        keys,
        clock_skew_secs: seconds("EXTERNAL_CLOCK_SKEW_SECONDS", 0, 300)?,
        refetch_interval: Duration::from_secs(seconds("EXTERNAL_JWKS_REFETCH_SECONDS", 1, 86_400)?),
        cache_max_age: Duration::from_secs(seconds("EXTERNAL_JWKS_CACHE_SECONDS", 1, 604_800)?),
    })
}

fn jwks_source(env: &Lookup, url: &str, production: bool) -> anyhow::Result<KeySource> {
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
        bail!("EXTERNAL_JWKS_URL={url:?} must be an http:// or https:// URL");
    }
    // Whoever can change the keys on the way can sign tokens as any user.
    if production && url.starts_with("http://") && !loopback(url) {
        bail!(
            "EXTERNAL_JWKS_URL={url:?} is plain HTTP in production: anyone on the path could \
             swap the keys; use https:// (plain HTTP is accepted only to a loopback address)"
        );
    }
    Ok(KeySource::Jwks {
        url: url.to_owned(),
        algorithms: algorithms(&env.text("EXTERNAL_ALGORITHMS"))?,
    })
}

/// Whether `url`'s host is this machine (`localhost`, 127.0.0.0/8, `::1`).
fn loopback(url: &str) -> bool {
    let Some(host) = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
    else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

fn secret_source(env: &Lookup, secret: String, production: bool) -> anyhow::Result<KeySource> {
    if let Some(algs) = env.value("EXTERNAL_ALGORITHMS") {
        if !algs.trim().eq_ignore_ascii_case("HS256") {
            bail!(
                "EXTERNAL_ALGORITHMS={algs:?} with EXTERNAL_JWT_SECRET: a shared secret only \
                 verifies HS256; unset EXTERNAL_ALGORITHMS (or use EXTERNAL_JWKS_URL)"
            );
        }
    }
    if let Some(w) = secret_weakness(secret.as_bytes()).filter(|_| production) {
        bail!("EXTERNAL_JWT_SECRET is too weak for production: {w}");
    }
    Ok(KeySource::Secret(Secret::new(secret.into_bytes())))
}

/// `EXTERNAL_ALGORITHMS`: asymmetric algorithms only (no `none`, no HS*, no mix).
pub fn algorithms(text: &str) -> anyhow::Result<Vec<Algorithm>> {
    let mut out = Vec::new();
    for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if name.eq_ignore_ascii_case("none") {
            bail!("EXTERNAL_ALGORITHMS lists `none`: unsigned tokens are never accepted");
        }
        if name.to_ascii_uppercase().starts_with("HS") {
            bail!(
                "EXTERNAL_ALGORITHMS lists {name}: HMAC algorithms cannot be verified with a \
                 JWKS of public keys (key confusion); use EXTERNAL_JWT_SECRET for a shared secret"
            );
        }
        let alg = ASYMMETRIC
            .iter()
            .find(|a| format!("{a:?}") == name)
            .ok_or_else(|| {
                anyhow!(
                    "EXTERNAL_ALGORITHMS: {name:?} is not supported: use some of EdDSA, ES256, \
                     ES384, RS256, RS384, RS512, PS256, PS384, PS512"
                )
            })?;
        if !out.contains(alg) {
            out.push(*alg);
        }
    }
    if out.is_empty() {
        bail!("EXTERNAL_ALGORITHMS is empty: use e.g. {DEFAULT_ALGORITHMS}");
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
