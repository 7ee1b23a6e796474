//! The span of a database call, after OpenTelemetry's database semantic conventions
//! (names from `opentelemetry-semantic-conventions`): a CLIENT span named after the
//! store operation, with `db.system.name` (`postgresql` or `sqlite`),
//! `db.operation.name` (the store operation), `db.namespace` (the database name; the
//! file name on SQLite), `server.address`/`server.port` (PostgreSQL), and for a
//! failed call `error.type`, `db.response.status_code` (the SQLSTATE of a database
//! error) and the span status Error.

use opentelemetry::trace::Status;
use opentelemetry_semantic_conventions::attribute as semconv;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{Backend, Pool, StoreError};

/// Where the calls go: what every database span says about its target.
#[derive(Debug, Clone)]
pub struct DbTarget {
    system: &'static str,
    namespace: Option<String>,
    server: Option<(String, u16)>,
}

impl DbTarget {
    /// A target of `backend` with nothing else known (tests, tools).
    pub fn of(backend: Backend) -> Self {
        let system = match backend {
            Backend::Postgres => "postgresql",
            Backend::Sqlite => "sqlite",
        };
        DbTarget {
            system,
            namespace: None,
            server: None,
        }
    }
}

impl Pool {
    /// The target of this pool's calls (from its connect options; no credentials).
    pub fn target(&self) -> DbTarget {
        let mut target = DbTarget::of(self.backend());
        match self {
            Pool::Postgres(p) => {
                let opts = p.connect_options();
                target.namespace = opts.get_database().map(str::to_owned);
                target.server = Some((opts.get_host().to_owned(), opts.get_port()));
            }
            Pool::Sqlite(p) => {
                let opts = p.connect_options();
                target.namespace = opts
                    .get_filename()
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned());
            }
        }
        target
    }
}

/// The span of one call of `operation` to `target` (a child of the current span).
pub fn db_span(target: &DbTarget, operation: &'static str) -> tracing::Span {
    let span = tracing::info_span!("db", otel.name = operation, otel.kind = "client");
    span.set_attribute(semconv::DB_SYSTEM_NAME, target.system);
    span.set_attribute(semconv::DB_OPERATION_NAME, operation);
    if let Some(ns) = &target.namespace {
        span.set_attribute(semconv::DB_NAMESPACE, ns.clone());
    }
    if let Some((host, port)) = &target.server {
        span.set_attribute(semconv::SERVER_ADDRESS, host.clone());
        span.set_attribute(semconv::SERVER_PORT, i64::from(*port));
    }
    span
}

/// Records a failed call on its span: `error.type` (`unique_violation`,
/// `unavailable`, `timeout` or the sqlx error class), the SQLSTATE if the database
/// answered with one, and status Error.
pub fn record_failure(span: &tracing::Span, error: &StoreError) {
    let (kind, cause) = match error {
        StoreError::UniqueViolation => ("unique_violation", None),
        StoreError::Unavailable(sqlx::Error::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
            ("timeout", None)
        }
        StoreError::Unavailable(e) => ("unavailable", Some(e)),
        StoreError::Other(e) => ("database_error", Some(e)),
    };
    span.set_attribute(semconv::ERROR_TYPE, kind);
    if let Some(sqlx::Error::Database(db)) = cause {
        if let Some(code) = db.code() {
            span.set_attribute(semconv::DB_RESPONSE_STATUS_CODE, code.into_owned());
        }
    }
    span.set_status(Status::error(kind));
}
