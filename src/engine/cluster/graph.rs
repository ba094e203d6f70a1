//! One worker's dataflow, wired from the connectors' operators: parse and check, the rows
//! sink, the dead-letter sink, the dedupe (latest version per id) and the aggregates, all
//! ending in the probe that says which epochs are durable.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use differential_dataflow::AsCollection;
use timely::dataflow::Scope;
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::{Concat, Concatenate, Exchange, OkErr, Probe};
use uuid::Uuid;

use super::ProcessState;
use crate::connectors::cassandra::{CassandraAggregate, CassandraRows, RowChange, key_owner, stored_state};
use crate::connectors::kafka::{DeadLetterSink, Incoming, KafkaSourceOptions, kafka_source};
use crate::model::checks::check;
use crate::model::{Change, Checks, Dims, Rejected, Version};
use crate::operators::AsyncSinkOptions;

/// An id's version and what its aggregates group it by (none for a delete).
type Versioned = (Uuid, (Version, Option<Dims>));

/// A checked change with its produce time, its dims and its version.
type Parsed = (Change, Option<i64>, Option<Dims>, Version);

/// This worker's share of what Cassandra held when the run began.
#[derive(Debug, Default)]
pub(super) struct Stored {
    /// The rows, as the dedupe needs them: older than anything read from Kafka.
    pub rows: Vec<(Uuid, Dims)>,
    /// Per aggregate, the keys its table held that this worker writes ([`key_owner`]).
    pub aggregate_keys: Vec<Vec<String>>,
}

/// Builds one worker's dataflow. The stored rows enter at epoch 0, before anything read from
/// Kafka (epochs 1 on).
pub(super) fn build(scope: Scope<'_, u64>, state: Arc<ProcessState>, source: KafkaSourceOptions, durable: ProbeHandle<u64>, stored: Stored) {
    let records = kafka_source(scope, source, durable.clone(), 1);

    // Parse and check; rejected records keep their raw text and the reason.
    let (checks, today, max_bytes) = (state.checks.clone(), state.today, state.max_message_bytes);
    let topic = state.topic.clone();
    let (parsed, rejected) = records.ok_err::<Vec<_>, _, Vec<_>, _, _>(move |(incoming, epoch, diff): (Incoming, u64, isize)| {
        // Judged against the time that travels with the record (its commit time), so a replay
        // judges it the same.
        let committed = incoming.produced_ms.and_then(DateTime::from_timestamp_millis);
        match parse_change(incoming.key.as_deref(), incoming.payload.as_deref(), max_bytes, &checks, committed) {
            Ok(change) => {
                // A delete counts in no aggregate: its dims are none.
                let dims = match &change {
                    Change::Upsert(user) => Some(Dims::of_user(user, today)),
                    Change::Delete(_) => None,
                };
                let version = Version::of(incoming.lsn, incoming.offset);
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

    // Rows to the rows sink, (id, version, dims) to the dedupe: split rather than shared, so
    // no row is cloned for a second consumer.
    type Split = Result<(RowChange, u64, isize), (Versioned, u64, isize)>;
    let (rows, fresh) = parsed
        .flat_map(|((change, produced_ms, dims, version), epoch, diff): (Parsed, u64, isize)| -> [Split; 2] {
            let id = change.id();
            [Ok((RowChange { change, version, produced_ms }, epoch, diff)), Err(((id, (version, dims)), epoch, diff))]
        })
        .ok_err::<Vec<_>, _, Vec<_>, _, _>(|split| split);

    let rows_done = rows.cassandra_rows(state.sink_options.clone());
    let dlq = AsyncSinkOptions { runtime: state.sink_options.runtime.clone(), rounds: 1, every: std::time::Duration::ZERO };
    let dead_done = rejected.dead_letter_sink(dlq, state.sink_options.dead_letters.clone(), state.counters.clone());

    // Dedupe by id over the stored rows plus new ones, then count per aggregate. Stored rows
    // are older than every record read from Kafka in this run.
    let Stored { rows: stored_rows, mut aggregate_keys } = stored;
    let old = stored_rows.into_iter().map(|(id, dims)| (id, (Version::STORED, Some(dims)))).collect::<Vec<Versioned>>();
    let stored = stored_state(scope, old, 0);
    // The latest version of each id (values come sorted by version, so the last one): a user
    // whose country changes moves from one count to the other, and a deleted one leaves its
    // counts.
    let unique = stored.as_collection().concat(fresh.as_collection()).reduce(
        |_id: &Uuid, versions: &[(&(Version, Option<Dims>), isize)], output: &mut Vec<(Dims, isize)>| {
            let latest = versions.iter().rev().find(|(_, count)| *count > 0).map(|(v, _)| &v.1);
            if let Some(Some(dims)) = latest {
                output.push((dims.clone(), 1));
            }
        },
    );
    let mut done = vec![rows_done, dead_done];
    for (index, dimension) in state.aggregates.iter().copied().enumerate() {
        let counts = unique.clone().map(move |(_, dims)| dims.value(dimension)).count();
        // Each key to the worker that owns it: the one that also deletes its stale copy.
        let owned = counts.inner.exchange(|((key, _), _, _)| key_owner(key));
        let stale = aggregate_keys.get_mut(index).map(std::mem::take).unwrap_or_default();
        // A worker that holds stale keys but no count still needs its first round, which
        // deletes them: an update that changes nothing, at epoch 0, makes sure it comes.
        let nudge = if stale.is_empty() { Vec::new() } else { vec![(CompactString::const_new(""), 0isize)] };
        let owned = owned.concat(stored_state(scope, nudge, 0).map(|(value, time, _)| (value, time, 0)));
        done.push(owned.cassandra_aggregate(index, state.sink_options.clone(), stale));
    }
    scope.concatenate(done).probe_with(&durable);
}

/// A Kafka message (key and value; no value is a tombstone) to a checked change, or the
/// reason it is rejected. Dates are judged against `committed`, the record's commit time (its
/// Kafka timestamp), never the worker's clock; without one they have no upper bound.
pub fn parse_change(key: Option<&[u8]>, payload: Option<&[u8]>, max_bytes: usize, checks: &Checks, committed: Option<DateTime<Utc>>) -> Result<Change, String> {
    if let Some(payload) = payload.filter(|p| p.len() > max_bytes) {
        return Err(format!("message of {} bytes is over the {max_bytes}-byte limit", payload.len()));
    }
    let change = Change::from_message(key, payload)?;
    if let Change::Upsert(user) = &change {
        check(user, checks, committed.unwrap_or(DateTime::<Utc>::MAX_UTC))?;
    }
    Ok(change)
}
