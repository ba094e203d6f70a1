//! The dataflow engine: timely dataflow workers running a [`Dataflow`](crate::dataflow::Dataflow).
//!
//! - [`embedded`]: the whole pipeline in one process, with no services;
//! - [`cluster`]: one process of the timely cluster, Kafka to Cassandra;
//! - [`master`]: starts, watches and restarts the worker processes;
//! - [`agent`]: a worker machine's side of a master on another machine;
//! - [`control`]: the protocol between the two;
//! - [`status`]: the master's status page, `/status` and `/metrics`.

pub mod agent;
pub mod cluster;
pub mod control;
pub mod embedded;
pub mod master;
pub mod status;
