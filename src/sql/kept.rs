//! What the dedupe keeps per id: not the whole state row, but what the views read of it.
//!
//! The dedupe ([`crate::operators::Upsert`]) keeps one row per id and sends it on to the
//! views, so the narrower that row, the cheaper every record and the less memory. A view that
//! aggregates needs nothing of a row but its *narrow row*: its group key and its aggregates'
//! arguments (or that `WHERE` drops it), so the kept row holds those values, computed once when
//! the record is read, rather than the columns they are computed from: the default dataflow's
//! three counts keep three short texts per id instead of the id, country, gender and date of
//! birth. This is what the compiled-in path kept before views were SQL (a struct of country,
//! gender and age band).
//!
//! Equal narrow rows are one input with a count, in differential's collections and in the
//! checkpoint (`views`), so what a view holds, and what a restart reads back, grows with its
//! distinct (group, arguments) and not with the rows: `SUM(AGE(dob))` by country holds a
//! count per (country, age), whatever the users. A `COUNT(DISTINCT email)` still holds one
//! per distinct e-mail, which is the aggregate's own state.
//!
//! A kept row is laid out as:
//! - the state row's columns ([`super::Table::state_columns`]), when a view maps rows one to
//!   one (no aggregate, no `GROUP BY`); nothing otherwise;
//! - then for each view that aggregates: a flag whether its `WHERE` keeps the row (only when
//!   it has one), then its group key, then its aggregates' arguments in order.
//!
//! The views render over their narrow rows as planned views whose group keys and arguments are
//! the narrow row's columns ([`narrowed`]).
//!
//! A kept row is shared, not copied: the dedupe keeps it and sends it on, and the views'
//! routing reads it, and a copy of a shared row is a reference count where a copy of a row of
//! datums is a copy of each datum, and an allocation past four (`benches/views.rs`: the
//! default dataflow 10 % dearer, ten views 18 %).
//!
//! Expressions of the views that map rows index the state row's columns, which lead the kept
//! row, so they read it unchanged. Narrow rows (and the `WHERE` answers) are computed with the
//! [`Context`] of the process that reads the record (the day `AGE` counts to) and kept, in the
//! checkpoint too: a retraction takes away what was added, and a restart from the checkpoint
//! keeps the values of the day they were computed. Stored rows read back after a restart (the
//! fallback) are kept anew, so their values are those of the new process's day.

use std::sync::Arc;

use super::expr::{Context, Expr};
use super::plan::{Aggregate, View};
use super::types::{Datum, Row};

/// A kept row, shared by every copy the dedupe makes of it.
pub type KeptRow = Arc<[Datum]>;

/// Where a view finds what it reads in a kept row.
#[derive(Debug, Clone)]
enum Slot {
    /// The state row's columns, which lead the kept row.
    Rows,
    /// An aggregating view's narrow row at `at..at + len`, after a flag at `at - 1` when the
    /// view has a `WHERE`.
    Narrow { at: usize, len: usize, filtered: bool },
}

/// The kept row's layout for a dataflow's views.
#[derive(Debug, Clone)]
pub struct Kept {
    /// As planned: what the kept rows are computed with.
    planned: Vec<Arc<View>>,
    /// As rendered: over their narrow rows ([`narrowed`]), or as planned for views that map rows.
    views: Vec<Arc<View>>,
    slots: Vec<Slot>,
    /// How many of the state row's columns lead the kept row (0 when no view maps rows).
    state_len: usize,
    cx: Context,
}

/// Whether a view is `COUNT(*)`s by group only: its narrow rows are its group keys.
pub fn counts_only(view: &View) -> bool {
    view.grouped && view.aggregates.iter().all(|a| matches!(a, Aggregate::CountRows))
}

/// Whether a view reads whole state rows: one that maps rows one to one (no aggregate, no
/// `GROUP BY`). Every other view reads its narrow row.
pub fn reads_rows(view: &View) -> bool {
    !view.grouped
}

/// An aggregating view over its narrow rows: group key `i` is column `i`, and the aggregates'
/// arguments follow in order; no `WHERE` (the kept row says whether it keeps the row). `HAVING`
/// and the outputs read the grouped row, as planned.
pub fn narrowed(view: &View) -> View {
    let mut narrow = view.clone();
    narrow.filter = None;
    narrow.group = (0..view.group.len()).map(Expr::Column).collect();
    for (column, argument) in (view.group.len()..).zip(narrow.aggregates.iter_mut().filter_map(Aggregate::argument_mut)) {
        *argument = Expr::Column(column);
    }
    narrow
}

/// What a view's narrow row holds, in order: its group keys, then its aggregates' arguments
/// (the one order [`narrowed`] and [`Kept::row`] share).
fn narrow_exprs(view: &View) -> impl Iterator<Item = &Expr> {
    view.group.iter().chain(view.aggregates.iter().filter_map(Aggregate::argument))
}

impl Kept {
    /// The layout for `views` over state rows of `state_len` columns.
    pub fn new(planned: Vec<Arc<View>>, state_len: usize, cx: Context) -> Kept {
        let state_len = if planned.iter().any(|v| reads_rows(v)) { state_len } else { 0 };
        let mut at = state_len;
        let slots = planned
            .iter()
            .map(|view| {
                if reads_rows(view) {
                    return Slot::Rows;
                }
                let (filtered, len) = (view.filter.is_some(), narrow_exprs(view).count());
                let slot = Slot::Narrow { at: at + filtered as usize, len, filtered };
                at += filtered as usize + len;
                slot
            })
            .collect();
        let views = planned.iter().map(|view| if reads_rows(view) { view.clone() } else { Arc::new(narrowed(view)) }).collect();
        Kept { planned, views, slots, state_len, cx }
    }

