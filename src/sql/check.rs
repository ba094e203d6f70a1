//! A dataflow's expectations over a whole table at once (`rtds check`): each evaluated on
//! every row, with counts and a few example keys of the rows that fail.

use serde::Serialize;

use super::expr::{Columns, Context};
use super::plan::{OnViolation, Table};

/// Failing rows' keys kept per expectation, as examples.
pub const EXAMPLES: usize = 5;

/// The outcome of checking a table.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Rows evaluated.
    pub rows: u64,
    /// Rows that could not be read at all (a line that is no formatted row), with why.
    pub unreadable: u64,
    pub unreadable_examples: Vec<String>,
    pub expectations: Vec<ExpectationReport>,
}

/// One expectation's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct ExpectationReport {
    pub name: String,
    /// `drop` (a failing row is dead-lettered) or `warn` (counted, kept).
    pub on_violation: &'static str,
    /// The expression as declared.
    pub check: String,
    pub failed: u64,
    /// Keys of up to [`EXAMPLES`] failing rows.
    pub examples: Vec<String>,
}

impl Report {
    /// An empty report of `table`'s expectations.
    pub fn new(table: &Table) -> Report {
        let expectations = table
            .expectations
            .iter()
            .map(|e| ExpectationReport {
                name: e.name.clone(),
                on_violation: if e.on_violation == OnViolation::DropRow { "drop" } else { "warn" },
                check: e.sql.clone(),
                failed: 0,
                examples: Vec::new(),
            })
            .collect();
        Report { rows: 0, unreadable: 0, unreadable_examples: Vec::new(), expectations }
    }

    /// Evaluates one row, known by `key` in the examples.
    pub fn add<R: Columns + ?Sized>(&mut self, table: &Table, row: &R, key: impl FnOnce() -> String, cx: &Context) {
        self.rows += 1;
        let failed = table.expectations_failed(row, cx);
        if failed.is_empty() {
            return;
        }
        let key = key();
        for index in failed {
            let report = &mut self.expectations[index];
            report.failed += 1;
            if report.examples.len() < EXAMPLES {
                report.examples.push(key.clone());
            }
        }
    }

    /// A row that could not be read.
    pub fn add_unreadable(&mut self, why: String) {
        self.unreadable += 1;
        if self.unreadable_examples.len() < EXAMPLES {
            self.unreadable_examples.push(why);
        }
    }

    /// Whether the table may be trusted: no drop-row expectation failed and every row read.
    pub fn passed(&self) -> bool {
        self.unreadable == 0 && self.expectations.iter().all(|e| e.on_violation != "drop" || e.failed == 0)
    }
}
