//! What the dedupe keeps per id: not the whole state row, but what the views read of it.
//!
//! The dedupe ([`crate::operators::Upsert`]) keeps one row per id and sends it on to the
//! views, so the narrower that row, the cheaper every record and the less memory. A view of
//! `COUNT(*)`s only needs nothing of a row but its group key (or that `WHERE` drops it), so
//! the kept row holds that key, computed once when the record is read, rather than the
//! columns it is computed from: the default dataflow's three counts keep three short texts
//! per id instead of the id, country, gender and date of birth. This is what the compiled-in
//! path kept before views were SQL (a struct of country, gender and age band).
//!
//! A kept row is laid out as:
//! - the state row's columns ([`super::Table::state_columns`]), when some view needs rows
//!   (aggregates other than `COUNT(*)`, or no `GROUP BY`); nothing otherwise;
//! - then for each `COUNT(*)`-only view: a flag whether its `WHERE` keeps the row (only when
//!   it has one), then its group key.
//!
//! A kept row is shared, not copied: the dedupe keeps it and sends it on, and the views'
//! routing reads it, and a copy of a shared row is a reference count where a copy of a row of
//! datums is a copy of each datum, and an allocation past four (`benches/views.rs`: the
//! default dataflow 10 % dearer, ten views 18 %).
//!
//! Expressions of the views that need rows index the state row's columns, which lead the kept
//! row, so they read it unchanged. Keys are computed with the [`Context`] of the process (the
//! day `AGE` counts to), as the views were before; stored rows read back after a restart are
//! kept the same way, so their keys are those of the new process's day.

use std::sync::Arc;

use super::expr::Context;
use super::plan::{Aggregate, View};
use super::types::{Datum, Row};

/// A kept row, shared by every copy the dedupe makes of it.
pub type KeptRow = Arc<[Datum]>;

/// Where a view finds what it reads in a kept row.
#[derive(Debug, Clone)]
enum Slot {
    /// The state row's columns, which lead the kept row.
    Rows,
    /// A `COUNT(*)`-only view's group key at `at..at + len`, after a flag at `at - 1` when
    /// the view has a `WHERE`.
    Key { at: usize, len: usize, filtered: bool },
}

/// The kept row's layout for a dataflow's views.
#[derive(Debug, Clone)]
pub struct Kept {
    views: Vec<Arc<View>>,
    slots: Vec<Slot>,
    /// How many of the state row's columns lead the kept row (0 when no view needs rows).
    state_len: usize,
    cx: Context,
}

/// Whether a view is `COUNT(*)`s by group only: its rows reduce to their group keys.
pub fn counts_only(view: &View) -> bool {
    view.grouped && view.aggregates.iter().all(|a| matches!(a, Aggregate::CountRows))
}

impl Kept {
    /// The layout for `views` over state rows of `state_len` columns.
    pub fn new(views: Vec<Arc<View>>, state_len: usize, cx: Context) -> Kept {
        let state_len = if views.iter().all(|v| counts_only(v)) { 0 } else { state_len };
        let mut at = state_len;
        let slots = views
            .iter()
            .map(|view| {
                if !counts_only(view) {
                    return Slot::Rows;
                }
                let filtered = view.filter.is_some();
                let slot = Slot::Key { at: at + filtered as usize, len: view.group.len(), filtered };
                at += filtered as usize + view.group.len();
                slot
            })
            .collect();
        Kept { views, slots, state_len, cx }
    }

    /// The views, in their dataflow's order.
    pub fn views(&self) -> &[Arc<View>] {
        &self.views
    }

    /// The context the keys are computed in.
    pub fn context(&self) -> Context {
        self.cx
    }

    /// The kept row of a state row.
    pub fn row(&self, mut state: Row) -> KeptRow {
        let mut kept = Vec::with_capacity(self.len());
        for (view, slot) in self.views.iter().zip(&self.slots) {
            if let Slot::Key { filtered, .. } = slot {
                let keeps = view.keeps(&state, &self.cx);
                if *filtered {
                    kept.push(Datum::Bool(keeps));
                }
                if keeps {
                    kept.extend(view.group.iter().map(|e| e.eval(&state, &self.cx)));
                } else {
                    kept.extend(std::iter::repeat_n(Datum::Null, view.group.len()));
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
        self.slots.iter().map(|slot| if let Slot::Key { len, filtered, .. } = slot { len + *filtered as usize } else { 0 }).sum::<usize>() + self.state_len
    }

    /// What view `index` reads of a kept row: its group key, for a `COUNT(*)`-only view (none
    /// when its `WHERE` drops the row), or `None` for a view that reads the row itself.
    pub fn key<'a>(&self, index: usize, kept: &'a [Datum]) -> Option<Option<&'a [Datum]>> {
        match self.slots[index] {
            Slot::Rows => None,
            Slot::Key { at, len, filtered } => Some((!filtered || kept[at - 1] == Datum::Bool(true)).then(|| &kept[at..at + len])),
        }
    }

    /// What each view reads of a kept row, as `(view, group key or state row)`: what the views'
    /// routing ([`super::render::render_views`]) hands them for it, so a checkpoint of these
    /// restores the views as they were.
    pub fn view_inputs(&self, kept: &[Datum]) -> Vec<(u64, Row)> {
        let mut state: Option<Row> = None;
        let mut inputs = Vec::new();
        for (index, view) in self.views.iter().enumerate() {
            match self.key(index, kept) {
                Some(None) => {}
                Some(Some(key)) => inputs.push((index as u64, Row::from(key))),
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

    /// The state row at the head of a kept row, for the views that read rows.
    pub fn state_row(&self, kept: &[Datum]) -> Row {
        Row::from(&kept[..self.state_len])
    }

    /// Whether view `index` reads rows ([`Kept::state_row`]) rather than a key.
    pub fn reads_rows(&self, index: usize) -> bool {
        matches!(self.slots[index], Slot::Rows)
    }
}
