//! Pipeline definitions: the TOML files in `dataflows/` that say what the engine runs.
//!
//! ```
//! let local = rtds::dataflow::Dataflow::local();
//! assert_eq!(local.name, "local");
//! assert!(local.aggregates.iter().any(|a| a.name == "users_by_country"));
//! ```

use std::path::Path;

use serde::Deserialize;

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

/// Which checks a formatted row must pass; failures are rejected with the reason.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    /// Row fields that must be present and non-empty.
    #[serde(default)]
    pub required: Vec<String>,
    /// The email must look like an address.
    #[serde(default)]
    pub email: bool,
    /// dob and registered_date must be plausible ISO-8601 dates.
    #[serde(default)]
    pub dates: bool,
}

/// A live count of users per value of one dimension.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Aggregate {
    /// Its name, also its table name in Cassandra.
    pub name: String,
    pub by: Dimension,
}

/// What an aggregate groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Country,
    Gender,
    AgeBand,
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
    /// Rows per unlogged batch request.
    pub batch_rows: usize,
}

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
        for field in &dataflow.checks.required {
            if !crate::engine::checks::ROW_FIELDS.contains(&field.as_str()) {
                return Err(invalid(format!(
                    "checks.required names {field:?}, which is not a row field (one of {})",
                    crate::engine::checks::ROW_FIELDS.join(", ")
                )));
            }
        }
        Ok(dataflow)
    }
}
