//! Pipeline definitions: the SQL files in `dataflows/` that say what the engine runs (see
//! [`crate::sql`] for the statements), and the settings of their source and rows table (the
//! `WITH (...)` lists), checked when a file is loaded.
//!
//! ```
//! let local = rtds::dataflow::Dataflow::local();
//! assert_eq!(local.name, "local");
//! assert!(local.program.views.iter().any(|v| v.name == "users_by_country"));
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::sql::{Location, Program, Setting, SettingValue, SqlError};

/// The embedded pipeline's definition, compiled in from `dataflows/local.sql`.
pub const LOCAL_SQL: &str = include_str!("../dataflows/local.sql");

/// The cluster pipeline's definition, compiled in from `dataflows/users.sql`.
pub const USERS_SQL: &str = include_str!("../dataflows/users.sql");

/// A whole pipeline: where records come from, what is computed, where rows and views go.
#[derive(Debug, Clone)]
pub struct Dataflow {
    /// The file's name without `.sql`.
    pub name: String,
    pub source: Source,
    pub sink: Sink,
    /// The source table, its expectations and the views.
    pub program: Arc<Program>,
}

/// Where records come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The built-in randomuser generator, in process.
    Generator(GeneratorSource),
    /// A Kafka topic of formatted rows, partitions spread over the cluster's workers.
    Kafka(KafkaSource),
}

/// A Kafka topic as the source.
#[derive(Debug, Clone)]
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
    pub properties: BTreeMap<String, String>,
}

/// The built-in generator as a source.
#[derive(Debug, Clone)]
pub struct GeneratorSource {
    pub users: u64,
    pub seed: String,
    pub page_size: u32,
    /// Share of records sent a second time.
    pub replay: f64,
    /// Share of records corrupted on purpose.
    pub malformed: f64,
}

/// Where rows and views go.
#[derive(Debug, Clone)]
pub enum Sink {
    /// JSON lines in local files: the rows in `path`, each view in `<view>.jsonl` beside it.
    Jsonl { path: String },
    /// Cassandra: the rows table, one table per view, and the durable offsets.
    Cassandra(CassandraSinkPlan),
}

/// Cassandra as the sink.
#[derive(Debug, Clone)]
pub struct CassandraSinkPlan {
    pub keyspace: String,
    /// The rows' table (the rows table's name in the dataflow).
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
    pub batch_bytes: usize,
    /// Copies of every row and view value the keyspace keeps (when rtds creates it).
    pub replication_factor: u32,
    /// With a datacenter, the keyspace is replicated by NetworkTopologyStrategy in it;
    /// without, by SimpleStrategy (one datacenter, tests and development).
    pub datacenter: Option<String>,
    /// Replicas that acknowledge a write or answer a read: `one`, `quorum`, `local_quorum`,
    /// `all`, … [default: `local_quorum` when the factor is above 1, else `one`].
    pub consistency: Option<String>,
}

impl CassandraSinkPlan {
    /// The keyspace's replication and the consistency of every statement, checked.
    pub fn replication(&self) -> Result<crate::connectors::cassandra::Replication, String> {
        crate::connectors::cassandra::Replication::new(self.replication_factor, self.datacenter.clone(), self.consistency.as_deref())
    }
}

/// Why a definition could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DataflowError {
    #[error("cannot read dataflow {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("invalid dataflow {0}")]
    Invalid(#[from] SqlError),
}

impl Dataflow {
    /// The built-in embedded pipeline.
    pub fn local() -> Dataflow {
        Dataflow::parse(LOCAL_SQL, "dataflows/local.sql").expect("the built-in dataflow is valid")
    }

    /// The built-in cluster pipeline: Kafka `users_created` to Cassandra.
    pub fn users() -> Dataflow {
        Dataflow::parse(USERS_SQL, "dataflows/users.sql").expect("the built-in dataflow is valid")
    }

    /// Loads a definition file.
    pub fn load(path: &Path) -> Result<Dataflow, DataflowError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| DataflowError::Read { path: shown.clone(), source })?;
        Dataflow::parse(&text, &shown)
    }

    /// Parses a definition; `origin` names it in errors (and, without `.sql`, names it).
    pub fn parse(text: &str, origin: &str) -> Result<Dataflow, DataflowError> {
        let program = Program::parse(text, origin)?;
        let name = Path::new(origin).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| origin.to_string());
        let source = source(&program, &Settings::new(&program, &program.source, "the source table", table_at(&program)))?;
        let sink = sink(&program, &Settings::new(&program, &program.sink, "the rows table", program.sink_at))?;
        check_names(&program)?;
        if let Sink::Cassandra(_) = &sink {
            check_views_for_cassandra(&program)?;
        }
        Ok(Dataflow { name, source, sink, program: Arc::new(program) })
    }
}

/// Where the source table is declared (its first setting, or the file's start).
fn table_at(program: &Program) -> Location {
    program.source.first().map(|s| s.at).unwrap_or(Location { line: 1, column: 1 })
}

