//! PostgreSQL through tokio-postgres.

use super::ServiceError;

/// Connects and drives the connection on the current tokio runtime.
///
/// ```no_run
/// # async fn demo() -> Result<(), rtds::connectors::ServiceError> {
/// let client = rtds::connectors::postgres::connect("postgres://postgres@127.0.0.1:5432/rtds").await?;
/// let row = client.query_one("select 1::int4", &[]).await.unwrap();
/// assert_eq!(row.get::<_, i32>(0), 1);
/// # Ok(()) }
/// ```
pub async fn connect(url: &str) -> Result<tokio_postgres::Client, ServiceError> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.map_err(|e| {
        ServiceError::Unreachable {
            service: "PostgreSQL",
            address: redact(url),
            env: "RTDS_POSTGRES",
            reason: error_text(&e),
        }
    })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "PostgreSQL connection closed");
        }
    });
    Ok(client)
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// tokio-postgres's error with its cause ("Connection refused").
pub(crate) fn error_text(error: &tokio_postgres::Error) -> String {
    match std::error::Error::source(error) {
        Some(cause) => format!("{error}: {cause}"),
        None => error.to_string(),
    }
}

impl From<tokio_postgres::Error> for ServiceError {
    fn from(error: tokio_postgres::Error) -> ServiceError {
        ServiceError::postgres(error_text(&error))
    }
}

pub mod pgoutput;
pub mod replication;
mod store;

pub use replication::{SlotState, default_slot};
pub use store::{Batch, SCHEMA, Stored, UserStore, rejected_id};
