//! One worker's dataflow: parse and check, the rows sink, the dead-letter sink, the dedupe
//! (latest version per id) and the aggregates, all ending in the probe that says which epochs
//! are durable.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use compact_str::CompactString;
use backon::Retryable;
use differential_dataflow::AsCollection;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::Scope;
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::{Concatenate, OkErr, Probe};
use uuid::Uuid;

use super::{AsyncSink, AsyncSinkOptions, Incoming, ProcessState, kafka_source, write_time};
use crate::connectors::ServiceError;
use crate::connectors::cassandra::{CassandraSink, batches, row_size, write_splitting};
use crate::connectors::retry;
use crate::model::checks::check;
use crate::model::{Change, Checks, Dims, Rejected, User};

/// Row write rounds in flight per worker: a slow write holds back its own rows only.
const ROW_ROUNDS: usize = 4;

/// How often an aggregate's changed values are written at most: each round writes every key
/// that changed since the last, so fewer rounds mean fewer writes for the same result.
const AGGREGATES_EVERY: Duration = Duration::from_millis(100);

/// Builds one worker's dataflow.
pub(super) fn build(scope: Scope<'_, u64>, state: Arc<ProcessState>, durable: ProbeHandle<u64>, first_epoch: u64, loaded: Vec<(Uuid, Dims)>) {
    let load_epoch = first_epoch;
    let records = kafka_source(scope, state.clone(), durable.clone(), first_epoch + 1);

    // Parse and check; rejected records keep their raw text and the reason.
    let (checks, today, max_bytes) = (state.checks.clone(), state.today, state.source.max_message_bytes);
    let topic = state.source.topic.clone();
    let (parsed, rejected) = records.ok_err::<Vec<_>, _, Vec<_>, _, _>(move |(incoming, epoch, diff): (Incoming, u64, isize)| {
        match parse_change(incoming.key.as_deref(), incoming.payload.as_deref(), max_bytes, &checks) {
            Ok(change) => {
                // A delete counts in no aggregate: its dims are none.
                let dims = match &change {
                    Change::Upsert(user) => Some(Dims::of_user(user, today)),
                    Change::Delete(_) => None,
                };
                let version = Version { epoch, offset: incoming.offset };
                Ok(((change, incoming.produced_ms, dims, version), epoch, diff))
            }
            Err(reason) => {
                let source = format!("{topic}/{}@{}", incoming.partition, incoming.offset);
                let payload = incoming.payload.as_deref().unwrap_or_default();
                let raw = String::from_utf8_lossy(&payload[..payload.len().min(max_bytes)]).into_owned();
                Err(((Rejected { raw, reason }, source), epoch, diff))
            }
        }
    });

    // Rows to the rows sink, (id, dims) to the dedupe: split rather than shared, so no row
    // is cloned for a second consumer.
    type Split = Result<((Change, Option<i64>), u64, isize), ((Uuid, (Version, Option<Dims>)), u64, isize)>;
    let (rows, fresh) = parsed
        .flat_map(|((change, produced_ms, dims, version), epoch, diff): ((Change, Option<i64>, Option<Dims>, Version), u64, isize)| -> [Split; 2] {
            let id = change.id();
            [Ok(((change, produced_ms), epoch, diff)), Err(((id, (version, dims)), epoch, diff))]
        })
        .ok_err::<Vec<_>, _, Vec<_>, _, _>(|split| split);

    let runtime = state.runtime.clone();
    let epoch_ms = state.source.epoch_ms;
    let concurrency = state.sink_plan.concurrency.max(1);

    // Rows: idempotent upserts, written by the worker that read them, in unlogged batches of
    // rows of one token range (so of one replica set).
    let rows_state = state.clone();
    let (batch_rows, batch_bytes) = (state.sink_plan.batch_rows.max(1), state.sink_plan.batch_bytes);
    let options = |rounds, every| AsyncSinkOptions { runtime: runtime.clone(), rounds, every };
    let rows_done = rows.async_sink("RowsSink", options(ROW_ROUNDS, Duration::ZERO), move |epoch, updates: Vec<((Change, Option<i64>), isize)>| {
        let state = rows_state.clone();
        async move {
            let timestamp = write_time(epoch, epoch_ms);
            // Latest version wins: every row of a round gets the round's write time, so of two
            // versions of an id only the later one (updates come in epoch order, and an epoch's
            // in Kafka order) may be written; a later round writes with a later time.
            let (mut rows, deletes) = upserts_and_deletes(latest_per_id(updates));
            if !deletes.is_empty() {
                let (state, sink) = (&state, &state.sink);
                futures::stream::iter(&deletes)
                    .for_each_concurrent(concurrency, |id| async move {
                        state.timed(retry::forever("delete", || sink.delete_user(*id, timestamp))).await;
                    })
                    .await;
                state.counters.rows_deleted.fetch_add(deletes.len() as u64, Ordering::Relaxed);
            }
            // Sorted in place and written in slices: a round can hold tens of thousands of rows
            // while catching up, and a copy of them is what a heap profile found most of.
            rows.sort_by_cached_key(|((user, _), _)| state.sink.token(user.id));
            let rows = &rows;
            let sink = state.sink.clone();
            // Batches within a token range only, so a batch goes to the replicas of all its rows.
            let parts = sink.token_ranges().parts(rows, |((user, _), _)| sink.token(user.id));
            let ranges = parts.into_iter().flat_map(|part| {
                let offset = part.start;
                batches(&rows[part], batch_rows, batch_bytes, |((user, _), _)| row_size(user)).into_iter().map(move |r| r.start + offset..r.end + offset)
            });
            let write = rows_writer(&sink, timestamp);
            let write = &write;
            let outcomes: Vec<(Vec<u64>, Vec<Rejected>)> = futures::stream::iter(ranges)
                .map(|range| {
                    let state = &state;
                    let batch = &rows[range];
                    async move {
                        let refused = state.timed(write_splitting(batch, write)).await;
                        // Produce to acknowledged write, the pipeline's end-to-end latency.
                        let now = Utc::now().timestamp_millis();
                        let refused_ids: Vec<Uuid> = refused.iter().map(|(((user, _), _), _)| user.id).collect();
                        let latencies = batch
                            .iter()
                            .filter(|((user, _), _)| !refused_ids.contains(&user.id))
                            .filter_map(|((_, produced_ms), _)| produced_ms.map(|p| (now - p).max(0) as u64))
                            .collect();
                        let dead = refused
                            .into_iter()
                            .map(|(((user, _), _), error)| {
                                let mut raw = Vec::new();
                                user.write_json(&mut raw);
                                Rejected { raw: String::from_utf8_lossy(&raw).into_owned(), reason: format!("the rows store refused it: {error}") }
                            })
                            .collect();
                        (latencies, dead)
                    }
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
            let dead: Vec<Rejected> = outcomes.iter().flat_map(|(_, dead)| dead.iter().cloned()).collect();
            state.record_latencies(outcomes.iter().flat_map(|(latencies, _)| latencies));
            // Rows the store refused go to the dead-letter topic before the epoch may close.
            if !dead.is_empty() {
                tracing::warn!(rows = dead.len(), reason = %dead[0].reason, "Cassandra refused rows; sending them to the dead-letter topic");
                let source = format!("cassandra/{}.{}", state.sink_plan.keyspace, state.sink_plan.table);
                deliver_dead_letters(&state, &dead, &source).await;
                state.counters.rejected.fetch_add(dead.len() as u64, Ordering::Relaxed);
                state.counters.refused.fetch_add(dead.len() as u64, Ordering::Relaxed);
            }
            state.counters.rows_written.fetch_add((rows.len() - dead.len()) as u64, Ordering::Relaxed);
        }
    });

    // Dead letters: to TOPIC.dlq with the reason, acknowledged before the epoch closes.
    let dlq_state = state.clone();
    let dead_done = rejected.async_sink("DeadLetterSink", options(1, Duration::ZERO), move |_epoch, updates: Vec<((Rejected, String), isize)>| {
        let state = dlq_state.clone();
        async move {
            let count = updates.len() as u64;
            for ((rejected, source), _) in updates {
                deliver_dead_letters(&state, &[rejected], &source).await;
            }
            state.counters.rejected.fetch_add(count, Ordering::Relaxed);
        }
    });

    // Dedupe by id over loaded state plus new rows, then count per aggregate.
    // Stored rows are older than every record read from Kafka in this run.
    let stored = Version { epoch: load_epoch, offset: -1 };
    let loaded = source::<_, CapacityContainerBuilder<Vec<((Uuid, (Version, Option<Dims>)), u64, isize)>>, _, _>(scope, "StateScan", move |cap, _info| {
        let mut cap = Some(cap);
        let mut loaded = Some(loaded);
        move |output| {
            if let (Some(c), Some(rows)) = (cap.as_mut(), loaded.take()) {
                c.downgrade(&load_epoch);
                output.session(&*c).give_iterator(rows.into_iter().map(|(id, dims)| ((id, (stored, Some(dims))), load_epoch, 1)));
            }
            cap = None;
        }
    });
    // The latest version of each id (values come sorted, so the last one): a user whose
    // country changes moves from one count to the other, and a deleted one leaves its counts.
    let unique = loaded.as_collection().concat(fresh.as_collection()).reduce(
        |_id: &Uuid, versions: &[(&(Version, Option<Dims>), isize)], output: &mut Vec<(Dims, isize)>| {
            let latest = versions.iter().rev().find(|(_, count)| *count > 0).map(|(v, _)| &v.1);
            if let Some(Some(dims)) = latest {
                output.push((dims.clone(), 1));
            }
        },
    );
    let mut done = vec![rows_done, dead_done];
    for (index, (name, dimension)) in state.aggregates.iter().enumerate() {
        let dimension = *dimension;
        let counts = unique.clone().map(move |(_, dims)| dims.value(dimension)).count();
        let agg_state = state.clone();
        let name = name.clone();
        done.push(counts.inner.async_sink(&format!("Aggregate:{name}"), options(1, AGGREGATES_EVERY), move |epoch, updates: Vec<((CompactString, isize), isize)>| {
            let state = agg_state.clone();
            async move {
                let timestamp = write_time(epoch, epoch_ms);
                // A round may span epochs: the last count of a key is its current one.
                let latest: HashMap<String, i64> =
                    updates.into_iter().filter(|(_, diff)| *diff > 0).map(|((key, count), _)| (key.into_string(), count as i64)).collect();
                let writes = latest.len() as u64;
                // Each key is a partition of its own: one statement per key, a bounded number
                // in flight (a batch across keys is what Cassandra warns about).
                let state = &state;
                futures::stream::iter(&latest)
                    .for_each_concurrent(concurrency, |(key, users)| async move {
                        state.timed(retry::forever("aggregate", || state.sink.write_aggregate(index, key, *users, timestamp))).await;
                    })
                    .await;
                state.counters.aggregate_writes.fetch_add(writes, Ordering::Relaxed);
            }
        }));
    }
    scope.concatenate(done).probe_with(&durable);
}

/// A row to write: the formatted user and its produce time.
type RowUpdate = ((User, Option<i64>), isize);

/// Writes a slice of rows as one request, at `timestamp`.
fn rows_writer<'a>(sink: &'a CassandraSink, timestamp: i64) -> impl Fn(&'a [RowUpdate]) -> BoxFuture<'a, Result<(), ServiceError>> + Sync + 'a {
    move |batch| sink.write_users(batch.iter().map(|((user, _), _)| user), timestamp).boxed()
}

/// Sends dead letters until Kafka acknowledged them all.
async fn deliver_dead_letters(state: &ProcessState, dead: &[Rejected], source: &str) {
    let delivered = (|| state.dlq.send(&[], dead, source))
        .retry(retry::backoff())
        .notify(|e: &ServiceError, wait| tracing::warn!(error = %e, ?wait, "dead letters not delivered; retrying"))
        .await;
    delivered.map(|_| ()).unwrap_or_else(|_| unreachable!("the backoff has no limit"));
}

/// Where a record stands in the order of versions: a later epoch wins, and within an epoch
/// a later offset (an id is keyed to one partition, so that is Kafka's order for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version {
    pub epoch: u64,
    pub offset: i64,
}

