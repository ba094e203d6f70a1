//! The dedupe state read back from Cassandra, for a worker that has no checkpoint to resume
//! from ([`crate::checkpoint`]) or runs with `--no-checkpoint`: the rows already
//! stored are read before timely starts (a worker thread makes no network call), by token
//! range, and handed to the dataflow at the first epoch as if just read.
//!
//! Limits: the scan reads every stored row, so it takes longer as the table grows.

use std::sync::atomic::Ordering;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::{Scope, Stream};

use super::CassandraTables;
use crate::connectors::retry;
use crate::metrics::ProcessCounters;
use crate::sql::Row;

/// Worker `index` of `peers`'s share of the stored rows, as state rows (the columns the views
/// read), retried until Cassandra answers.
pub async fn load_share(tables: &CassandraTables, index: usize, peers: usize, counters: &ProcessCounters) -> Vec<Row> {
    let rows = retry::forever("reading back the stored rows", || tables.scan_share(index, peers)).await;
    counters.state_rows_loaded.fetch_add(rows.len() as u64, Ordering::Relaxed);
    rows
}

/// A stream of `state` at `epoch`, once: the stored rows, older than anything read later.
pub fn stored_state<'scope, D: Clone + 'static>(scope: Scope<'scope, u64>, state: Vec<D>, epoch: u64) -> Stream<'scope, u64, Vec<(D, u64, isize)>> {
    source::<_, CapacityContainerBuilder<Vec<(D, u64, isize)>>, _, _>(scope, "StoredState", move |cap, _info| {
        let mut cap = Some(cap);
        let mut state = Some(state);
        move |output| {
            if let (Some(c), Some(rows)) = (cap.as_mut(), state.take()) {
                c.downgrade(&epoch);
                output.session(&*c).give_iterator(rows.into_iter().map(|d| (d, epoch, 1)));
            }
            cap = None;
        }
    })
}
