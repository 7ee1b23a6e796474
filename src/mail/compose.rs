//! The messages the service sends, from the templates in `templates/mail/` (plain text
//! and HTML, compiled in): `{{link}}` and `{{lifetime}}` are filled in.

use uuid::Uuid;

use super::{MailSettings, NewMail};

const RESET_TEXT: &str = include_str!("../../templates/mail/password_reset.txt");
const RESET_HTML: &str = include_str!("../../templates/mail/password_reset.html");
const VERIFY_TEXT: &str = include_str!("../../templates/mail/verify_email.txt");
const VERIFY_HTML: &str = include_str!("../../templates/mail/verify_email.html");

/// The kinds of message, as the outbox and the metrics name them.
pub const PASSWORD_RESET: &str = "password_reset";
pub const VERIFY_EMAIL: &str = "verify_email";

/// `text` with characters that mean something in HTML escaped.
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn fill(template: &str, link: &str, lifetime: &str) -> String {
    template
        .replace("{{link}}", link)
        .replace("{{lifetime}}", lifetime)
}

/// `minutes` as text: whole hours when it is a multiple of 60.
fn lifetime(minutes: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if minutes % 60 == 0 {
        plural(minutes / 60, "hour")
    } else {
        plural(minutes, "minute")
    }
}

struct Template {
    kind: &'static str,
    subject: &'static str,
    path: &'static str,
    text: &'static str,
    html: &'static str,
}

fn compose(t: &Template, s: &MailSettings, user_id: Uuid, to: &str, token: &str) -> NewMail {
    let link = format!("{}{}?token={token}", s.app_url, t.path);
    let minutes = match t.kind {
        PASSWORD_RESET => s.reset_ttl.num_minutes(),
        _ => s.verify_ttl.num_minutes(),
    };
    let lifetime = lifetime(minutes);
    NewMail {
        id: Uuid::now_v7(),
        user_id,
        kind: t.kind,
        recipient: to.to_owned(),
        subject: t.subject.to_owned(),
        text: fill(t.text, &link, &lifetime),
        html: fill(t.html, &html_escape(&link), &lifetime),
    }
}

/// The password-reset message: a link to `{APP_URL}/reset-password?token=…`.
pub fn password_reset(s: &MailSettings, user_id: Uuid, to: &str, token: &str) -> NewMail {
    let t = Template {
        kind: PASSWORD_RESET,
        subject: "Reset your password",
        path: "/reset-password",
        text: RESET_TEXT,
        html: RESET_HTML,
    };
    compose(&t, s, user_id, to, token)
}

/// The verification message: a link to `{APP_URL}/verify-email?token=…`.
pub fn verify_email(s: &MailSettings, user_id: Uuid, to: &str, token: &str) -> NewMail {
    let t = Template {
        kind: VERIFY_EMAIL,
        subject: "Verify your email address",
        path: "/verify-email",
        text: VERIFY_TEXT,
        html: VERIFY_HTML,
    };
    compose(&t, s, user_id, to, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_lifetimes_are_filled_in() {
        let s = MailSettings {
            app_url: "https://app.example.com".into(),
            ..MailSettings::default()
        };
        let m = password_reset(&s, Uuid::nil(), "a@b.co", "tok-en_1");
        let link = "https://app.example.com/reset-password?token=tok-en_1";
        assert!(
            m.text.contains(link) && m.text.contains("30 minutes"),
            "{}",
            m.text
        );
        assert!(m.html.contains(&format!("href=\"{link}\"")), "{}", m.html);
        assert!(!m.text.contains("{{") && !m.html.contains("{{"));
        let v = verify_email(&s, Uuid::nil(), "a@b.co", "t");
        assert!(v.text.contains("/verify-email?token=t") && v.text.contains("24 hours"));
        assert_eq!(html_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
        assert_eq!(lifetime(1), "1 minute");
    }
}
