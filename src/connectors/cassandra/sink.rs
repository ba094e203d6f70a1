//! The Cassandra sinks: the rows of the rows table and the rows of each view, as extension
//! traits on timely streams.
//!
//! Semantics and limits:
//! - Order comes from the data, never from a clock. A row is written with `USING TIMESTAMP`
//!   of its change's version (the PostgreSQL commit LSN, see [`Version`]), so of two versions
//!   the later wins whichever write lands first, and a replay after a crash changes nothing.
//!   A view's row is written at [`view_write_time`]: this run's number (claimed from
//!   Cassandra when the process starts, higher than every earlier run's) over the epoch, so a
//!   value of this run overwrites one an earlier run left, on any machine, with any clock.
//! - Latest version wins: a write round writes only the newest change of each id.
//! - Rows go in unlogged batches of one token range (so one replica set) of at most
//!   `batch_rows` rows and `batch_bytes` bytes; a batch Cassandra refuses is split down to
//!   the row, and a row refused alone goes to the dead letters with Cassandra's message.
//! - View rows go one statement per key (each key is a partition of its own). A round
//!   consolidates its updates per key: a key whose group is gone (its last user moved away or
//!   was deleted) is deleted from the table, and the first round of a run also deletes the
//!   keys an earlier run left that this run's state does not hold.
//! - Each sink holds its epochs open until every write was acknowledged (see
//!   [`AsyncSink`]): transient failures are retried without a limit.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use timely::dataflow::Stream;
use uuid::Uuid;

use super::{CassandraTables, batches, row_size, write_splitting};
use crate::connectors::{DeadLetters, ServiceError, retry};
use crate::metrics::{Latencies, ProcessCounters};
use crate::model::{Change, Rejected, User, Version};
use crate::sql::{Datum, Row};
use crate::operators::{AsyncSink, AsyncSinkOptions};

/// Row write rounds in flight per worker: a slow write holds back only its own rows.
const ROW_ROUNDS: usize = 4;

/// How often a view's changed rows are written at most: each round writes every key that
/// changed since the last, so fewer rounds mean fewer writes for the same result.
const VIEWS_EVERY: Duration = Duration::from_millis(100);

/// Bits of a view write time below the run number: epochs of one run (2^40 epochs of 10 ms
/// last 348 years).
const EPOCH_BITS: u32 = 40;

/// The write time of a view value written by run `run` in `epoch`: later runs win, and within
/// a run later epochs (a key is written by one worker of a run, round after round).
///
/// ```
/// use rtds::connectors::cassandra::view_write_time;
/// assert!(view_write_time(2, 1) > view_write_time(1, 1_000_000), "a new run wins over any epoch of an old one");
/// assert!(view_write_time(2, 8) > view_write_time(2, 7));
/// ```
pub fn view_write_time(run: u64, epoch: u64) -> i64 {
    ((run << EPOCH_BITS) | (epoch & ((1 << EPOCH_BITS) - 1))) as i64
}

/// FNV-1a of some bytes: how view keys are routed to workers ([`row_owner`]). Written out here
/// (five lines) rather than std's hasher, whose algorithm may change between Rust releases:
/// every process of a cluster must route a key alike.
///
/// ```
/// assert_eq!(rtds::connectors::cassandra::key_owner(""), 0xcbf2_9ce4_8422_2325);
/// assert_ne!(rtds::connectors::cassandra::key_owner("France"), rtds::connectors::cassandra::key_owner("Peru"));
/// ```
pub fn key_owner(key: &str) -> u64 {
    fnv(0xcbf2_9ce4_8422_2325, key.as_bytes())
}