/// The last change of each id, in their original order otherwise.
///
/// ```
/// # use rtds::engine::cluster::latest_per_id;
/// # use rtds::model::{Change, User};
/// let user = |id: u128, name: &str| {
///     let row = serde_json::json!({ "id": uuid::Uuid::from_u128(id), "first_name": name });
///     (Change::Upsert(serde_json::from_value::<User>(row).unwrap()), None)
/// };
/// let delete = |id: u128| (Change::Delete(uuid::Uuid::from_u128(id)), None);
/// let rows = latest_per_id(vec![(user(1, "old"), 1), (user(2, "b"), 1), (user(1, "new"), 1), (delete(2), 1)]);
/// let kept: Vec<_> = rows.iter().map(|((change, _), _)| match change {
///     Change::Upsert(user) => user.first_name.clone().unwrap(),
///     Change::Delete(_) => "deleted".to_string(),
/// }).collect();
/// assert_eq!(kept, ["new", "deleted"]);
/// ```
pub fn latest_per_id(updates: Vec<((Change, Option<i64>), isize)>) -> Vec<((Change, Option<i64>), isize)> {
    let mut last: HashMap<Uuid, usize> = HashMap::with_capacity(updates.len());
    for (index, ((change, _), _)) in updates.iter().enumerate() {
        last.insert(change.id(), index);
    }
    if last.len() == updates.len() {
        return updates;
    }
    updates.into_iter().enumerate().filter(|(index, ((change, _), _))| last[&change.id()] == *index).map(|(_, update)| update).collect()
}

/// The rows to upsert, and the ids to delete.
fn upserts_and_deletes(changes: Vec<((Change, Option<i64>), isize)>) -> (Vec<RowUpdate>, Vec<Uuid>) {
    let mut upserts = Vec::with_capacity(changes.len());
    let mut deletes = Vec::new();
    for ((change, produced_ms), diff) in changes {
        match change {
            Change::Upsert(user) => upserts.push(((user, produced_ms), diff)),
            Change::Delete(id) => deletes.push(id),
        }
    }
    (upserts, deletes)
}

/// A Kafka message (key and value; no value is a tombstone) to a checked change, or the
/// reason it is rejected.
pub fn parse_change(key: Option<&[u8]>, payload: Option<&[u8]>, max_bytes: usize, checks: &Checks) -> Result<Change, String> {
    if let Some(payload) = payload.filter(|p| p.len() > max_bytes) {
        return Err(format!("message of {} bytes is over the {max_bytes}-byte limit", payload.len()));
    }
    let change = Change::from_message(key, payload)?;
    if let Change::Upsert(user) = &change {
        check(user, checks, Utc::now())?;
    }
    Ok(change)
}
