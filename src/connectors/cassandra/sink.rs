//! The Cassandra sinks: the rows of `created_users` and the values of each aggregate, as
//! extension traits on timely streams.
//!
//! Semantics and limits:
//! - Every write is an upsert or a delete carrying `USING TIMESTAMP` of its epoch
//!   ([`write_time`](super::write_time)), so writes of different epochs may land in any
//!   order and a replay after a crash leaves the same state.
//! - Latest version wins: a write round writes only the last change of each id (updates
//!   come in epoch order, and an epoch's in Kafka order); later rounds write later times.
//! - Rows go in unlogged batches of one token range (so one replica set) of at most
//!   `batch_rows` rows and `batch_bytes` bytes; a batch Cassandra refuses is split down to
//!   the row, and a row refused alone goes to the dead letters with Cassandra's message.
//! - Aggregate values go one statement per key (each key is a partition of its own).
//! - Each sink holds its epochs open until every write was acknowledged (see
//!   [`AsyncSink`]): transient failures are retried without a limit.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use compact_str::CompactString;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use timely::dataflow::Stream;
use uuid::Uuid;

use super::{CassandraTables, batches, row_size, write_splitting, write_time};
use crate::connectors::{DeadLetters, ServiceError, retry};
use crate::metrics::{Latencies, ProcessCounters};
use crate::model::{Change, Rejected, User};
use crate::operators::{AsyncSink, AsyncSinkOptions};

/// Row write rounds in flight per worker: a slow write holds back only its own rows.
const ROW_ROUNDS: usize = 4;

/// How often an aggregate's changed values are written at most: each round writes every key
/// that changed since the last, so fewer rounds mean fewer writes for the same result.
const AGGREGATES_EVERY: Duration = Duration::from_millis(100);

/// A change to write and its produce time (milliseconds), for end-to-end latency.
pub type RowChange = (Change, Option<i64>);

/// How the Cassandra sinks of a worker write.
#[derive(Clone)]
pub struct CassandraSinkOptions {
    /// Where the writes run.
    pub runtime: tokio::runtime::Handle,
    pub tables: Arc<CassandraTables>,
    /// The length of an epoch, for write times.
    pub epoch_ms: u64,
    /// Most rows and bytes in one batch.
    pub batch_rows: usize,
    pub batch_bytes: usize,
    /// Write requests in flight per round.
    pub concurrency: usize,
    /// Where rows Cassandra refuses go.
    pub dead_letters: Arc<dyn DeadLetters>,
    pub counters: Arc<ProcessCounters>,
    pub latencies: Arc<Latencies>,
}

/// Writes a stream of changes to the rows table.
pub trait CassandraRows<'scope> {
    /// Upserts and deletes rows; the returned stream's frontier passes an epoch once all its
    /// rows are acknowledged (or dead-lettered, if Cassandra refused them).
    fn cassandra_rows(self, options: CassandraSinkOptions) -> Stream<'scope, u64, Vec<()>>;
}

/// Writes the counts of one aggregate.
pub trait CassandraAggregate<'scope> {
    /// Upserts `(key, users)` counts into aggregate `index` of the tables; the latest count
    /// of a key in a round is its value.
    fn cassandra_aggregate(self, index: usize, options: CassandraSinkOptions) -> Stream<'scope, u64, Vec<()>>;
}

impl<'scope> CassandraRows<'scope> for Stream<'scope, u64, Vec<(RowChange, u64, isize)>> {
    fn cassandra_rows(self, options: CassandraSinkOptions) -> Stream<'scope, u64, Vec<()>> {
        let sink = AsyncSinkOptions { runtime: options.runtime.clone(), rounds: ROW_ROUNDS, every: Duration::ZERO };
        let options = Arc::new(options);
        self.async_sink("RowsSink", sink, move |epoch, updates: Vec<(RowChange, isize)>| {
            let options = options.clone();
            async move { write_rows(&options, write_time(epoch, options.epoch_ms), updates).await }
        })
    }
}