fn fnv(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// Which worker of `peers` writes a view's key (`row_owner(key) % peers`): the stream into a
/// view sink is exchanged by this, and the keys a run finds in the table are shared out by it.
/// A datum is hashed as a tag and its bytes, so the same key read back from Cassandra routes
/// as it did when it was computed.
///
/// ```
/// use rtds::sql::{Datum, Row};
/// let key = |s: &str| Row::from_vec(vec![Datum::text(s), Datum::Int(1)]);
/// assert_eq!(rtds::connectors::cassandra::row_owner(&key("France")), rtds::connectors::cassandra::row_owner(&key("France")));
/// assert_ne!(rtds::connectors::cassandra::row_owner(&key("France")), rtds::connectors::cassandra::row_owner(&key("Peru")));
/// ```
pub fn row_owner(key: &Row) -> u64 {
    key.iter().fold(0xcbf2_9ce4_8422_2325, |hash, datum| match datum {
        Datum::Null => fnv(hash, &[0]),
        Datum::Bool(b) => fnv(hash, &[1, u8::from(*b)]),
        Datum::Int(i) => fnv(fnv(hash, &[2]), &i.to_le_bytes()),
        Datum::Float(f) => fnv(fnv(hash, &[3]), &f.get().to_bits().to_le_bytes()),
        Datum::Text(s) => fnv(fnv(fnv(hash, &[4]), s.as_bytes()), &[0xff]),
        Datum::Timestamp(t) => fnv(fnv(hash, &[5]), &t.to_le_bytes()),
        Datum::Uuid(u) => fnv(fnv(hash, &[6]), u.as_bytes()),
        Datum::Interval(i) => fnv(fnv(hash, &[7]), &i.to_le_bytes()),
    })
}

/// A change to write, with its version and its produce time (milliseconds, for end-to-end
/// latency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowChange {
    pub change: Change,
    pub version: Version,
    pub produced_ms: Option<i64>,
}

/// How the Cassandra sinks of a worker write.
#[derive(Clone)]
pub struct CassandraSinkOptions {
    /// Where the writes run.
    pub runtime: tokio::runtime::Handle,
    pub tables: Arc<CassandraTables>,
    /// This run's number, the high part of every view write time.
    pub run: u64,
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

/// Writes the rows of one view.
pub trait CassandraView<'scope> {
    /// Keeps view `index`'s table equal to the `(key, row)` collection this stream carries: a
    /// round upserts each key's new row and deletes each key whose row is gone. `stored` are
    /// the keys the table held when the run began, of this worker's share ([`row_owner`]);
    /// the first round deletes those the collection does not hold. The stream must be
    /// exchanged by [`row_owner`] of the key.
    fn cassandra_view(self, index: usize, options: CassandraSinkOptions, stored: Vec<Row>) -> Stream<'scope, u64, Vec<()>>;
}

impl<'scope> CassandraRows<'scope> for Stream<'scope, u64, Vec<(RowChange, u64, isize)>> {
    fn cassandra_rows(self, options: CassandraSinkOptions) -> Stream<'scope, u64, Vec<()>> {
        let sink = AsyncSinkOptions { runtime: options.runtime.clone(), rounds: ROW_ROUNDS, every: Duration::ZERO };
        let options = Arc::new(options);
        self.async_sink("RowsSink", sink, move |_epoch, updates: Vec<(RowChange, isize)>| {
            let options = options.clone();
            async move { write_rows(&options, updates).await }
        })
    }
}

impl<'scope> CassandraView<'scope> for Stream<'scope, u64, Vec<((Row, Row), u64, isize)>> {
    fn cassandra_view(self, index: usize, options: CassandraSinkOptions, stored: Vec<Row>) -> Stream<'scope, u64, Vec<()>> {
        let name = format!("View:{}", options.tables.view(index).name);
        let sink = AsyncSinkOptions { runtime: options.runtime.clone(), rounds: 1, every: VIEWS_EVERY };
        let options = Arc::new(options);
        // Taken by the first round.
        let stored = Arc::new(Mutex::new(Some(stored)));
        self.async_sink(&name, sink, move |epoch, updates: Vec<((Row, Row), isize)>| {
            let options = options.clone();
            let stale = stored.lock().expect("stored keys").take().unwrap_or_default();
            async move {
                let timestamp = view_write_time(options.run, epoch);
                let o = &options;
                let changes = view_changes(updates, stale);
                futures::stream::iter(&changes)
                    .for_each_concurrent(o.concurrency.max(1), |(key, row)| async move {
                        // The front refuses keys that may be NULL; one that is anyway (an
                        // integer overflow) cannot be a Cassandra key, and waits for no one.
                        if key.iter().any(Datum::is_null) {
                            tracing::warn!(view = %o.tables.view(index).name, ?key, "a view key is NULL, which Cassandra cannot store; skipped");
                            return;
                        }
                        let write = || async {
                            match row {
                                Some(row) => o.tables.write_view(index, row, timestamp).await,
                                None => o.tables.delete_view(index, key, timestamp).await,
                            }
                        };
                        // Transient failures are retried; a row Cassandra refuses (an empty
                        // text key, which it cannot store) is skipped, so it holds no epoch.
                        if let Err(error) = o.latencies.timed(retry::until_permanent("view", write)).await {
                            tracing::warn!(view = %o.tables.view(index).name, ?key, %error, "Cassandra refused a view row; skipped");
                        }
                    })
                    .await;
                o.counters.aggregate_writes.fetch_add(changes.len() as u64, Ordering::Relaxed);
            }
        })
    }
}

