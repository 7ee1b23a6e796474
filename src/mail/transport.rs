//! Where messages go: an SMTP server (`SMTP_URL`, through lettre: STARTTLS when
//! offered, or implicit TLS), or `.eml` files in a directory (`MAIL_OUTBOX_DIR`, for
//! development without SMTP).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::store::OutboxRecord;
use super::MailSettings;

/// Longest one delivery may take (lettre's own timeout only bounds the connect).
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a delivery failed: worth a retry, or not.
#[derive(Debug)]
pub enum SendError {
    /// The server is unreachable, slow, or said "try later" (4xx).
    Transient(String),
    /// The message can never be delivered (5xx, an invalid address).
    Permanent(String),
}

/// A configured way of delivering messages.
pub enum Transport {
    Smtp {
        mailer: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    Files {
        dir: PathBuf,
        from: Mailbox,
    },
}

impl Transport {
    /// The transport the settings name: SMTP when `SMTP_URL` is set, else the outbox
    /// directory when set (created if missing), else none (messages wait in the outbox).
    pub fn from_settings(s: &MailSettings) -> anyhow::Result<Option<Transport>> {
        let from: Mailbox = s.from.parse().context("MAIL_FROM is not a mailbox")?;
        if let Some(url) = s.lettre_url() {
            let mailer = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
                .map_err(|e| anyhow::anyhow!("SMTP_URL is not usable: {e}"))?
                .timeout(Some(SEND_TIMEOUT))
                .build();
            return Ok(Some(Transport::Smtp { mailer, from }));
        }
        let Some(dir) = &s.outbox_dir else {
            return Ok(None);
        };
        std::fs::create_dir_all(dir)
            .with_context(|| format!("MAIL_OUTBOX_DIR={} cannot be created", dir.display()))?;
        Ok(Some(Transport::Files {
            dir: dir.clone(),
            from,
        }))
    }

    fn from(&self) -> &Mailbox {
        match self {
            Transport::Smtp { from, .. } | Transport::Files { from, .. } => from,
        }
    }

    /// Delivers one claimed message; `Ok` only once the server accepted it (or the file
    /// is complete).
    pub async fn send(&self, m: &OutboxRecord) -> Result<(), SendError> {
        let message = self.message(m)?;
        match self {
            Transport::Smtp { mailer, .. } => {
                match tokio::time::timeout(SEND_TIMEOUT, mailer.send(message)).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
                    Ok(Err(e)) => Err(SendError::Transient(e.to_string())),
                    Err(_) => Err(SendError::Transient(
                        "the SMTP server did not answer in time".into(),
                    )),
                }
            }
            Transport::Files { dir, .. } => write_eml(dir, m, &message.formatted())
                .await
                .map_err(|e| SendError::Transient(format!("writing the .eml file: {e}"))),
        }
    }

    fn message(&self, m: &OutboxRecord) -> Result<Message, SendError> {
        let to: Mailbox = m
            .recipient
            .parse()
            .map_err(|e| SendError::Permanent(format!("recipient is not a mailbox: {e}")))?;
        Message::builder()
            .from(self.from().clone())
            .to(to)
            .subject(m.subject.clone())
            .message_id(None)
            .multipart(MultiPart::alternative_plain_html(
                m.body_text.clone(),
                m.body_html.clone(),
            ))
            .map_err(|e| SendError::Permanent(format!("the message cannot be built: {e}")))
    }
}

/// Writes `<id>.eml` whole or not at all (a temporary file, then a rename).
async fn write_eml(dir: &std::path::Path, m: &OutboxRecord, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{}.eml.tmp", m.id));
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, dir.join(format!("{}.eml", m.id))).await
}
