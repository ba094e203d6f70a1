//! The services rtds talks to, one folder each with its sources, sinks and their tests, and
//! local files.
//!
//! - [`kafka`]: the source the cluster's workers read (`source/`), the dead-letter sink
//!   (`dlq.rs`), the CDC stage's transactional producer (`transactions.rs`);
//! - [`cassandra`]: the rows and aggregates sinks (`sink.rs`), the tables and their prepared
//!   statements (`tables.rs`), the durable offsets (`offsets.rs`) and the dedupe state read
//!   back after a restart (`state.rs`);
//! - [`postgres`]: ingest's store and the CDC stage's replication slot and `pgoutput` decoder;
//! - [`registry`]: the Schema Registry, the Avro schema of `created_users` and its wire format;
//! - [`retry`]: the one retry policy every write goes through.
//!
//! Connectors depend on the model and on [`crate::operators`], never on the engine: the
//! engine builds its dataflow from them. Addresses come from flags or the environment
//! variables `RTDS_KAFKA`, `RTDS_POSTGRES` and `RTDS_CASSANDRA`, with loopback defaults (see
//! [`defaults`]). A service that cannot be reached is a [`ServiceError::Unreachable`] naming
//! it, its address and how to start it.

use futures::future::BoxFuture;

use crate::model::Rejected;

pub mod cassandra;
mod jsonl;
pub mod kafka;
pub mod postgres;
pub mod registry;
pub mod retry;

pub use jsonl::JsonlSink;

/// Loopback defaults, the addresses `scripts/stack up` serves.
pub mod defaults {
    /// Kafka bootstrap servers.
    pub const KAFKA: &str = "127.0.0.1:9092";
    /// PostgreSQL connection URL.
    pub const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/rtds";
    /// Cassandra contact points.
    pub const CASSANDRA: &str = "127.0.0.1:9042";
}

/// Where a source partition is durable: the next offset to read, and how many records came
/// before it. They differ on a topic written in transactions: each commit marker takes an
/// offset. The source reports these for durable epochs; the offsets table keeps them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Durable {
    pub next_offset: i64,
    pub records: i64,
}

/// Where records that cannot be written go, each with the reason: the dead-letter topic in a
/// cluster. A sink delivers its dead letters before it lets its epoch close, and `deliver`
/// returns only once they are acknowledged (it retries for as long as that takes).
pub trait DeadLetters: Send + Sync {
    /// Delivers `dead`, all from `source` (such as `users_created/3@1200`).
    fn deliver<'a>(&'a self, dead: &'a [Rejected], source: &'a str) -> BoxFuture<'a, ()>;
}

/// A service failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Nothing answered at the address.
    #[error("{service} is not reachable at {address}: {reason} (start it with `scripts/stack up`, or set {env})")]
    Unreachable { service: &'static str, address: String, env: &'static str, reason: String },
    /// The service answered with an error that may pass (a timeout, an overloaded node).
    #[error("{service}: {message}")]
    Failed { service: &'static str, message: String },
    /// The service refused the request itself: sending it again cannot succeed.
    #[error("{service} refused it: {message}")]
    Refused { service: &'static str, message: String },
}

impl ServiceError {
    /// Whether the same request may succeed later (retry it), or never will (dead-letter
    /// what it carried).
    pub fn is_transient(&self) -> bool {
        !matches!(self, ServiceError::Refused { .. })
    }

    /// A Cassandra request error, classed: the request at fault (invalid, a batch too large,
    /// a value that cannot be serialized) is permanent; a node away, overloaded or slow, and
    /// connections lost, are transient.
    pub(crate) fn cassandra_request(error: scylla::errors::ExecutionError) -> ServiceError {
        use scylla::errors::{DbError, ExecutionError, RequestAttemptError};
        let permanent = match &error {
            ExecutionError::BadQuery(_) => true,
            ExecutionError::LastAttemptError(attempt) => match attempt {
                RequestAttemptError::SerializationError(_) | RequestAttemptError::CqlRequestSerialization(_) => true,
                RequestAttemptError::DbError(db, _) => matches!(
                    db,
                    DbError::Invalid | DbError::SyntaxError | DbError::FunctionFailure { .. } | DbError::AlreadyExists { .. }
                ),
                _ => false,
            },
            _ => false,
        };
        if permanent {
            ServiceError::Refused { service: "Cassandra", message: error.to_string() }
        } else {
            ServiceError::cassandra(error)
        }
    }

    pub(crate) fn kafka(message: impl std::fmt::Display) -> ServiceError {
        ServiceError::Failed { service: "Kafka", message: message.to_string() }
    }
    pub(crate) fn cassandra(message: impl std::fmt::Display) -> ServiceError {
        ServiceError::Failed { service: "Cassandra", message: message.to_string() }
    }
    pub(crate) fn postgres(message: impl std::fmt::Display) -> ServiceError {
        ServiceError::Failed { service: "PostgreSQL", message: message.to_string() }
    }
}