/// What a round of view updates (spanning any number of epochs) changes: each key's new row,
/// or `None` for a key whose row is gone. Updates are consolidated first: a row that changed
/// and changed back within the round changes nothing. `stale` keys (held by the table, from
/// an earlier run) are deleted unless the round gives them a row.
///
/// ```
/// use rtds::connectors::cassandra::view_changes;
/// use rtds::sql::{Datum, Row};
/// let one = |k: &str| Row::from_vec(vec![Datum::text(k)]);
/// let row = |k: &str, n: i64| (one(k), Row::from_vec(vec![Datum::text(k), Datum::Int(n)]));
/// let updates = vec![
///     (row("France", 2), -1), (row("France", 3), 1),   // France went from 2 to 3
///     (row("Peru", 1), -1),                             // Peru lost its last user
///     (row("Chad", 4), -1), (row("Chad", 5), 1), (row("Chad", 5), -1), (row("Chad", 4), 1), // and back
/// ];
/// let mut changes = view_changes(updates, vec![one("Mali"), one("France")]);
/// changes.sort();
/// assert_eq!(changes, vec![(one("France"), Some(row("France", 3).1)), (one("Mali"), None), (one("Peru"), None)]);
/// ```
pub fn view_changes(updates: Vec<((Row, Row), isize)>, stale: Vec<Row>) -> Vec<(Row, Option<Row>)> {
    let mut net: HashMap<(Row, Row), isize> = HashMap::with_capacity(updates.len());
    for (value, diff) in updates {
        *net.entry(value).or_default() += diff;
    }
    let mut changes: HashMap<Row, Option<Row>> = HashMap::new();
    for ((key, row), diff) in net {
        if diff > 0 {
            changes.insert(key, Some(row));
        } else if diff < 0 {
            changes.entry(key).or_insert(None);
        }
    }
    let stale: HashSet<Row> = stale.into_iter().collect();
    for key in stale {
        changes.entry(key).or_insert(None);
    }
    changes.into_iter().collect()
}

