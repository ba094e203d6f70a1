//! Dataflows in SQL: what a pipeline computes, declared in a file of `dataflows/`.
//!
//! A dataflow file holds three kinds of statement (PostgreSQL syntax, parsed by `sqlparser`):
//!
//! ```sql
//! -- The source: a table over the topic, keyed by id; each message upserts its id, a
//! -- tombstone deletes it. Expectations are named CHECK constraints: enforced ones drop a
//! -- failing row to the dead-letter topic, NOT ENFORCED ones count it and keep it.
//! CREATE TABLE users (
//!     id UUID PRIMARY KEY,
//!     email TEXT,
//!     country TEXT,
//!     CONSTRAINT valid_email CHECK (email LIKE '%_@_%._%')
//! ) WITH (connector = 'kafka', topic = 'users_created');
//! -- The rows table: the latest version of every row, in the sink.
//! CREATE TABLE created_users WITH (connector = 'cassandra', keyspace = 'rtds') AS SELECT * FROM users;
//! -- Views, kept up to date incrementally, each written to its own table.
//! CREATE MATERIALIZED VIEW users_by_country AS
//!     SELECT COALESCE(country, 'unknown') AS country, COUNT(*) AS users FROM users GROUP BY 1;
//! ```
//!
//! The layers follow Materialize's split: `front.rs` parses, resolves names and checks types
//! (errors name the file, line and column); `plan.rs` and `expr.rs` are the plan (typed scalar
//! expressions, views as filter, group keys and aggregates); `render.rs` maintains a plan in
//! differential dataflow; `shared.rs` is the planner's pass that computes a repeated
//! subexpression once; `decode.rs` reads the source table's row from a message;
//! `kept.rs` is what the dedupe keeps per id for the views; `check.rs` evaluates the expectations over a whole table (`rtds check`).
//!
//! Semantics and limits:
//! - A view reads the latest version of each id (the dedupe's output): a later version or a
//!   delete moves every value of every view, `MIN` and `MAX` included.
//! - One source table per dataflow; no joins, subqueries, window functions, `ORDER BY`/`LIMIT`,
//!   or set operations; each is refused with its line and column.
//! - Event-time windows: `FROM TUMBLE(table, column, size)` over the source's watermark
//!   column (`WITH (watermark = column - INTERVAL ...)`); see [`crate::operators`] for how the
//!   watermark is kept and [`Program::late_views`] for what is late. Tumbling windows only.
//! - A view with aggregates but no `GROUP BY` has no row while no row qualifies (SQL would
//!   give one row of zeros).

pub mod check;
pub mod decode;
pub mod expr;
pub mod front;
pub mod kept;
pub mod plan;
pub mod render;
pub mod shared;
pub mod types;

pub use front::{Location, Setting, SettingValue, SqlError};
pub use plan::{Expectation, OnViolation, Table, View, Watermark, Window};
pub use types::{Datum, Row, Type};

/// A loaded dataflow file: its source table, rows table and views, with the settings of each
/// (interpreted by [`crate::dataflow`]).
#[derive(Debug, Clone)]
pub struct Program {
    /// The file it came from.
    pub origin: String,
    pub table: Table,
    /// The source table's `WITH (...)` settings.
    pub source: Vec<Setting>,
    /// The rows table's name and `WITH (...)` settings.
    pub sink_name: String,
    pub sink: Vec<Setting>,
    pub sink_at: Location,
    pub views: Vec<View>,
}

impl Program {
    /// Parses and checks a dataflow file whose source reads formatted rows.
    pub fn parse(text: &str, origin: &str) -> Result<Program, SqlError> {
        front::parse(text, origin, &decode::FIELDS)
    }

    /// The window views a state row is late for when the watermark is at `watermark`: those
    /// that keep it and whose window for it closed more than their allowed lateness ago.
    pub fn late_views(&self, row: &Row, watermark: i64, cx: &expr::Context) -> Vec<usize> {
        let Some(event) = self.table.event_time(row) else { return Vec::new() };
        self.views
            .iter()
            .enumerate()
            .filter(|(_, view)| view.window.as_ref().is_some_and(|w| w.end_of(event) + w.lateness_ms <= watermark) && view.keeps(row, cx))
            .map(|(index, _)| index)
            .collect()
    }

    /// Why a record is late for `views` (a dead letter's reason).
    pub fn late_reason(&self, views: &[usize], row: &Row, watermark: i64) -> String {
        let names: Vec<&str> = views.iter().map(|i| self.views[*i].name.as_str()).collect();
        let column = self.table.watermark.as_ref().map_or("", |w| self.table.columns[w.column].name.as_str());
        let time = |ms: i64| Datum::Timestamp(ms).to_string();
        let event = self.table.event_time(row).map_or_else(String::new, time);
        format!("late for view {}: {column} {event} is behind the watermark {}, and its window has closed", names.join(", "), time(watermark))
    }

    /// An error at a place in this file.
    pub fn error(&self, at: Location, message: impl Into<String>) -> SqlError {
        SqlError::new(&self.origin, at, message)
    }
}
