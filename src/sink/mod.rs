//! Where rows go: local JSON lines for the embedded run (Cassandra comes with the cluster).

mod jsonl;

pub use jsonl::JsonlSink;