/// One round of row changes, each written at its version's write time.
async fn write_rows(o: &CassandraSinkOptions, updates: Vec<(RowChange, isize)>) {
    let (mut rows, deletes) = upserts_and_deletes(latest_per_id(updates));
    if !deletes.is_empty() {
        futures::stream::iter(&deletes)
            .for_each_concurrent(o.concurrency.max(1), |(id, version)| async move {
                o.latencies.timed(retry::forever("delete", || o.tables.delete_user(*id, version.write_time()))).await;
            })
            .await;
        o.counters.rows_deleted.fetch_add(deletes.len() as u64, Ordering::Relaxed);
    }
    // Sorted in place and written in slices: a round can hold tens of thousands of rows
    // while catching up, and a copy of them is what a heap profile found most of.
    rows.sort_by_cached_key(|row| o.tables.token(row.user.id));
    let rows = &rows;
    // Batches within a token range only, so a batch goes to the replicas of all its rows.
    let parts = o.tables.token_ranges().parts(rows, |row| o.tables.token(row.user.id));
    let ranges = parts.into_iter().flat_map(|part| {
        let offset = part.start;
        batches(&rows[part], o.batch_rows.max(1), o.batch_bytes, |row| row_size(&row.user))
            .into_iter()
            .map(move |r| r.start + offset..r.end + offset)
    });
    let write = rows_writer(&o.tables);
    let write = &write;
    let outcomes: Vec<(Vec<u64>, Vec<Rejected>)> = futures::stream::iter(ranges)
        .map(|range| {
            let batch = &rows[range];
            async move {
                let refused = o.latencies.timed(write_splitting(batch, write)).await;
                // Produce to acknowledged write, the pipeline's end-to-end latency.
                let now = crate::clock::now().timestamp_millis();
                let refused_ids: Vec<Uuid> = refused.iter().map(|(row, _)| row.user.id).collect();
                let latencies = batch
                    .iter()
                    .filter(|row| !refused_ids.contains(&row.user.id))
                    .filter_map(|row| row.produced_ms.map(|p| (now - p).max(0) as u64))
                    .collect();
                let dead = refused
                    .into_iter()
                    .map(|(row, error)| {
                        let mut raw = Vec::new();
                        row.user.write_json(&mut raw);
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

/// A row to upsert: the formatted user, its write time and its produce time.
#[derive(Debug, Clone)]
struct RowUpdate {
    user: Box<User>,
    write_time: i64,
    produced_ms: Option<i64>,
}

/// Writes a slice of rows as one request, each at its own write time.
fn rows_writer<'a>(tables: &'a CassandraTables) -> impl Fn(&'a [RowUpdate]) -> BoxFuture<'a, Result<(), ServiceError>> + Sync + 'a {
    move |batch| tables.write_users(batch.iter().map(|row| (&*row.user, row.produced_ms, row.write_time))).boxed()
}

/// The newest change of each id (by version; of equal versions the later one), in their
/// original order otherwise.
///
/// ```
/// # use rtds::connectors::cassandra::{RowChange, latest_per_id};
/// # use rtds::model::{Change, User, Version};
/// let user = |id: u128, name: &str, lsn: u64| {
///     let row = serde_json::json!({ "id": uuid::Uuid::from_u128(id), "first_name": name });
///     RowChange { change: Change::Upsert(Box::new(serde_json::from_value::<User>(row).unwrap())), version: Version::of(Some(lsn), 0), produced_ms: None }
/// };
/// let delete = |id: u128, lsn: u64| RowChange { change: Change::Delete(uuid::Uuid::from_u128(id)), version: Version::of(Some(lsn), 0), produced_ms: None };
/// // Id 1's newest version came first in the round (rounds may span epochs of several workers).
/// let rows = latest_per_id(vec![(user(1, "new", 20), 1), (user(2, "b", 5), 1), (user(1, "old", 10), 1), (delete(2, 6), 1)]);
/// let kept: Vec<_> = rows.iter().map(|(row, _)| match &row.change {
///     Change::Upsert(user) => user.first_name.as_deref().unwrap(),
///     Change::Delete(_) => "deleted",
/// }).collect();
/// assert_eq!(kept, ["new", "deleted"]);
/// ```
pub fn latest_per_id(updates: Vec<(RowChange, isize)>) -> Vec<(RowChange, isize)> {
    // foldhash (seeded per process) rather than SipHash: this runs for every row.
    let mut newest: HashMap<Uuid, (Version, usize), foldhash::fast::RandomState> = HashMap::with_capacity_and_hasher(updates.len(), Default::default());
    for (index, (row, _)) in updates.iter().enumerate() {
        let entry = newest.entry(row.change.id()).or_insert((row.version, index));
        if (row.version, index) >= *entry {
            *entry = (row.version, index);
        }
    }
    if newest.len() == updates.len() {
        return updates;
    }
    updates.into_iter().enumerate().filter(|(index, (row, _))| newest[&row.change.id()].1 == *index).map(|(_, update)| update).collect()
}

/// The rows to upsert, and the ids to delete with their versions.
fn upserts_and_deletes(changes: Vec<(RowChange, isize)>) -> (Vec<RowUpdate>, Vec<(Uuid, Version)>) {
    let mut upserts = Vec::with_capacity(changes.len());
    let mut deletes = Vec::new();
    for (RowChange { change, version, produced_ms }, _) in changes {
        match change {
            Change::Upsert(user) => upserts.push(RowUpdate { user, write_time: version.write_time(), produced_ms }),
            Change::Delete(id) => deletes.push((id, version)),
        }
    }
    (upserts, deletes)
}
