//! The values a dataflow's SQL computes with: column types and datums.
//!
//! A datum is small and cheap to clone (text up to 24 bytes inline), totally ordered and
//! hashable, because differential dataflow sorts, hashes and exchanges every key and value.
//! Timestamps are UTC milliseconds: the precision Cassandra keeps, so a row read back from
//! the store after a restart computes exactly what the same row computed when it arrived.

use std::fmt;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The type of a column or an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Type {
    Bool,
    /// 64-bit integer (`BIGINT`, `INT`, `SMALLINT`).
    Int,
    /// 64-bit floating point (`DOUBLE PRECISION`, `FLOAT`, `REAL`).
    Float,
    /// `TEXT`, `VARCHAR`.
    Text,
    /// `TIMESTAMP`, UTC, millisecond precision.
    Timestamp,
    Uuid,
    /// A span of time (`INTERVAL '5' SECOND`), in milliseconds: only in arithmetic on
    /// timestamps and as a window's size.
    Interval,
}

impl Type {
    /// The name SQL users write.
    pub fn sql_name(self) -> &'static str {
        match self {
            Type::Bool => "BOOLEAN",
            Type::Int => "BIGINT",
            Type::Float => "DOUBLE PRECISION",
            Type::Text => "TEXT",
            Type::Timestamp => "TIMESTAMP",
            Type::Uuid => "UUID",
            Type::Interval => "INTERVAL",
        }
    }

    /// The column type of a Cassandra table holding it.
    pub fn cql_name(self) -> Option<&'static str> {
        Some(match self {
            Type::Bool => "boolean",
            Type::Int => "bigint",
            Type::Float => "double",
            Type::Text => "text",
            Type::Timestamp => "timestamp",
            Type::Uuid => "uuid",
            Type::Interval => return None,
        })
    }

    /// Int and Float.
    pub fn is_numeric(self) -> bool {
        matches!(self, Type::Int | Type::Float)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sql_name())
    }
}

/// A float with a total order (`f64::total_cmp`) and equality by bits, so it can be a key.
/// `-0.0` is stored as `0.0`, so the two group together as SQL expects.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Float(f64);

impl Float {
    pub fn new(value: f64) -> Float {
        Float(if value == 0.0 { 0.0 } else { value })
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl PartialEq for Float {
    fn eq(&self, other: &Float) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}
impl Eq for Float {}
impl PartialOrd for Float {
    fn partial_cmp(&self, other: &Float) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Float {
    fn cmp(&self, other: &Float) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}
impl std::hash::Hash for Float {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state)
    }
}

/// One value. `Null` sorts first; values of different types never meet in one column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
pub enum Datum {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(Float),
    Text(CompactString),
    /// UTC milliseconds since the Unix epoch.
    Timestamp(i64),
    Uuid(Uuid),
    /// Milliseconds.
    Interval(i64),
}

/// A row of datums: a table's columns, a group key, or a view's output. Up to four datums are
/// kept inline: differential dataflow clones rows as it merges batches, and a heap allocation
/// per clone cost the dedupe and the views a third of their time (see BENCHMARKS.md).
pub type Row = smallvec::SmallVec<[Datum; 4]>;

impl Datum {
    pub fn is_null(&self) -> bool {
        matches!(self, Datum::Null)
    }

    pub fn text(value: &str) -> Datum {
        Datum::Text(CompactString::from(value))
    }

    pub fn float(value: f64) -> Datum {
        if value.is_finite() { Datum::Float(Float::new(value)) } else { Datum::Null }
    }

    /// A chrono instant, truncated to milliseconds.
    pub fn timestamp(value: &chrono::DateTime<chrono::Utc>) -> Datum {
        Datum::Timestamp(value.timestamp_millis())
    }

    /// The instant of a timestamp datum.
    pub fn as_datetime(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            Datum::Timestamp(ms) => chrono::DateTime::from_timestamp_millis(*ms),
            _ => None,
        }
    }

    /// The value as JSON: timestamps as RFC 3339 text in UTC (as rows are written), UUIDs as
    /// text, intervals as milliseconds.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Datum::Null => Value::Null,
            Datum::Bool(b) => Value::Bool(*b),
            Datum::Int(i) | Datum::Interval(i) => Value::from(*i),
            Datum::Float(f) => serde_json::Number::from_f64(f.get()).map(Value::Number).unwrap_or(Value::Null),
            Datum::Text(s) => Value::String(s.to_string()),
            Datum::Timestamp(_) => Value::String(self.as_datetime().map(|t| crate::model::date::format(&t)).unwrap_or_default()),
            Datum::Uuid(u) => Value::String(u.to_string()),
        }
    }
}

/// Text as SQL's `CAST(x AS TEXT)` gives it (timestamps in RFC 3339, UTC); `NULL` for null.
impl fmt::Display for Datum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Datum::Null => f.write_str("NULL"),
            Datum::Bool(b) => write!(f, "{b}"),
            Datum::Int(i) => write!(f, "{i}"),
            Datum::Float(x) => write!(f, "{}", x.get()),
            Datum::Text(s) => f.write_str(s),
            Datum::Timestamp(_) => f.write_str(&self.as_datetime().map(|t| crate::model::date::format(&t)).unwrap_or_default()),
            Datum::Uuid(u) => write!(f, "{u}"),
            Datum::Interval(ms) => write!(f, "{ms} ms"),
        }
    }
}