fn source(program: &Program, settings: &Settings<'_>) -> Result<Source, SqlError> {
    let source = match settings.required_text("connector")?.as_str() {
        "kafka" => Source::Kafka(KafkaSource {
            topic: settings.text("topic")?.unwrap_or_else(|| "users_created".into()),
            epoch_ms: settings.int("epoch_ms", 1, 60_000, "milliseconds")?.unwrap_or(10),
            max_message_bytes: settings.int("max_message_bytes", 64, 16 << 20, "bytes")?.unwrap_or(65_536) as usize,
            max_in_flight: settings.int("max_in_flight", 1, 10_000_000, "records per worker")?.unwrap_or(20_000) as usize,
            properties: settings.properties()?,
        }),
        "generator" => Source::Generator(GeneratorSource {
            users: settings.int("users", 0, u64::MAX >> 1, "users")?.unwrap_or(100_000),
            seed: settings.text("seed")?.unwrap_or_else(|| "rtds".into()),
            page_size: settings.int("page_size", 1, crate::api::MAX_RESULTS as u64, "users per page")?.unwrap_or(5_000) as u32,
            replay: settings.share("replay")?.unwrap_or(0.0),
            malformed: settings.share("malformed")?.unwrap_or(0.0),
        }),
        other => return Err(settings.error_at("connector", format!("connector '{other}' is not a source: 'kafka' (a topic of formatted rows) or 'generator' (built in)"))),
    };
    settings.finish()?;
    if let Source::Kafka(k) = &source {
        crate::connectors::kafka::KafkaConfig::default().with_properties(&k.properties).map_err(|e| program.error(table_at(program), format!("properties: {e}")))?;
    }
    Ok(source)
}

fn sink(program: &Program, settings: &Settings<'_>) -> Result<Sink, SqlError> {
    let sink = match settings.required_text("connector")?.as_str() {
        "cassandra" => {
            let plan = CassandraSinkPlan {
                keyspace: settings.text("keyspace")?.unwrap_or_else(|| "rtds".into()),
                table: program.sink_name.clone(),
                concurrency: settings.int("concurrency", 1, 1024, "requests in flight per worker")?.unwrap_or(32) as usize,
                batch_rows: settings.int("batch_rows", 1, 10, "rows per batch (each row is a partition, and Cassandra warns about unlogged batches over 10 partitions)")?.unwrap_or(10) as usize,
                batch_bytes: settings.int("batch_bytes", 256, 50 << 10, "bytes per batch (Cassandra refuses batches over 50 KiB by default)")?.unwrap_or(4000) as usize,
                replication_factor: settings.int("replication_factor", 1, 9, "copies of each row")?.unwrap_or(1) as u32,
                datacenter: settings.text("datacenter")?,
                consistency: settings.text("consistency")?,
            };
            plan.replication().map_err(|e| program.error(program.sink_at, e))?;
            Sink::Cassandra(plan)
        }
        "jsonl" => Sink::Jsonl { path: settings.text("path")?.unwrap_or_else(|| "rtds-users.jsonl".into()) },
        other => return Err(settings.error_at("connector", format!("connector '{other}' is not a sink: 'cassandra' or 'jsonl'"))),
    };
    settings.finish()?;
    Ok(sink)
}

/// CQL's reserved words: a table or column of one of these names would need quoting in every
/// statement (the list of Cassandra 5.0's CQL reference).
const CQL_RESERVED: &[&str] = &[
    "add", "aggregate", "all", "allow", "alter", "and", "apply", "asc", "authorize", "batch", "begin", "by", "columnfamily", "create",
    "default", "delete", "desc", "describe", "drop", "entries", "execute", "from", "full", "grant", "if", "in", "index", "infinity",
    "insert", "into", "is", "keyspace", "limit", "materialized", "mbean", "mbeans", "modify", "nan", "norecursive", "not", "null", "of",
    "on", "or", "order", "primary", "rename", "replace", "revoke", "schema", "select", "set", "table", "to", "token", "truncate",
    "unlogged", "unset", "update", "use", "using", "view", "where", "with",
];

/// Names of tables, views and columns: lower-case identifiers, not CQL's reserved words. They
/// name Cassandra tables and columns (unquoted, so lower case is what Cassandra keeps) and the
/// embedded run's files (so nothing like `../x`).
fn check_names(program: &Program) -> Result<(), SqlError> {
    let plain = |name: &str| {
        name.len() <= 48
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !CQL_RESERVED.contains(&name)
    };
    let rule = "lower-case letters, digits and _, a letter first, at most 48, not a CQL keyword";
    if !plain(&program.sink_name) {
        return Err(program.error(program.sink_at, format!("{} cannot name the rows table ({rule})", program.sink_name)));
    }
    for view in &program.views {
        if !plain(&view.name) || ["offsets", "rtds_meta"].contains(&view.name.as_str()) {
            return Err(program.error(view.at, format!("{} cannot name a view ({rule}; not offsets or rtds_meta)", view.name)));
        }
        for output in &view.outputs {
            if !plain(&output.column.name) {
                return Err(program.error(output.at, format!("{} cannot name a column ({rule})", output.column.name)));
            }
        }
    }
    Ok(())
}