    /// The views as rendered (over their narrow rows, [`narrowed`]), in their dataflow's order.
    pub fn views(&self) -> &[Arc<View>] {
        &self.views
    }

    /// The context the narrow rows are computed in.
    pub fn context(&self) -> Context {
        self.cx
    }

    /// The kept row of a state row.
    pub fn row(&self, mut state: Row) -> KeptRow {
        let mut kept = Vec::with_capacity(self.len());
        for (view, slot) in self.planned.iter().zip(&self.slots) {
            if let Slot::Narrow { filtered, len, .. } = slot {
                let keeps = view.keeps(&state, &self.cx);
                if *filtered {
                    kept.push(Datum::Bool(keeps));
                }
                if keeps {
                    kept.extend(narrow_exprs(view).map(|e| e.eval(&state, &self.cx)));
                } else {
                    kept.extend(std::iter::repeat_n(Datum::Null, *len));
                }
            }
        }
        if self.state_len == 0 {
            return kept.into();
        }
        state.truncate(self.state_len);
        state.into_iter().chain(kept).collect()
    }

    /// How many datums a kept row holds.
    fn len(&self) -> usize {
        self.slots.iter().map(|slot| if let Slot::Narrow { len, filtered, .. } = slot { len + *filtered as usize } else { 0 }).sum::<usize>() + self.state_len
    }

    /// What view `index` reads of a kept row: its narrow row, for a view that aggregates (none
    /// when its `WHERE` drops the row), or `None` for a view that reads the row itself.
    pub fn narrow<'a>(&self, index: usize, kept: &'a [Datum]) -> Option<Option<&'a [Datum]>> {
        match self.slots[index] {
            Slot::Rows => None,
            Slot::Narrow { at, len, filtered } => Some((!filtered || kept[at - 1] == Datum::Bool(true)).then(|| &kept[at..at + len])),
        }
    }

    /// What each view reads of a kept row, as `(view, narrow row or state row)`: what the views'
    /// routing ([`super::render::render_views`]) hands them for it, so a checkpoint of these
    /// restores the views as they were.
    pub fn view_inputs(&self, kept: &[Datum]) -> Vec<(u64, Row)> {
        let mut state: Option<Row> = None;
        let mut inputs = Vec::new();
        for (index, view) in self.views.iter().enumerate() {
            match self.narrow(index, kept) {
                Some(None) => {}
                Some(Some(narrow)) => inputs.push((index as u64, Row::from(narrow))),
                None => {
                    let state = state.get_or_insert_with(|| self.state_row(kept));
                    if view.keeps(state, &self.cx) {
                        inputs.push((index as u64, state.clone()));
                    }
                }
            }
        }
        inputs
    }

    /// The state row at the head of a kept row, for the views that map rows.
    pub fn state_row(&self, kept: &[Datum]) -> Row {
        Row::from(&kept[..self.state_len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::Program;

    #[test]
    fn a_view_that_aggregates_keeps_its_narrow_row_and_renders_over_it() {
        let program = Program::parse(
            "CREATE TABLE users (id UUID PRIMARY KEY, country TEXT, email TEXT, gender TEXT) WITH (connector = 'kafka', topic = 't');\n\
             CREATE TABLE rows WITH (connector = 'jsonl') AS SELECT * FROM users;\n\
             CREATE MATERIALIZED VIEW v AS SELECT country, MAX(LOWER(email)) AS last, COUNT(*) AS n FROM users WHERE gender = 'f' GROUP BY 1;\n",
            "test.sql",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let cx = Context { today: chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap(), now: None };
        let kept = Kept::new(program.views.iter().cloned().map(Arc::new).collect(), program.table.state_columns.len(), cx);
        let text = |s: &str| Datum::Text(s.into());
        let names = program.table.state_names();
        let state = |gender: &str| -> Row {
            names
                .iter()
                .map(|name| match *name {
                    "id" => Datum::Uuid(uuid::Uuid::from_u128(1)),
                    "country" => text("PT"),
                    "email" => text("A@x.com"),
                    "gender" => text(gender),
                    other => panic!("no column {other}"),
                })
                .collect()
        };
        // No state columns: the flag, the group key and MAX's argument, computed.
        let row = kept.row(state("f"));
        assert_eq!(&row[..], &[Datum::Bool(true), text("PT"), text("a@x.com")]);
        assert_eq!(kept.narrow(0, &row), Some(Some(&[text("PT"), text("a@x.com")][..])));
        let dropped = kept.row(state("m"));
        assert_eq!(&dropped[..], &[Datum::Bool(false), Datum::Null, Datum::Null]);
        assert_eq!(kept.narrow(0, &dropped), Some(None), "WHERE drops it");
        // The view renders over the narrow row: its key and MAX's argument are its columns.
        let rendered = &kept.views()[0];
        assert!(rendered.filter.is_none());
        assert!(matches!(rendered.group[..], [Expr::Column(0)]));
        assert!(matches!(rendered.aggregates[..], [Aggregate::Max(Expr::Column(1)), Aggregate::CountRows]));
    }
}
