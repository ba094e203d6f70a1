//! The plan of a dataflow: the source table (its columns, key and expectations) and each view
//! as a filter, group keys, aggregates and output columns over typed expressions
//! ([`super::expr`]). The front (`front.rs`) makes it; `render.rs` maintains it incrementally
//! in differential dataflow; [`View::evaluate`] computes it over a whole table at once (the
//! embedded run's end, `rtds check`, and the tests' oracle for the incremental rendering).
//!
//! Aggregates fall in three classes, each maintained its own way (Materialize's split):
//! accumulable ones (`COUNT`, `SUM`, `AVG`) are sums carried in differential's differences,
//! so an update costs the same whatever the group's size; `COUNT(DISTINCT x)` keeps the
//! distinct values of each group; `MIN` and `MAX` keep each group's values in sorted order,
//! so a retraction uncovers the next value (an update costs the number of distinct values of
//! its group).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::expr::{Columns, Context, Expr};
use super::types::{Datum, Row, Type};

/// A column of the source table or of a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: Type,
    /// Whether it may be NULL (a key column may not).
    pub nullable: bool,
}

/// What an expectation does with a row that fails it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OnViolation {
    /// The row goes to the dead-letter topic with the expectation's name as the reason
    /// (`CHECK (...)`, enforced).
    DropRow,
    /// The row is kept and the violation counted (`CHECK (...) NOT ENFORCED`).
    Warn,
}

/// A named boolean expression every row of the source table should satisfy.
#[derive(Debug, Clone)]
pub struct Expectation {
    pub name: String,
    /// Over the source table's columns; a row fails when it is FALSE (NULL passes, as a
    /// `CHECK` constraint).
    pub expr: Expr,
    pub on_violation: OnViolation,
    /// The expression as written, for reports.
    pub sql: String,
}

/// The source table: the columns each message carries, keyed by `key`.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    /// The primary key column.
    pub key: usize,
    pub expectations: Vec<Expectation>,
    /// The source columns the views read, ascending, the key first among them: what the
    /// dedupe keeps of each row (a view's expressions read this row, not the table's).
    pub state_columns: Vec<usize>,
    /// The event-time column and how far behind its newest value the watermark runs.
    pub watermark: Option<Watermark>,
}

/// `watermark = column - INTERVAL '...'`: the source's event time. The watermark is the
/// newest event time read so far, less `delay_ms`; it closes windows (see [`Window`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermark {
    /// The source column.
    pub column: usize,
    /// Its place in the state row (kept there, so a restart finds the newest stored time).
    pub state: usize,
    pub delay_ms: i64,
}

/// A view's tumbling window (`FROM TUMBLE(table, column, size)`): its rows are written once
/// the watermark passes their window's end; a record whose window closed more than
/// `lateness_ms` before it arrived is late.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub size_ms: i64,
    /// Allowed lateness (`WITH (allowed_lateness = INTERVAL ...)`): how long after closing a
    /// window still takes records (its row is updated).
    pub lateness_ms: i64,
    /// Where the window's end is read from a row of the view's key: the key column holding
    /// `window_start` (plus `size_ms`) or `window_end` (plus 0).
    pub key_column: usize,
    pub key_offset_ms: i64,
}

impl Window {
    /// The end of the window a state row's event time falls in.
    pub fn end_of(&self, event_ms: i64) -> i64 {
        event_ms - event_ms.rem_euclid(self.size_ms) + self.size_ms
    }

    /// The end of the window a key of the view's table belongs to.
    pub fn end_of_key(&self, key: &Row) -> Option<i64> {
        match key.get(self.key_column) {
            Some(Datum::Timestamp(t)) => Some(t + self.key_offset_ms),
            _ => None,
        }
    }
}

impl Table {
    /// A state row's event time (its watermark column), if it has one.
    pub fn event_time(&self, row: &Row) -> Option<i64> {
        match row.get(self.watermark.as_ref()?.state) {
            Some(Datum::Timestamp(t)) => Some(*t),
            _ => None,
        }
    }

