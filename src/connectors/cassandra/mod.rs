//! Cassandra through the scylla driver.

use std::time::Duration;

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;

use super::ServiceError;

/// Connects to the comma-separated contact points (`127.0.0.1:9042`).
///
/// ```no_run
/// # async fn demo() -> Result<(), rtds::connectors::ServiceError> {
/// let session = rtds::connectors::cassandra::connect("127.0.0.1:9042").await?;
/// # Ok(()) }
/// ```
pub async fn connect(nodes: &str) -> Result<Session, ServiceError> {
    let mut builder = SessionBuilder::new().connection_timeout(Duration::from_secs(5));
    for node in nodes.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        builder = builder.known_node(node);
    }
    builder.build().await.map_err(|e| ServiceError::Unreachable {
        service: "Cassandra",
        address: nodes.to_string(),
        env: "RTDS_CASSANDRA",
        reason: e.to_string(),
    })
}

mod ring;
mod sink;
mod split;
mod warnings;

pub use ring::{TokenRanges, token_share};
pub use sink::{CassandraSink, Durable, StoredUser, check_identifier, dimension_column, row_size};
pub use split::{batches, write_splitting};
pub use warnings::{DatabaseWarnings, warning_kind};
