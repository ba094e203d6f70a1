//! rtds: realtime data streaming.
//!
//! The classic randomuser.me → PostgreSQL + Kafka → Spark → Cassandra pipeline, done by one
//! Rust program on timely and differential dataflow. The modules follow the flow:
//!
//! - [`model`]: API responses of every version and the formatted [`model::User`] row;
//! - [`api`]: the randomuser client and `rtds api serve`, a deterministic clone;
//! - [`dataflow`]: pipeline definitions (`dataflows/*.sql`) and their settings;
//! - [`sql`]: what a dataflow computes, in SQL: parsed, planned, rendered onto differential;
//! - [`ingest`]: API → PostgreSQL;
//! - [`cdc`]: PostgreSQL's committed changes → Kafka, exactly once;
//! - [`operators`]: the timely operators every pipeline uses (epochs, the async sink);
//! - [`connectors`]: Kafka, PostgreSQL, Cassandra and local files, each with its source or sink;
//! - [`checkpoint`]: the dedupe's and the views' state on local disk, so a restart resumes;
//! - [`engine`]: timely workers running a pipeline, wired from the connectors' operators;
//! - [`clock`]: the wall clock, which orders nothing;
//! - [`metrics`]: counters and progress;
//! - [`cli`]: the `rtds` command line.

pub mod api;
pub mod cdc;
pub mod checkpoint;
pub mod cli;
pub mod clock;
pub mod connectors;
pub mod dataflow;
pub mod engine;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod operators;
pub mod sql;