    /// A column's index by name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The state row of a table row: the columns the views read.
    pub fn state_row<R: Columns + ?Sized>(&self, row: &R) -> Row {
        self.state_columns.iter().map(|i| row.column(*i).into_owned()).collect()
    }

    /// The state row, moved out of a decoded row ([`super::decode::Decoder::decode`]).
    pub fn take_state_row(&self, decoded: &mut [Datum]) -> Row {
        self.state_columns.iter().map(|i| std::mem::take(&mut decoded[*i])).collect()
    }

    /// The names of the state row's columns.
    pub fn state_names(&self) -> Vec<&str> {
        self.state_columns.iter().map(|i| self.columns[*i].name.as_str()).collect()
    }

    /// The first expectation a row fails, by its enforcement: (drop-row failure, warnings).
    pub fn expectations_failed<R: Columns + ?Sized>(&self, row: &R, cx: &Context) -> Vec<usize> {
        self.expectations.iter().enumerate().filter(|(_, e)| !e.expr.passes_check(row, cx)).map(|(i, _)| i).collect()
    }
}

/// One aggregate of a view, over the state row (over the narrow row in a view
/// [`super::kept::narrowed`] made).
#[derive(Debug, Clone)]
pub enum Aggregate {
    /// `COUNT(*)`.
    CountRows,
    /// `COUNT(x)`: rows where x is not NULL.
    Count(Expr),
    CountDistinct(Expr),
    /// Of an integer expression.
    Sum(Expr),
    /// Of an integer expression; a float.
    Avg(Expr),
    Min(Expr),
    Max(Expr),
}

impl Aggregate {
    /// Slots of [`Accums`] it takes (accumulable aggregates only).
    fn slots(&self) -> usize {
        match self {
            Aggregate::CountRows => 0,
            Aggregate::Count(_) => 1,
            Aggregate::Sum(_) | Aggregate::Avg(_) => 2,
            _ => 0,
        }
    }

    /// Whether it is carried in differences.
    pub fn is_accumulable(&self) -> bool {
        matches!(self, Aggregate::CountRows | Aggregate::Count(_) | Aggregate::Sum(_) | Aggregate::Avg(_))
    }

    pub(super) fn argument(&self) -> Option<&Expr> {
        match self {
            Aggregate::CountRows => None,
            Aggregate::Count(e) | Aggregate::CountDistinct(e) | Aggregate::Sum(e) | Aggregate::Avg(e) | Aggregate::Min(e) | Aggregate::Max(e) => Some(e),
        }
    }

    pub(super) fn argument_mut(&mut self) -> Option<&mut Expr> {
        match self {
            Aggregate::CountRows => None,
            Aggregate::Count(e) | Aggregate::CountDistinct(e) | Aggregate::Sum(e) | Aggregate::Avg(e) | Aggregate::Min(e) | Aggregate::Max(e) => Some(e),
        }
    }
}

/// Sums carried in differential's differences for a group: slot 0 counts rows, then each
/// accumulable aggregate has its slots (non-NULL count, and sum). Adding two adds slot by
/// slot; a group whose sums are all zero has no rows and disappears.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Accums(pub Vec<i128>);

impl differential_dataflow::difference::IsZero for Accums {
    fn is_zero(&self) -> bool {
        self.0.iter().all(|v| *v == 0)
    }
}

impl differential_dataflow::difference::Semigroup for Accums {
    fn plus_equals(&mut self, rhs: &Self) {
        if self.0.len() < rhs.0.len() {
            self.0.resize(rhs.0.len(), 0);
        }
        for (slot, value) in self.0.iter_mut().zip(&rhs.0) {
            *slot += value;
        }
    }
}

impl differential_dataflow::difference::Monoid for Accums {
    fn zero() -> Self {
        Accums(Vec::new())
    }
}

impl differential_dataflow::difference::Abelian for Accums {
    fn negate(&mut self) {
        self.0.iter_mut().for_each(|v| *v = -*v);
    }
}

impl differential_dataflow::difference::Multiply<isize> for Accums {
    type Output = Accums;
    fn multiply(mut self, rhs: &isize) -> Accums {
        self.0.iter_mut().for_each(|v| *v *= *rhs as i128);
        self
    }
}

