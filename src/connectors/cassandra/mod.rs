//! Cassandra through the scylla driver: the sinks of the cluster (`sink.rs`: rows and
//! views), the tables and their prepared statements (`tables.rs`, and `views.rs` for the
//! views' tables), the durable offsets
//! (`offsets.rs`), the dedupe state read back after a restart (`state.rs`), and what the
//! sinks need to batch well: token ranges of the ring (`ring.rs`), batches bounded by rows
//! and bytes and split when refused (`split.rs`), and Cassandra's warnings counted
//! (`warnings.rs`). How to reach it (credentials, TLS) and how a keyspace is replicated:
//! `config.rs`.

mod config;
mod offsets;
mod ring;
mod sink;
mod split;
mod state;
mod tables;
mod views;
mod warnings;

pub use config::{CassandraConfig, Replication, connect};
pub use offsets::{OFFSETS_EVERY, durable_points, spawn_offsets_writer};
pub use ring::{TokenRanges, token_share};
pub use sink::{CassandraRows, CassandraSinkOptions, CassandraView, RowChange, key_owner, latest_per_id, row_owner, view_changes, view_write_time};
pub use state::{load_share, stored_state};
pub use tables::{CassandraTables, check_identifier, row_size};
pub use views::{ViewTable, from_cql, to_cql};
pub use split::{batches, write_splitting};
pub use warnings::{DatabaseWarnings, warning_kind};