impl<'scope> CassandraAggregate<'scope> for Stream<'scope, u64, Vec<((CompactString, isize), u64, isize)>> {
    fn cassandra_aggregate(self, index: usize, options: CassandraSinkOptions) -> Stream<'scope, u64, Vec<()>> {
        let name = format!("Aggregate:{}", options.tables.aggregate_name(index));
        let sink = AsyncSinkOptions { runtime: options.runtime.clone(), rounds: 1, every: AGGREGATES_EVERY };
        let options = Arc::new(options);
        self.async_sink(&name, sink, move |epoch, updates: Vec<((CompactString, isize), isize)>| {
            let options = options.clone();
            async move {
                let timestamp = write_time(epoch, options.epoch_ms);
                // A round may span epochs: the last count of a key is its current one.
                let latest: HashMap<String, i64> =
                    updates.into_iter().filter(|(_, diff)| *diff > 0).map(|((key, count), _)| (key.into_string(), count as i64)).collect();
                let o = &options;
                futures::stream::iter(&latest)
                    .for_each_concurrent(o.concurrency.max(1), |(key, users)| async move {
                        o.latencies.timed(retry::forever("aggregate", || o.tables.write_aggregate(index, key, *users, timestamp))).await;
                    })
                    .await;
                o.counters.aggregate_writes.fetch_add(latest.len() as u64, Ordering::Relaxed);
            }
        })
    }
}

/// One round of row changes at `timestamp`.
async fn write_rows(o: &CassandraSinkOptions, timestamp: i64, updates: Vec<(RowChange, isize)>) {
    let (mut rows, deletes) = upserts_and_deletes(latest_per_id(updates));
    if !deletes.is_empty() {
        futures::stream::iter(&deletes)
            .for_each_concurrent(o.concurrency.max(1), |id| async move {
                o.latencies.timed(retry::forever("delete", || o.tables.delete_user(*id, timestamp))).await;
            })
            .await;
        o.counters.rows_deleted.fetch_add(deletes.len() as u64, Ordering::Relaxed);
    }
    // Sorted in place and written in slices: a round can hold tens of thousands of rows
    // while catching up, and a copy of them is what a heap profile found most of.
    rows.sort_by_cached_key(|((user, _), _)| o.tables.token(user.id));
    let rows = &rows;
    // Batches within a token range only, so a batch goes to the replicas of all its rows.
    let parts = o.tables.token_ranges().parts(rows, |((user, _), _)| o.tables.token(user.id));
    let ranges = parts.into_iter().flat_map(|part| {
        let offset = part.start;
        batches(&rows[part], o.batch_rows.max(1), o.batch_bytes, |((user, _), _)| row_size(user))
            .into_iter()
            .map(move |r| r.start + offset..r.end + offset)
    });
    let write = rows_writer(&o.tables, timestamp);
    let write = &write;
    let outcomes: Vec<(Vec<u64>, Vec<Rejected>)> = futures::stream::iter(ranges)
        .map(|range| {
            let batch = &rows[range];
            async move {
                let refused = o.latencies.timed(write_splitting(batch, write)).await;
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
        .buffer_unordered(o.concurrency.max(1))
        .collect()
        .await;
    let dead: Vec<Rejected> = outcomes.iter().flat_map(|(_, dead)| dead.iter().cloned()).collect();
    o.latencies.record_end_to_end(outcomes.iter().flat_map(|(latencies, _)| latencies));
    // Rows the store refused go to the dead letters before the epoch may close.
    if !dead.is_empty() {
        tracing::warn!(rows = dead.len(), reason = %dead[0].reason, "Cassandra refused rows; sending them to the dead-letter topic");
        let source = format!("cassandra/{}.{}", o.tables.keyspace(), o.tables.table());
        o.dead_letters.deliver(&dead, &source).await;
        o.counters.rejected.fetch_add(dead.len() as u64, Ordering::Relaxed);
        o.counters.refused.fetch_add(dead.len() as u64, Ordering::Relaxed);
    }
    o.counters.rows_written.fetch_add((rows.len() - dead.len()) as u64, Ordering::Relaxed);
}

/// A row to write: the formatted user and its produce time.
type RowUpdate = ((User, Option<i64>), isize);

/// Writes a slice of rows as one request, at `timestamp`.
fn rows_writer<'a>(tables: &'a CassandraTables, timestamp: i64) -> impl Fn(&'a [RowUpdate]) -> BoxFuture<'a, Result<(), ServiceError>> + Sync + 'a {
    move |batch| tables.write_users(batch.iter().map(|((user, _), _)| user), timestamp).boxed()
}

/// The last change of each id, in their original order otherwise.
///
/// ```
/// # use rtds::connectors::cassandra::latest_per_id;
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
pub fn latest_per_id(updates: Vec<(RowChange, isize)>) -> Vec<(RowChange, isize)> {
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
fn upserts_and_deletes(changes: Vec<(RowChange, isize)>) -> (Vec<RowUpdate>, Vec<Uuid>) {
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
