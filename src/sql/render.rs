//! Views onto differential dataflow: each view of the plan maintained over what it reads of the
//! latest version of each id (its narrow row, or the state row for a view that maps rows), as a
//! collection of `(key, row)`: the view's table, key by key.
//!
//! Aggregates render by class (see [`super::plan`]): the accumulable ones are sums carried in
//! the differences of one `count`; each `COUNT(DISTINCT x)` is a `distinct` on (group, x)
//! then a count; all `MIN`s and `MAX`s of a view share one `reduce` over (group, value), whose
//! input comes sorted, so the first and last values are the extremes. The classes meet in a
//! last `reduce` per group, which sees one value per class and writes the view's row. A view
//! of `COUNT(*)`s only is a single `count`.
//!
//! The views of a dataflow share one pass over the kept rows ([`render_views`], [`super::kept`]):
//! a view that aggregates finds its narrow row there (its group key and its aggregates'
//! arguments, computed once when the record was read) and is rendered over those
//! ([`super::kept::narrowed`]); a view that maps rows gets the state row when its `WHERE` keeps
//! it, so a row is not copied once per view.

use std::sync::Arc;

use std::collections::{BTreeMap, HashMap};

use differential_dataflow::{AsCollection, VecCollection};
use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::{Capability, Operator};
use timely::dataflow::Stream;
use timely::dataflow::operators::Concat;
use timely::dataflow::operators::vec::Partition;

use super::expr::Context;
use super::kept::{Kept, KeptRow, counts_only};
use super::plan::{Accums, Aggregate, View};
use super::types::{Datum, Row};

/// One class's values for a group, on their way to the group's row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
enum Part {
    /// The accumulable aggregates' sums.
    Sums(Accums),
    /// Aggregate `index`'s distinct count.
    Distinct(usize, i64),
    /// The extremes, by aggregate index (NULL for the aggregates of other classes).
    Extremes(Vec<Datum>),
}

/// Maintains every view of `kept` over `rows` (kept rows, [`Kept::row`]): each view's table
/// as `(key, row)`, in the order of its views.
pub fn render_views<'scope>(rows: VecCollection<'scope, u64, KeptRow>, kept: Arc<Kept>) -> Vec<VecCollection<'scope, u64, (Row, Row)>> {
    render_views_resumed(rows, kept, None)
}

/// [`render_views`], with the views' inputs restored from a checkpoint
/// ([`Kept::view_inputs`], consolidated) added to what the rows route to them.
pub fn render_views_resumed<'scope>(
    rows: VecCollection<'scope, u64, KeptRow>,
    kept: Arc<Kept>,
    restored: Option<Stream<'scope, u64, Vec<((u64, Row), u64, isize)>>>,
) -> Vec<VecCollection<'scope, u64, (Row, Row)>> {
    let views: Vec<Arc<View>> = kept.views().to_vec();
    if views.is_empty() {
        return Vec::new();
    }
    let cx = kept.context();
    // What each view needs of a row: its narrow row, or the row itself. The narrow rows are
    // counted here over each whole epoch first (a combiner, as Flink's local aggregation):
    // an epoch of thousands of rows becomes one update per distinct narrow row (per group,
    // for `COUNT(*)`s), so the views arrange a few dozen updates an epoch instead of one per
    // row. Per view, its narrow rows' counts (none for a view that maps rows); one already
    // counted is found by its slice of the kept row, so only a new one is copied.
    type Counts = Vec<HashMap<Row, isize, foldhash::fast::RandomState>>;
    let (all, count) = (views.clone(), views.len());
    let routed = rows
        .inner
        .unary_frontier::<CapacityContainerBuilder<Vec<((u64, Row), u64, isize)>>, _, _, _>(Pipeline, "RouteViews", move |_capability, _info| {
            let mut counting: BTreeMap<u64, (Capability<u64>, Counts)> = BTreeMap::new();
            move |(input, frontier), output| {
                input.for_each(|cap, data| {
                    let mut session = output.session(&cap);
                    for (row, time, diff) in data.drain(..) {
                        // The state row, made once a row when some view reads rows.
                        let mut state: Option<Row> = None;
                        for (index, view) in views.iter().enumerate() {
                            match kept.narrow(index, &row) {
                                Some(None) => {}
                                Some(Some(key)) => {
                                    let counts = &mut counting.entry(time).or_insert_with(|| (cap.delayed(&time, 0), vec![HashMap::default(); count])).1[index];
                                    match counts.get_mut(key) {
                                        Some(sum) => *sum += diff,
                                        None => {
                                            counts.insert(Row::from(key), diff);
                                        }
                                    }
                                }
                                None => {
                                    let state = state.get_or_insert_with(|| kept.state_row(&row));
                                    if view.keeps(state, &cx) {
                                        session.give(((index as u64, state.clone()), time, diff));
                                    }
                                }
                            }
                        }
                    }
                });
                // An epoch's counts go once no more of its rows can come.
                while let Some(entry) = counting.first_entry().filter(|e| !frontier.less_equal(e.key())) {
                    let (time, (cap, counts)) = entry.remove_entry();
                    let keys = counts.into_iter().enumerate().flat_map(|(index, keys)| keys.into_iter().map(move |(key, diff)| ((index as u64, key), diff)));
                    output.session(&cap).give_iterator(keys.filter(|(_, diff)| *diff != 0).map(|(key, diff)| (key, time, diff)));
                }
            }
        });
    let routed = match restored {
        Some(restored) => routed.concat(restored),
        None => routed,
    };
    let routed = routed.partition(count as u64, |((index, input), time, diff)| (index, (input, time, diff)));
    routed.into_iter().zip(all).map(|(stream, view)| maintain(stream.as_collection(), view, cx)).collect()
}

