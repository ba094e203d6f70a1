//! Pipeline definitions: the TOML files in `dataflows/` that say what the engine runs.
//!
//! ```
//! let local = rtds::dataflow::Dataflow::local();
//! assert_eq!(local.name, "local");
//! assert!(local.aggregates.iter().any(|a| a.name == "users_by_country"));
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::model::{Checks, Dimension};

/// The embedded pipeline's definition, compiled in from `dataflows/local.toml`.
pub const LOCAL_TOML: &str = include_str!("../dataflows/local.toml");

/// The cluster pipeline's definition, compiled in from `dataflows/users.toml`.
pub const USERS_TOML: &str = include_str!("../dataflows/users.toml");

/// A whole pipeline: where records come from, how they are checked, what is aggregated,
/// where rows go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataflow {
    pub name: String,
    pub source: Source,
    #[serde(default)]
    pub checks: Checks,
    #[serde(default)]
    pub aggregates: Vec<Aggregate>,
    pub sink: Sink,
}

/// Where records come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Source {
    /// The built-in randomuser generator, in process.
    Generator(GeneratorSource),
    /// A Kafka topic of formatted rows, partitions spread over the cluster's workers.
    Kafka(KafkaSource),
}

/// A Kafka topic as the source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSource {
    pub topic: String,
    /// Length of an epoch, the unit of durability, in milliseconds.
    pub epoch_ms: u64,
    /// Messages longer than this go to the dead-letter topic unread.
    pub max_message_bytes: usize,
    /// Most records read but not yet durable, per worker: the source pauses above it.
    pub max_in_flight: usize,
    /// librdkafka properties for every Kafka client of the pipeline (security, timeouts);
    /// secrets come from the environment instead (see [`crate::connectors::kafka::KafkaConfig`]).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// The built-in generator as a source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorSource {
    pub users: u64,
    pub seed: String,
    pub page_size: u32,
    /// Share of records sent a second time.
    #[serde(default)]
    pub replay: f64,
    /// Share of records corrupted on purpose.
    #[serde(default)]
    pub malformed: f64,
}

/// A live count of users per value of one dimension.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Aggregate {
    /// Its name, also its table name in Cassandra.
    pub name: String,
    pub by: Dimension,
}

/// Where formatted rows go.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Sink {
    /// JSON lines in a local file.
    Jsonl { path: String },
    /// Cassandra: rows, one table per aggregate, and the durable offsets.
    Cassandra(CassandraSinkPlan),
}

/// Cassandra as the sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CassandraSinkPlan {
    pub keyspace: String,
    /// The rows' table.
    pub table: String,
    /// Most write requests in flight per worker.
    pub concurrency: usize,
    /// Rows per unlogged batch request, at most 10: each row is a partition of its own, and
    /// Cassandra warns about unlogged batches over `unlogged_batch_across_partitions_warn_threshold`
    /// (10) partitions.
    pub batch_rows: usize,
    /// Most bytes of row data per batch request (estimated as CQL sizes them), so a batch
    /// stays under Cassandra's `batch_size_warn_threshold` (5 KiB by default) whatever the
    /// rows hold; a row larger than this goes alone, as a plain statement.
    #[serde(default = "default_batch_bytes")]
    pub batch_bytes: usize,
    /// Copies of every row and aggregate value the keyspace keeps (when rtds creates it).
    #[serde(default = "default_replication_factor")]
    pub replication_factor: u32,
    /// With a datacenter, the keyspace is replicated by NetworkTopologyStrategy in it;
    /// without, by SimpleStrategy (one datacenter, tests and development).
    #[serde(default)]
    pub datacenter: Option<String>,
    /// Replicas that acknowledge a write or answer a read: `one`, `quorum`, `local_quorum`,
    /// `all`, … [default: `local_quorum` when the factor is above 1, else `one`].
    #[serde(default)]
    pub consistency: Option<String>,
}

fn default_replication_factor() -> u32 {
    1
}

impl CassandraSinkPlan {
    /// The keyspace's replication and the consistency of every statement, checked.
    pub fn replication(&self) -> Result<crate::connectors::cassandra::Replication, String> {
        crate::connectors::cassandra::Replication::new(self.replication_factor, self.datacenter.clone(), self.consistency.as_deref())
    }
}

fn default_batch_bytes() -> usize {
    4000
}

