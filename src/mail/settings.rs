//! `MailSettings`: where mail goes (`SMTP_URL`, `MAIL_OUTBOX_DIR`), what it says
//! (`MAIL_FROM`, `APP_URL`), the one-time tokens' lifetimes, and whether logins need a
//! verified address (`REQUIRE_VERIFIED_EMAIL`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail};

use crate::config::{Lookup, Setting};

/// The mail flows' settings (password reset, email verification).
#[derive(Clone)]
pub struct MailSettings {
    /// `MAIL_ENABLED` (default true): false switches both mail flows off.
    pub enabled: bool,
    /// `SMTP_URL`: `smtp://[user:pass@]host[:port]` (STARTTLS when offered, port 587 by
    /// default; `?tls=required` insists) or `smtps://…` (implicit TLS, 465).
    pub smtp_url: Option<String>,
    /// `MAIL_OUTBOX_DIR`: without `SMTP_URL`, messages are written there as `.eml` files.
    pub outbox_dir: Option<PathBuf>,
    /// `MAIL_FROM`: the sender (`Name <address>` or an address).
    pub from: String,
    /// `APP_URL`: the frontend the links point at (no trailing slash).
    pub app_url: String,
    /// `REQUIRE_VERIFIED_EMAIL`: login and token refuse unverified addresses (AUTHZ_002).
    pub require_verified_email: bool,
    /// `PASSWORD_RESET_TTL_MINUTES` (30) and `EMAIL_VERIFY_TTL_HOURS` (24).
    pub reset_ttl: chrono::Duration,
    pub verify_ttl: chrono::Duration,
    /// `MAIL_RETRY_BASE_SECONDS` (30): the first retry's delay, doubled each time.
    pub retry_base: Duration,
}

/// The SMTP password is never shown.
impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("enabled", &self.enabled)
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "<set>"))
            .field("outbox_dir", &self.outbox_dir)
            .field("from", &self.from)
            .field("app_url", &self.app_url)
            .field("require_verified_email", &self.require_verified_email)
            .finish_non_exhaustive()
    }
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings::from_lookup(|_| None, false).expect("the defaults are valid")
    }
}

const fn set(name: &'static str, default: &'static str, help: &'static str) -> Setting {
    Setting {
        name,
        default,
        help,
    }
}

impl MailSettings {
    /// The mail variables: name, default, help (`--help`, README, parsing).
    pub const VARIABLES: &'static [Setting] = &[
        set("MAIL_ENABLED", "true", "false switches the mail flows (password reset, email verification) off; production needs SMTP_URL otherwise"),
        set("SMTP_URL", "", "smtp://[user:pass@]host[:port] (STARTTLS when offered; ?tls=required insists; port 587) or smtps://... (implicit TLS, 465); unset: no SMTP"),
        set("MAIL_OUTBOX_DIR", "", "development without SMTP_URL: write each message there as an .eml file (unset: messages wait in the outbox)"),
        set("MAIL_FROM", "Todo API <no-reply@localhost>", "sender of the service's mail"),
        set("APP_URL", "http://localhost:3000", "the frontend that mail links point at ({APP_URL}/reset-password?token=..., /verify-email?token=...); required in production"),
        set("REQUIRE_VERIFIED_EMAIL", "false", "true: login and token refuse accounts whose email is not verified (403 AUTHZ_002)"),
        set("PASSWORD_RESET_TTL_MINUTES", "30", "lifetime of a password-reset link, in minutes"),
        set("EMAIL_VERIFY_TTL_HOURS", "24", "lifetime of an email-verification link, in hours"),
        set("MAIL_RETRY_BASE_SECONDS", "30", "delay before the first retry of a failed delivery, doubled for each further one (at most 1 h, 10 attempts)"),
    ];

    /// Reads the mail variables through `get`; `production` insists on SMTP and APP_URL
    /// while the mail flows are on.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        production: bool,
    ) -> anyhow::Result<Self> {
        let env = Lookup::new(&get, Self::VARIABLES);
        let positive = |name: &str| -> anyhow::Result<i64> {
            let n: i64 = env.parse(name)?;
            if n <= 0 {
                bail!("{name} must be positive");
            }
            Ok(n)
        };
        let settings = MailSettings {
            enabled: env.parse("MAIL_ENABLED")?,
            smtp_url: env.value("SMTP_URL").map(|u| u.trim().to_owned()),
            outbox_dir: env.value("MAIL_OUTBOX_DIR").map(PathBuf::from),
            from: env.text("MAIL_FROM").trim().to_owned(),
            app_url: env.text("APP_URL").trim().trim_end_matches('/').to_owned(),
            require_verified_email: env.parse("REQUIRE_VERIFIED_EMAIL")?,
            reset_ttl: chrono::Duration::minutes(positive("PASSWORD_RESET_TTL_MINUTES")?),
            verify_ttl: chrono::Duration::hours(positive("EMAIL_VERIFY_TTL_HOURS")?),
            retry_base: Duration::from_secs(positive("MAIL_RETRY_BASE_SECONDS")?.unsigned_abs()),
        };
        settings.validate(production, env.value("APP_URL").is_some())?;
        Ok(settings)
    }

    /// Checks across the variables.
    fn validate(&self, production: bool, app_url_set: bool) -> anyhow::Result<()> {
        if self.require_verified_email && !self.enabled {
            bail!("REQUIRE_VERIFIED_EMAIL=true needs the mail flows: unset MAIL_ENABLED=false");
        }
        if let Some(url) = &self.smtp_url {
            check_smtp_url(url)?;
        }
        self.from.parse::<lettre::message::Mailbox>().map_err(|e| {
            anyhow!(
                "MAIL_FROM={:?} is not a mailbox ({e}); use e.g. Todo <no-reply@example.com>",
                self.from
            )
        })?;
        if !(self.app_url.starts_with("http://") || self.app_url.starts_with("https://")) {
            bail!(
                "APP_URL={:?} must start with http:// or https://",
                self.app_url
            );
        }
        if production && self.enabled && self.smtp_url.is_none() {
            bail!(
                "SMTP_URL is not set: production sends password-reset and verification mail over \
                 SMTP; set SMTP_URL=smtp://USER:PASS@HOST:587 (or smtps://...:465), or \
                 MAIL_ENABLED=false to switch the mail flows off"
            );
        }
        if production && self.enabled && !app_url_set {
            bail!("APP_URL is not set: production mail links need the frontend's address, e.g. APP_URL=https://todo.example.com");
        }
        Ok(())
    }

    /// The SMTP URL lettre is given: STARTTLS when the server offers it unless the URL
    /// says otherwise (`?tls=required`), implicit TLS for `smtps://`.
    pub fn lettre_url(&self) -> Option<String> {
        let url = self.smtp_url.as_ref()?;
        if url.starts_with("smtp://") && !url.contains("tls=") {
            let sep = if url.contains('?') { '&' } else { '?' };
            return Some(format!("{url}{sep}tls=opportunistic"));
        }
        Some(url.clone())
    }
}