/// What Cassandra needs of a view's table: a key that is never NULL.
fn check_views_for_cassandra(program: &Program) -> Result<(), SqlError> {
    for view in &program.views {
        if view.key.is_empty() {
            return Err(program.error(view.at, format!("view {} has no GROUP BY, so its table would have no key: group it (GROUP BY ...)", view.name)));
        }
        for index in &view.key {
            let output = &view.outputs[*index];
            if output.column.nullable {
                return Err(program.error(
                    output.at,
                    format!("key column {} of view {} may be NULL, and a Cassandra key cannot be: give it a value, COALESCE(expression, 'unknown')", output.column.name, view.name),
                ));
            }
        }
    }
    Ok(())
}

/// One statement's settings, read by name; any left unread is an error (a typo is not
/// silently ignored).
struct Settings<'a> {
    program: &'a Program,
    settings: &'a [Setting],
    what: &'static str,
    at: Location,
    read: RefCell<Vec<String>>,
}

impl<'a> Settings<'a> {
    fn new(program: &'a Program, settings: &'a [Setting], what: &'static str, at: Location) -> Settings<'a> {
        Settings { program, settings, what, at, read: RefCell::new(Vec::new()) }
    }

    fn get(&self, key: &str) -> Option<&'a Setting> {
        self.read.borrow_mut().push(key.to_string());
        self.settings.iter().find(|s| s.key == key)
    }

    fn error_at(&self, key: &str, message: String) -> SqlError {
        let at = self.settings.iter().find(|s| s.key == key).map_or(self.at, |s| s.at);
        self.program.error(at, message)
    }

    fn required_text(&self, key: &str) -> Result<String, SqlError> {
        self.text(key)?.ok_or_else(|| self.program.error(self.at, format!("{} needs WITH ({key} = '...')", self.what)))
    }

    fn text(&self, key: &str) -> Result<Option<String>, SqlError> {
        match self.get(key) {
            None => Ok(None),
            Some(Setting { value: SettingValue::Text(t), .. }) => Ok(Some(t.clone())),
            Some(s) => Err(self.program.error(s.at, format!("{key} = {}: a quoted text, {key} = '...'", s.value))),
        }
    }

    fn int(&self, key: &str, low: u64, high: u64, unit: &str) -> Result<Option<u64>, SqlError> {
        let Some(s) = self.get(key) else { return Ok(None) };
        let value = match &s.value {
            SettingValue::Number(n) => n.parse::<u64>().ok(),
            _ => None,
        };
        match value {
            Some(v) if (low..=high).contains(&v) => Ok(Some(v)),
            _ => Err(self.program.error(s.at, format!("{key} = {} is out of range: allowed {low} to {high} ({unit})", s.value))),
        }
    }

    fn share(&self, key: &str) -> Result<Option<f64>, SqlError> {
        let Some(s) = self.get(key) else { return Ok(None) };
        match &s.value {
            SettingValue::Number(n) => match n.parse::<f64>() {
                Ok(v) if (0.0..=1.0).contains(&v) => Ok(Some(v)),
                _ => Err(self.program.error(s.at, format!("{key} = {n} is out of range: a share from 0 to 1"))),
            },
            other => Err(self.program.error(s.at, format!("{key} = {other} is out of range: a share from 0 to 1"))),
        }
    }

    /// `'properties.<librdkafka property>' = '...'` settings.
    fn properties(&self) -> Result<BTreeMap<String, String>, SqlError> {
        let mut properties = BTreeMap::new();
        for s in self.settings.iter().filter(|s| s.key.starts_with("properties.")) {
            self.read.borrow_mut().push(s.key.clone());
            let value = match &s.value {
                SettingValue::Text(t) => t.clone(),
                SettingValue::Number(n) => n.clone(),
                SettingValue::Bool(b) => b.to_string(),
            };
            properties.insert(s.key["properties.".len()..].to_string(), value);
        }
        Ok(properties)
    }

    /// Every setting was read.
    fn finish(&self) -> Result<(), SqlError> {
        let read = self.read.borrow();
        match self.settings.iter().find(|s| !read.contains(&s.key)) {
            Some(s) => {
                let known: Vec<&str> = read.iter().map(String::as_str).filter(|k| !k.starts_with("properties.")).collect();
                Err(self.program.error(s.at, format!("{} has no setting {} (its settings: {}, 'properties.<librdkafka property>' for a Kafka source)", self.what, s.key, known.join(", "))))
            }
            None => Ok(()),
        }
    }
}
