//! Outgoing mail: the outbox (rows written in the same transaction as what causes a
//! message), its SQL (`store.rs`), the messages' templates (`compose.rs`), the
//! transports (SMTP, `.eml` files: `transport.rs`) and the worker that delivers the
//! outbox with retries (`worker.rs`).

pub mod compose;
pub mod settings;
pub mod store;
pub mod transport;
pub mod worker;

use uuid::Uuid;

pub use settings::MailSettings;

/// A message to queue, as the outbox stores it until it is delivered.
#[derive(Clone)]
pub struct NewMail {
    pub id: Uuid,
    /// The account it is about (its pending messages go with the account).
    pub user_id: Uuid,
    /// `password_reset` or `verify_email`: for logs and metrics, never the content.
    pub kind: &'static str,
    pub recipient: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The bodies carry one-time tokens: never shown.
impl std::fmt::Debug for NewMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMail")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}