/// An `SMTP_URL` must be `smtp://` or `smtps://` with a host; errors never show it
/// whole (it may hold a password).
fn check_smtp_url(url: &str) -> anyhow::Result<()> {
    let scheme_ok = url.starts_with("smtp://") || url.starts_with("smtps://");
    let host = url
        .split_once("://")
        .map(|(_, rest)| rest.rsplit_once('@').map_or(rest, |(_, h)| h))
        .unwrap_or("");
    if !scheme_ok || host.is_empty() || host.starts_with([':', '/', '?']) {
        bail!("SMTP_URL must look like smtp://[USER:PASS@]HOST[:PORT] or smtps://...");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)], production: bool) -> anyhow::Result<MailSettings> {
        let map: std::collections::HashMap<_, _> = vars.iter().copied().collect();
        MailSettings::from_lookup(|k| map.get(k).map(|v| v.to_string()), production)
    }

    #[test]
    fn production_needs_smtp_unless_mail_is_off() {
        let e = format!("{:#}", read(&[], true).unwrap_err());
        assert!(
            e.contains("SMTP_URL is not set") && e.contains("MAIL_ENABLED=false"),
            "{e}"
        );
        read(&[("MAIL_ENABLED", "false")], true).unwrap();
        let with_smtp = [
            ("SMTP_URL", "smtp://u:secret@mail:587"),
            ("APP_URL", "https://a.b"),
        ];
        let s = read(&with_smtp, true).unwrap();
        assert!(
            !format!("{s:?}").contains("secret"),
            "Debug hides the password"
        );
        let e = format!("{:#}", read(&with_smtp[..1], true).unwrap_err());
        assert!(e.contains("APP_URL is not set"), "{e}");
        read(&[], false).expect("development needs no SMTP");
    }

    #[test]
    fn urls_and_values_are_checked() {
        let e = format!(
            "{:#}",
            read(&[("SMTP_URL", "http://u:pw@x")], false).unwrap_err()
        );
        assert!(e.contains("SMTP_URL must") && !e.contains("pw"), "{e}");
        assert!(read(&[("APP_URL", "ftp://x")], false).is_err());
        assert!(read(&[("MAIL_FROM", "not a mailbox")], false).is_err());
        assert!(read(&[("PASSWORD_RESET_TTL_MINUTES", "0")], false).is_err());
        let off = [
            ("REQUIRE_VERIFIED_EMAIL", "true"),
            ("MAIL_ENABLED", "false"),
        ];
        assert!(read(&off, false).is_err());
        let s = read(
            &[("SMTP_URL", "smtp://h:25"), ("APP_URL", "http://x/")],
            false,
        )
        .unwrap();
        assert_eq!(s.lettre_url().unwrap(), "smtp://h:25?tls=opportunistic");
        assert_eq!(s.app_url, "http://x");
        let s = read(&[("SMTP_URL", "smtps://h")], false).unwrap();
        assert_eq!(s.lettre_url().unwrap(), "smtps://h");
    }
}
