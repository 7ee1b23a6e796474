//! `StoreError`: what a database call can fail with, classified for the API and the breaker.

/// Failures of the storage layer; the services turn them into API errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint rejected the write.
    #[error("unique constraint violated")]
    UniqueViolation,
    /// The database cannot be reached or did not answer in time: connection refused
    /// or reset, pool timeout, TLS, the server refusing connections, a statement or
    /// lock-wait timeout, a call past its deadline, or the circuit breaker open.
    /// The API answers 503 `SERVER_001` with `Retry-After`.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// Anything else (a bug or a corrupt row).
    #[error("database error: {0}")]
    Other(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::UniqueViolation,
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e),
            sqlx::Error::Database(db) if transient_database_error(db.as_ref()).is_some() => {
                StoreError::Unavailable(e)
            }
            _ => StoreError::Other(e),
        }
    }
}

/// Why a database-reported error is temporary, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transient {
    /// The server cannot serve this connection (shutting down, starting, connection
    /// limit, connection exception): counts towards the circuit breaker.
    Connection,
    /// A statement hit `statement_timeout` (Postgres) or the lock wait gave up
    /// (SQLite `BUSY`/`LOCKED`): the database is there, but slow.
    Timeout,
}

fn transient_database_error(db: &dyn sqlx::error::DatabaseError) -> Option<Transient> {
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        let code = pg.code();
        return match code {
            // query_canceled: statement_timeout fired.
            "57014" => Some(Transient::Timeout),
            // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections.
            "57P01" | "57P02" | "57P03" | "53300" => Some(Transient::Connection),
            // Class 08: connection exception.
            c if c.starts_with("08") => Some(Transient::Connection),
            _ => None,
        };
    }
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // Primary result codes SQLITE_BUSY (5) and SQLITE_LOCKED (6), also as extended codes.
        let primary = db.code()?.parse::<i32>().ok()? & 0xff;
        return matches!(primary, 5 | 6).then_some(Transient::Timeout);
    }
    None
}

impl StoreError {
    /// Whether this failure says the database could not be reached (connection refused
    /// or reset, pool timeout, TLS failure, the server refusing connections, a call
    /// that ran past its deadline): what the circuit breaker counts.
    pub fn is_connection_failure(&self) -> bool {
        let StoreError::Unavailable(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::Database(db) => {
                transient_database_error(db.as_ref()) == Some(Transient::Connection)
            }
            _ => true,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_class_errors_count_for_the_breaker() {
        let unavailable = |e| StoreError::from(e);
        assert!(unavailable(sqlx::Error::PoolTimedOut).is_connection_failure());
        assert!(
            unavailable(sqlx::Error::Io(std::io::Error::other("reset"))).is_connection_failure()
        );
        assert!(!unavailable(sqlx::Error::RowNotFound).is_connection_failure());
        assert!(!StoreError::UniqueViolation.is_connection_failure());
    }
}