/// A column a view writes: its name, type and expression over the grouped row (the group
/// keys, then the aggregates) or, for a view without aggregates, over the state row.
#[derive(Debug, Clone)]
pub struct Output {
    pub column: Column,
    pub expr: Expr,
    /// Where it is declared, for errors found later (by a sink).
    pub at: super::front::Location,
}

/// A materialized view: `SELECT outputs FROM table WHERE filter GROUP BY group HAVING having`.
#[derive(Debug, Clone)]
pub struct View {
    pub name: String,
    /// Over the state row (as are `group` and `aggregates`; a view [`super::kept::narrowed`]
    /// made has none, and reads the narrow row).
    pub filter: Option<Expr>,
    /// Over the state row.
    pub group: Vec<Expr>,
    /// Over the state row.
    pub aggregates: Vec<Aggregate>,
    /// Whether the view aggregates (a `GROUP BY` or an aggregate); else it maps rows 1:1.
    pub grouped: bool,
    /// Over the grouped row.
    pub having: Option<Expr>,
    pub outputs: Vec<Output>,
    /// The outputs that make a row's key (the group keys, or the table's key).
    pub key: Vec<usize>,
    /// Where it is declared.
    pub at: super::front::Location,
    /// Its tumbling window, when it reads `TUMBLE(...)`.
    pub window: Option<Window>,
}

impl View {
    /// A state row's group key.
    pub fn group_key(&self, row: &Row, cx: &Context) -> Row {
        self.group.iter().map(|e| e.eval(row, cx)).collect()
    }

    /// Whether `WHERE` keeps the row.
    pub fn keeps(&self, row: &Row, cx: &Context) -> bool {
        self.filter.as_ref().is_none_or(|f| f.is_true(row, cx))
    }

    /// The output row of a group (its key and its aggregates' values), unless `HAVING`
    /// drops it.
    pub fn finish(&self, key: &Row, aggregates: Vec<Datum>, cx: &Context) -> Option<Row> {
        let mut grouped = key.clone();
        grouped.extend(aggregates);
        if let Some(having) = &self.having {
            if !having.is_true(&grouped, cx) {
                return None;
            }
        }
        Some(self.outputs.iter().map(|o| o.expr.eval(&grouped, cx)).collect())
    }

    /// The output row of one state row, for a view without aggregates.
    pub fn project(&self, row: &Row, cx: &Context) -> Row {
        self.outputs.iter().map(|o| o.expr.eval(row, cx)).collect()
    }

    /// The key of an output row.
    pub fn key_of(&self, output: &Row) -> Row {
        self.key.iter().map(|i| output[*i].clone()).collect()
    }

    /// Slots of the view's [`Accums`].
    pub fn accum_slots(&self) -> usize {
        1 + self.aggregates.iter().map(Aggregate::slots).sum::<usize>()
    }

    /// A state row's contribution to its group's sums.
    pub fn accumulate(&self, row: &Row, cx: &Context) -> Accums {
        let mut slots = Vec::with_capacity(self.accum_slots());
        slots.push(1);
        for aggregate in &self.aggregates {
            match aggregate {
                Aggregate::Count(e) => slots.push(i128::from(!e.eval(row, cx).is_null())),
                Aggregate::Sum(e) | Aggregate::Avg(e) => match e.eval(row, cx) {
                    Datum::Int(v) => slots.extend([1, v as i128]),
                    _ => slots.extend([0, 0]),
                },
                _ => {}
            }
        }
        Accums(slots)
    }

    /// The values of the accumulable aggregates from a group's sums (`None` for the others,
    /// in place).
    pub fn accumulated(&self, sums: &Accums) -> Vec<Option<Datum>> {
        let slot = |i: usize| sums.0.get(i).copied().unwrap_or(0);
        let mut next = 1;
        self.aggregates
            .iter()
            .map(|aggregate| {
                let value = match aggregate {
                    Aggregate::CountRows => Some(Datum::Int(slot(0) as i64)),
                    Aggregate::Count(_) => Some(Datum::Int(slot(next) as i64)),
                    Aggregate::Sum(_) => Some(if slot(next) == 0 { Datum::Null } else { i64::try_from(slot(next + 1)).map_or(Datum::Null, Datum::Int) }),
                    Aggregate::Avg(_) => Some(if slot(next) == 0 { Datum::Null } else { Datum::float(slot(next + 1) as f64 / slot(next) as f64) }),
                    _ => None,
                };
                next += aggregate.slots();
                value
            })
            .collect()
    }

