//! PostgreSQL through tokio-postgres: connection strings with passwords and TLS
//! (`config.rs`), ingest's store (`store.rs`), the CDC stage's replication slot
//! (`replication.rs`) and `pgoutput` decoder (`pgoutput.rs`), and a table read whole for
//! `rtds check` (`table.rs`).

use super::ServiceError;

/// Connects with a URL or `key=value` string (see [`PgConfig`]) and drives the connection on
/// the current tokio runtime.
///
/// ```no_run
/// # async fn demo() -> Result<(), rtds::connectors::ServiceError> {
/// let client = rtds::connectors::postgres::connect("postgres://postgres@127.0.0.1:5432/rtds").await?;
/// let row = client.query_one("select 1::int4", &[]).await.unwrap();
/// assert_eq!(row.get::<_, i32>(0), 1);
/// # Ok(()) }
/// ```
pub async fn connect(url: &str) -> Result<tokio_postgres::Client, ServiceError> {
    PgConfig::parse(url)?.connect().await
}

/// The connection string without its password, for messages; one that cannot be read is not
/// shown at all.
pub fn redact(url: &str) -> String {
    PgConfig::parse(url).map_or_else(|_| "(a connection string that cannot be read)".to_string(), |c| c.redacted())
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

mod config;
pub mod pgoutput;
pub mod replication;
mod store;
mod table;

pub use config::{PgConfig, TlsMode};
pub use replication::{SlotState, default_slot};
pub use store::{Batch, SCHEMA, Stored, UserStore, rejected_id};
pub use table::{check_table_name, read_table};