/// One view over what [`render_views`] routed to it: the rows its `WHERE` keeps, or their
/// narrow rows for a view that aggregates (then `view` is [`super::kept::narrowed`]).
fn maintain<'scope>(kept: VecCollection<'scope, u64, Row>, view: Arc<View>, cx: Context) -> VecCollection<'scope, u64, (Row, Row)> {
    let v = view.clone();
    if !view.grouped {
        return kept.map(move |row| {
            let out = v.project(&row, &cx);
            (v.key_of(&out), out)
        });
    }
    if counts_only(&view) {
        return kept.count().flat_map(move |(key, rows)| {
            let values = vec![Datum::Int(rows as i64); v.aggregates.len()];
            v.finish(&key, values, &cx).map(|out| (key, out))
        });
    }

    let sums = kept
        .clone()
        .explode({
            let v = view.clone();
            move |row| Some((v.group_key(&row, &cx), v.accumulate(&row, &cx)))
        })
        .count()
        .map(|(key, sums)| (key, Part::Sums(sums)));
    let mut parts = vec![sums];
    for (index, aggregate) in view.aggregates.iter().enumerate() {
        if let Aggregate::CountDistinct(_) = aggregate {
            let v = view.clone();
            let distinct = kept
                .clone()
                .flat_map(move |row| {
                    let Aggregate::CountDistinct(argument) = &v.aggregates[index] else { unreachable!("matched above") };
                    let value = argument.eval(&row, &cx);
                    (!value.is_null()).then(|| (v.group_key(&row, &cx), value))
                })
                .distinct()
                .map(|(key, _)| key)
                .count()
                .map(move |(key, values)| (key, Part::Distinct(index, values as i64)));
            parts.push(distinct);
        }
    }
    let extremes: Vec<usize> = view.aggregates.iter().enumerate().filter(|(_, a)| matches!(a, Aggregate::Min(_) | Aggregate::Max(_))).map(|(i, _)| i).collect();
    if !extremes.is_empty() {
        let (v, wanted) = (view.clone(), extremes.clone());
        let count = view.aggregates.len();
        let values = kept
            .clone()
            .flat_map(move |row| {
                let key = v.group_key(&row, &cx);
                wanted
                    .iter()
                    .filter_map(|&index| {
                        let (Aggregate::Min(argument) | Aggregate::Max(argument)) = &v.aggregates[index] else { unreachable!("extremes only") };
                        let value = argument.eval(&row, &cx);
                        (!value.is_null()).then(|| (key.clone(), (index, value)))
                    })
                    .collect::<Vec<_>>()
            })
            .reduce({
                let v = view.clone();
                move |_key: &Row, values: &[(&(usize, Datum), isize)], output: &mut Vec<(Part, isize)>| {
                    // Sorted by (aggregate, value): a MIN takes its first value, a MAX its last.
                    let mut out = vec![Datum::Null; count];
                    for ((index, value), _) in values {
                        let first = out[*index].is_null();
                        if first || matches!(v.aggregates[*index], Aggregate::Max(_)) {
                            out[*index] = value.clone();
                        }
                    }
                    output.push((Part::Extremes(out), 1));
                }
            });
        parts.push(values);
    }

    let v = view.clone();
    let mut all = parts.into_iter();
    let first = all.next().expect("the sums");
    all.fold(first, |a, b| a.concat(b)).reduce(move |key: &Row, parts: &[(&Part, isize)], output: &mut Vec<(Row, isize)>| {
        let mut sums = None;
        let mut values: Vec<Option<Datum>> = vec![None; v.aggregates.len()];
        for (part, _) in parts {
            match part {
                Part::Sums(s) => sums = Some(s),
                Part::Distinct(index, count) => values[*index] = Some(Datum::Int(*count)),
                Part::Extremes(extremes) => {
                    for (index, value) in extremes.iter().enumerate() {
                        if matches!(v.aggregates[index], Aggregate::Min(_) | Aggregate::Max(_)) {
                            values[index] = Some(value.clone());
                        }
                    }
                }
            }
        }
        // A group exists while it has rows.
        let Some(sums) = sums else { return };
        let accumulated = v.accumulated(sums);
        // A group whose values are all NULL has no distinct values: a count of 0.
        let row: Vec<Datum> = values
            .into_iter()
            .zip(accumulated)
            .zip(&v.aggregates)
            .map(|((value, sum), aggregate)| sum.or(value).unwrap_or(if matches!(aggregate, Aggregate::CountDistinct(_)) { Datum::Int(0) } else { Datum::Null }))
            .collect();
        if let Some(out) = v.finish(key, row, &cx) {
            output.push((out, 1));
        }
    })
}