    /// The rows of the view over a whole table of state rows, keys sorted: each aggregate
    /// computed directly, the way a batch engine would.
    pub fn evaluate<'a>(&self, rows: impl IntoIterator<Item = &'a Row>, cx: &Context) -> Vec<Row> {
        let kept = rows.into_iter().filter(|row| self.keeps(row, cx));
        if !self.grouped {
            let mut out: Vec<Row> = kept.map(|row| self.project(row, cx)).collect();
            out.sort_by_key(|row| self.key_of(row));
            return out;
        }
        let mut groups: BTreeMap<Row, Vec<&Row>> = BTreeMap::new();
        for row in kept {
            groups.entry(self.group_key(row, cx)).or_default().push(row);
        }
        groups
            .into_iter()
            .filter_map(|(key, rows)| {
                let values = self.aggregates.iter().map(|a| batch_aggregate(a, &rows, cx)).collect();
                self.finish(&key, values, cx)
            })
            .collect()
    }

    /// Every expression over the state row, to rewrite column indices.
    pub(super) fn state_exprs_mut(&mut self) -> impl Iterator<Item = &mut Expr> {
        let outputs = if self.grouped { None } else { Some(self.outputs.iter_mut().map(|o| &mut o.expr)) };
        self.filter.iter_mut().chain(self.group.iter_mut()).chain(self.aggregates.iter_mut().filter_map(Aggregate::argument_mut)).chain(outputs.into_iter().flatten())
    }

    /// Every expression of the view, once each: over the state row (`WHERE`, the group keys, the
    /// aggregates' arguments) or the grouped row (`HAVING`), and the outputs.
    pub(super) fn exprs_mut(&mut self) -> impl Iterator<Item = &mut Expr> {
        self.filter
            .iter_mut()
            .chain(self.group.iter_mut())
            .chain(self.aggregates.iter_mut().filter_map(Aggregate::argument_mut))
            .chain(self.having.iter_mut())
            .chain(self.outputs.iter_mut().map(|o| &mut o.expr))
    }

    /// Every expression over the state row.
    pub(super) fn state_exprs(&self) -> Vec<&Expr> {
        let mut exprs: Vec<&Expr> = self.filter.iter().chain(self.group.iter()).chain(self.aggregates.iter().filter_map(Aggregate::argument)).collect();
        if !self.grouped {
            exprs.extend(self.outputs.iter().map(|o| &o.expr));
        }
        exprs
    }
}

/// One aggregate over a group's rows, directly.
fn batch_aggregate(aggregate: &Aggregate, rows: &[&Row], cx: &Context) -> Datum {
    let values = |e: &Expr| rows.iter().map(|r| e.eval(*r, cx)).filter(|d| !d.is_null()).collect::<Vec<_>>();
    match aggregate {
        Aggregate::CountRows => Datum::Int(rows.len() as i64),
        Aggregate::Count(e) => Datum::Int(values(e).len() as i64),
        Aggregate::CountDistinct(e) => Datum::Int(values(e).into_iter().collect::<BTreeSet<_>>().len() as i64),
        Aggregate::Sum(e) | Aggregate::Avg(e) => {
            let ints: Vec<i128> = values(e).iter().filter_map(|d| if let Datum::Int(v) = d { Some(*v as i128) } else { None }).collect();
            if ints.is_empty() {
                return Datum::Null;
            }
            let sum: i128 = ints.iter().sum();
            if matches!(aggregate, Aggregate::Sum(_)) { i64::try_from(sum).map_or(Datum::Null, Datum::Int) } else { Datum::float(sum as f64 / ints.len() as f64) }
        }
        Aggregate::Min(e) => values(e).into_iter().min().unwrap_or(Datum::Null),
        Aggregate::Max(e) => values(e).into_iter().max().unwrap_or(Datum::Null),
    }
}
