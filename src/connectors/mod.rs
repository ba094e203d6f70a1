//! The services rtds talks to, one folder each, and local files.
//!
//! Addresses come from flags or the environment variables `RTDS_KAFKA`, `RTDS_POSTGRES` and
//! `RTDS_CASSANDRA`, with loopback defaults (see [`defaults`]). A service that cannot be
//! reached is a [`ServiceError::Unreachable`] naming it, its address and how to start it.

pub mod cassandra;
mod jsonl;
pub mod kafka;
pub mod postgres;
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
