//! rtds's integration tests: one binary, one module per part of the pipeline.
//!
//! Tests that need PostgreSQL, Kafka, Cassandra or the Schema Registry find them through
//! `RTDS_POSTGRES`, `RTDS_KAFKA`, `RTDS_CASSANDRA` and `RTDS_SCHEMA_REGISTRY` (`scripts/test`
//! starts them and sets these).

mod api;
mod cli;
mod cluster;
mod compose;
mod dataflow;
mod embedded;
mod ingest;
mod model;
mod multinode;
mod operations;
mod process;
mod registry;
mod secured;
mod services;
mod sql;
mod status;
mod util;