/// The allowed range of each numeric setting, checked when a definition is loaded.
const RANGES: &[(&str, u64, u64, &str)] = &[
    ("source.kafka.epoch_ms", 1, 60_000, "milliseconds"),
    ("source.kafka.max_message_bytes", 64, 16 << 20, "bytes"),
    ("source.kafka.max_in_flight", 1, 10_000_000, "records per worker"),
    ("source.generator.page_size", 1, crate::api::MAX_RESULTS as u64, "users per page"),
    ("sink.cassandra.concurrency", 1, 1024, "requests in flight per worker"),
    ("sink.cassandra.batch_rows", 1, 10, "rows per batch (each row is a partition, and Cassandra warns about unlogged batches over 10 partitions)"),
    ("sink.cassandra.batch_bytes", 256, 50 << 10, "bytes per batch (Cassandra refuses batches over 50 KiB by default)"),
    ("sink.cassandra.replication_factor", 1, 9, "copies of each row"),
];

/// Why a definition could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DataflowError {
    #[error("cannot read dataflow {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("invalid dataflow {path}: {message}")]
    Invalid { path: String, message: String },
}

impl Dataflow {
    /// The built-in embedded pipeline.
    pub fn local() -> Dataflow {
        Dataflow::parse(LOCAL_TOML, "dataflows/local.toml").expect("the built-in dataflow is valid")
    }

    /// The built-in cluster pipeline: Kafka `users_created` to Cassandra.
    pub fn users() -> Dataflow {
        Dataflow::parse(USERS_TOML, "dataflows/users.toml").expect("the built-in dataflow is valid")
    }

    /// Loads a definition file.
    pub fn load(path: &Path) -> Result<Dataflow, DataflowError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| DataflowError::Read { path: shown.clone(), source })?;
        Dataflow::parse(&text, &shown)
    }

    /// Parses a definition; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Dataflow, DataflowError> {
        let invalid = |message: String| DataflowError::Invalid { path: origin.to_string(), message };
        let dataflow: Dataflow = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        dataflow.check_settings().map_err(invalid)?;
        for field in &dataflow.checks.required {
            if !crate::model::checks::ROW_FIELDS.contains(&field.as_str()) {
                return Err(invalid(format!(
                    "checks.required names {field:?}, which is not a row field (one of {})",
                    crate::model::checks::ROW_FIELDS.join(", ")
                )));
            }
        }
        Ok(dataflow)
    }

    /// Checks every numeric setting against its allowed range; the error names the key, the
    /// value and the range.
    fn check_settings(&self) -> Result<(), String> {
        let mut values: Vec<(&str, f64)> = Vec::new();
        match &self.source {
            Source::Kafka(k) => {
                values.extend([
                    ("source.kafka.epoch_ms", k.epoch_ms as f64),
                    ("source.kafka.max_message_bytes", k.max_message_bytes as f64),
                    ("source.kafka.max_in_flight", k.max_in_flight as f64),
                ]);
                crate::connectors::kafka::KafkaConfig::default().with_properties(&k.properties).map_err(|e| format!("source.kafka.properties: {e}"))?;
            }
            Source::Generator(g) => {
                values.push(("source.generator.page_size", g.page_size as f64));
                for (key, share) in [("source.generator.replay", g.replay), ("source.generator.malformed", g.malformed)] {
                    if !(0.0..=1.0).contains(&share) {
                        return Err(format!("{key} = {share} is out of range: a share from 0 to 1"));
                    }
                }
            }
        }
        if let Sink::Cassandra(c) = &self.sink {
            values.extend([
                ("sink.cassandra.concurrency", c.concurrency as f64),
                ("sink.cassandra.batch_rows", c.batch_rows as f64),
                ("sink.cassandra.batch_bytes", c.batch_bytes as f64),
                ("sink.cassandra.replication_factor", c.replication_factor as f64),
            ]);
            c.replication().map_err(|e| format!("sink.cassandra: {e}"))?;
        }
        for (key, value) in values {
            let (_, low, high, unit) = RANGES.iter().find(|r| r.0 == key).expect("every checked key has a range");
            if value < *low as f64 || value > *high as f64 {
                return Err(format!("{key} = {value} is out of range: allowed {low} to {high} ({unit})"));
            }
        }
        Ok(())
    }
}
