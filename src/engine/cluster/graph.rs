//! One worker's dataflow, wired from the connectors' operators: parse and check, the rows
//! sink, the dead-letter sink, the dedupe (latest version per id) and the views, all
//! ending in the probe that says which epochs are durable.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use timely::dataflow::{Scope, Stream};
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::dataflow::operators::vec::Map;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::{Concat, Concatenate, Exchange, OkErr, Operator, Probe};
use uuid::Uuid;

use super::ProcessState;
use crate::checkpoint::{Checkpoint, Coverage, Identity, Mark, Resumable};
use crate::connectors::cassandra::{CassandraRows, CassandraView, RowChange, row_owner, stored_state};
use crate::connectors::kafka::{DeadLetterSink, Incoming, KafkaSourceOptions, kafka_source};
use crate::connectors::registry::decode::{Schemas, is_framed};
use crate::metrics::ProcessCounters;
use crate::model::{Change, Rejected, Version};
use crate::operators::AsyncSinkOptions;
use crate::sql::decode::Decoder;
use crate::sql::expr::Context;
use crate::sql::kept::{self, KeptRow};
use crate::sql::render::render_views_resumed;
use crate::operators::{EventTimes, HoldOpenWindows, JudgeLate, Upsert};
use crate::sql::{OnViolation, Program, Row, Table};

/// An id's version and its state row (none for a delete).
type Versioned = (Uuid, (Version, Option<Row>));

/// An id's version and what the views read of it (none for a delete): the dedupe's input.
type Kept = (Uuid, (Version, Option<KeptRow>));

/// A checked change with its produce time, its state row, its version and where it was read
/// (partition, offset, and its number in the partition: [`Incoming::number`]).
type Parsed = (Change, Option<i64>, Option<Row>, Version, (i32, i64, i64));

/// A record that goes to the dead-letter topic, with where it was read.
type DeadLetter = (Rejected, String);

/// This worker's share of what Cassandra held when the run began, and its checkpoint.
#[derive(Default)]
pub(super) struct Stored {
    /// The state rows, as the dedupe needs them: older than anything read from Kafka (none
    /// when the worker resumes from its checkpoint).
    pub rows: Vec<Row>,
    /// Per view, the keys its table held that this worker writes ([`row_owner`]).
    pub view_keys: Vec<Vec<Row>>,
    /// The checkpoint the dedupe keeps its state in (none: in memory, with --no-checkpoint).
    pub checkpoint: Option<Resumed>,
}

/// A worker's checkpoint, opened: resumed from, or emptied to be rebuilt from the stored rows.
pub(super) struct Resumed {
    pub checkpoint: Checkpoint,
    pub identity: Identity,
    /// What it holds: when emptied, no views' inputs and no event time, and the recorded
    /// offsets as its coverage.
    pub state: Resumable,
}

/// Builds one worker's dataflow. The stored rows enter at epoch 0, before anything read from
/// Kafka (epochs 1 on).
pub(super) fn build(scope: Scope<'_, u64>, state: Arc<ProcessState>, source: KafkaSourceOptions, durable: ProbeHandle<u64>, stored: Stored) {
    let records = kafka_source(scope, source, durable.clone(), 1);
    let Stored { rows: stored_rows, mut view_keys, checkpoint } = stored;
    let marks = checkpoint.as_ref().map(|_| covered(records.clone()));

    // Decode, check the expectations, keep the state row; rejected records keep their raw
    // text and the reason.
    let program = state.dataflow.program.clone();
    let decoder = Decoder::new(&program.table);
    let (today, max_bytes, counters) = (state.today, state.max_message_bytes, state.counters.clone());
    let topic = state.topic.clone();
    let table = program.clone();
    let schemas = state.schemas.clone();
    let (parsed, rejected) = records.ok_err::<Vec<_>, _, Vec<_>, _, _>(move |(incoming, epoch, diff): (Incoming, u64, isize)| {
        // Judged against the time that travels with the record (its commit time), so a replay
        // judges it the same.
        let committed = incoming.produced_ms.and_then(DateTime::from_timestamp_millis);
        let message = Message { key: incoming.key.as_deref(), value: incoming.payload.as_deref(), max_bytes, schemas: &schemas };
        let checked = parse_change(message, &table.table, &decoder, committed, today, Some(&counters));
        match checked {
            Ok((change, row)) => {
                let version = Version::of(incoming.lsn, incoming.offset);
                Ok(((change, incoming.produced_ms, row, version, (incoming.partition, incoming.offset, incoming.number)), epoch, diff))
            }
            Err(reason) => {
                let source = format!("{topic}/{}@{}", incoming.partition, incoming.offset);
                let payload = incoming.payload.as_deref().unwrap_or_default();
                let raw = raw_text(&payload[..payload.len().min(max_bytes)]);
                Err(((Rejected { raw, reason }, source), epoch, diff))
            }
        }
    });

    // The stored rows (what Cassandra held when the run began) enter at epoch 0, older than
    // every record read from Kafka in this run.
    let key = program.table.state_columns.iter().position(|c| *c == program.table.key).expect("the key is kept");
    let old = stored_rows
        .into_iter()
        .filter_map(|row| match row[key] {
            crate::sql::Datum::Uuid(id) => Some((id, (Version::STORED, Some(row)))),
            _ => None,
        })
        .collect::<Vec<Versioned>>();
    let stored = stored_state(scope, old, 0);
    let cx = Context { today, now: None };
    let views: Vec<Arc<crate::sql::View>> = program.views.iter().cloned().map(Arc::new).collect();
    let kept = Arc::new(kept::Kept::new(views, program.table.state_columns.len(), cx));

    // With windows, records late for one are dead letters, and each window's rows wait for
    // the watermark to close it.
    let resumed_time = checkpoint.as_ref().and_then(|c| c.state.event_time);
    let clock = event_clock(&program, &stored, &parsed, resumed_time);
    // A checkpoint keeps the newest event time read, for the watermark to resume from.
    let marks = match (&clock, marks) {
        (Some(clock), Some(marks)) => Some(marks.concat(clock.times.clone().map(|(time, epoch)| (Mark::EventTime(time), epoch, 1)))),
        (_, marks) => marks,
    };
    // What the checkpoint covers: the records past the recorded offsets in it are read again
    // and were judged before the crash (after a fallback it covers the recorded offsets only).
    let judged = checkpoint.as_ref().map(|c| c.state.coverage.clone()).unwrap_or_default();
    let (parsed, rejected) = match &clock {
        None => (parsed, rejected),
        Some(clock) => {
            let judge = late_judge(program.clone(), state.clone(), judged);
            let (on_time, late) = parsed.judge_late(clock.times.clone(), clock.delay_ms, judge).ok_err::<Vec<_>, _, Vec<_>, _, _>(|r| r);
            (on_time, rejected.concat(late))
        }
    };

    // Rows to the rows sink, (id, version, kept row) to the dedupe: split rather than
    // shared, so no row is cloned for a second consumer.
    type Split = Result<(RowChange, u64, isize), (Kept, u64, isize)>;
    let keep = kept.clone();
    let (rows, fresh) = parsed
        .flat_map(move |((change, produced_ms, row, version, _), epoch, diff): (Parsed, u64, isize)| -> [Split; 2] {
            let id = change.id();
            let row = row.map(|row| keep.row(row));
            [Ok((RowChange { change, version, produced_ms }, epoch, diff)), Err(((id, (version, row)), epoch, diff))]
        })
        .ok_err::<Vec<_>, _, Vec<_>, _, _>(|split| split);

    let rows_done = rows.cassandra_rows(state.sink_options.clone());
    let dlq = AsyncSinkOptions { runtime: state.sink_options.runtime.clone(), rounds: 1, every: std::time::Duration::ZERO };
    let dead_done = rejected.dead_letter_sink(dlq, state.sink_options.dead_letters.clone(), state.counters.clone());

    // Dedupe by id over the stored rows plus new ones (what the views read of each: its kept
    // row), then every view. The latest version of each id ([`Upsert`]): a user whose country
    // changes moves from one group to the other, and a deleted one leaves its groups.
    let keep = kept.clone();
    let stored = stored.map(move |((id, (version, row)), time, diff)| ((id, (version, row.map(|row| keep.row(row)))), time, diff));
    let (unique, restored) = match checkpoint.zip(marks) {
        Some((Resumed { checkpoint, identity, state: Resumable { view_inputs, coverage, event_time } }, marks)) => {
            let restored = stored_state(scope, view_inputs, 0).map(|((input, diff), time, _)| (input, time, diff));
            // What the state covers at the start, at epoch 0: every worker writes its checkpoint
            // once at the start, so one that read its rows back claims them even if the run
            // reads nothing.
            let start: Vec<Mark> = coverage.iter().map(|(partition, records)| Mark::Read { partition: *partition, records: *records }).collect();
            let marks = marks.concat(stored_state(scope, start, 0));
            let state = checkpoint.into_state(identity, coverage, event_time, kept.clone());
            let (unique, synced) = stored.concat(fresh).upsert_into(state, marks);
            (unique, Some((restored, synced)))
        }
        None => (stored.concat(fresh).upsert(), None),
    };
    let (restored, synced) = restored.unzip();
    let rows = unique.map(|(_, row)| row);
    // An epoch is durable once its checkpoint is on disk too.
    let mut done = vec![rows_done, dead_done];
    done.extend(synced);
    for (index, table) in render_views_resumed(rows, kept, restored).into_iter().enumerate() {
        // Each key to the worker that owns it: the one that also deletes its stale copy.
        let owned = table.inner.exchange(|((key, _), _, _)| row_owner(key));
        let stale = view_keys.get_mut(index).map(std::mem::take).unwrap_or_default();
        // A worker that holds stale keys but no row still needs its first round, which
        // deletes them: an update that changes nothing, at epoch 0, makes sure it comes.
        let nudge = if stale.is_empty() { Vec::new() } else { vec![(Row::new(), Row::new())] };
        let mut owned = owned.concat(stored_state(scope, nudge, 0).map(|(value, time, _)| (value, time, 0)));
        if let (Some(clock), Some(window)) = (&clock, program.views[index].window.clone()) {
            owned = owned.hold_open_windows(clock.times.clone(), clock.delay_ms, move |(key, _): &(Row, Row)| window.end_of_key(key));
        }
        done.push(owned.cassandra_view(index, state.sink_options.clone(), stale));
    }
    scope.concatenate(done).probe_with(&durable);
}

/// What each epoch read, for the checkpoints: per partition, how many of its records were read
/// through the epoch, from every worker to every worker (a checkpoint covers the whole topic).
fn covered<'scope>(records: Stream<'scope, u64, Vec<(Incoming, u64, isize)>>) -> Stream<'scope, u64, Vec<(Mark, u64, isize)>> {
    records
        .unary::<CapacityContainerBuilder<Vec<(Mark, u64, isize)>>, _, _, _>(Pipeline, "Covered", |_capability, _info| {
            move |input, output| {
                input.for_each(|cap, data| {
                    let mut newest: HashMap<(i32, u64), i64, foldhash::fast::RandomState> = HashMap::default();
                    for (incoming, time, _) in data.iter() {
                        let number = newest.entry((incoming.partition, *time)).or_default();
                        *number = (*number).max(incoming.number);
                    }
                    output.session(&cap).give_iterator(newest.into_iter().map(|((partition, time), records)| (Mark::Read { partition, records }, time, 1)));
                });
            }
        })
        .broadcast()
}

/// The event times every worker folds into the watermark, when the dataflow has windows.
struct Clock<'scope> {
    times: Stream<'scope, u64, Vec<(i64, u64)>>,
    delay_ms: i64,
}

/// The newest event times of the stored rows or the checkpoint's (at epoch 0: a restart
/// resumes from there) and of each epoch's records, from every worker.
fn event_clock<'scope>(
    program: &Program,
    stored: &Stream<'scope, u64, Vec<(Versioned, u64, isize)>>,
    parsed: &Stream<'scope, u64, Vec<(Parsed, u64, isize)>>,
    resumed: Option<i64>,
) -> Option<Clock<'scope>> {
    let watermark = program.table.watermark.clone()?;
    if !program.views.iter().any(|v| v.window.is_some()) {
        return None;
    }
    let (a, b) = (program.table.clone(), program.table.clone());
    let old = stored.clone().newest_event_times(move |(_, (_, row)): &Versioned| row.as_ref().and_then(|r| a.event_time(r)));
    let new = parsed.clone().newest_event_times(move |(_, _, row, _, _): &Parsed| row.as_ref().and_then(|r| b.event_time(r)));
    let checkpointed = stored_state(stored.scope(), resumed.into_iter().collect(), 0).newest_event_times(|time: &i64| Some(*time));
    Some(Clock { times: old.concat(new).concat(checkpointed), delay_ms: watermark.delay_ms })
}

/// Judges an upsert against the watermark ([`Program::late_views`]): a late record goes to
/// the dead-letter topic, naming every view it is late for, and is counted per view. A record
/// the resumed checkpoint covers (`judged`: per partition, how many records were read before
/// the crash) is kept: it was judged then, against an earlier watermark than the one resumed,
/// and if it was kept its row may not have been written yet ([`crate::checkpoint`], "Windows").
fn late_judge(program: Arc<Program>, state: Arc<ProcessState>, judged: Coverage) -> impl FnMut(Parsed, Option<i64>) -> Result<Parsed, DeadLetter> + 'static {
    let cx = Context { today: state.today, now: None };
    move |parsed: Parsed, watermark: Option<i64>| {
        let (partition, offset, number) = parsed.4;
        if judged.get(&partition).is_some_and(|covered| number <= *covered) {
            return Ok(parsed);
        }
        let (Some(watermark), Some(row)) = (watermark, parsed.2.as_ref()) else { return Ok(parsed) };
        let late = program.late_views(row, watermark, &cx);
        if late.is_empty() {
            return Ok(parsed);
        }
        for index in &late {
            state.counters.count_late(*index);
        }
        let reason = program.late_reason(&late, row, watermark);
        let raw = match &parsed.0 {
            Change::Upsert(user) => {
                let mut raw = Vec::new();
                user.write_json(&mut raw);
                String::from_utf8_lossy(&raw).into_owned()
            }
            Change::Delete(id) => id.to_string(),
        };
        Err((Rejected { raw, reason }, format!("{}/{partition}@{offset}", state.topic)))
    }
}

/// A message's payload as dead-letter text: itself when it is text (JSON), else (Avro, or any
/// bytes that are not UTF-8) its bytes in hex after `hex:`, so nothing of it is lost.
fn raw_text(payload: &[u8]) -> String {
    match std::str::from_utf8(payload) {
        Ok(text) if !is_framed(payload) => text.to_string(),
        _ => {
            use std::fmt::Write;
            let mut out = String::with_capacity(4 + payload.len() * 2);
            out.push_str("hex:");
            for byte in payload {
                write!(out, "{byte:02x}").expect("writing to a String cannot fail");
            }
            out
        }
    }
}

/// A Kafka message as the parser sees it: its key and value (no value is a tombstone), the
/// largest value taken, and the writer schemas of Avro values.
pub struct Message<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub max_bytes: usize,
    pub schemas: &'a Schemas,
}

/// A Kafka message to a checked change and its state row (none for a delete), or the reason
/// it is rejected: a message that cannot be read (JSON, or Avro in the Confluent wire format
/// read by its writer schema), or an upsert that fails an enforced expectation (the reason
/// names every one it fails). Expectations are judged against `committed`, the record's
/// commit time (its Kafka timestamp, what `NOW()` is), never the worker's clock; `counters`
/// count their failures.
pub fn parse_change(
    message: Message<'_>,
    table: &Table,
    decoder: &Decoder,
    committed: Option<DateTime<Utc>>,
    today: chrono::NaiveDate,
    counters: Option<&ProcessCounters>,
) -> Result<(Change, Option<Row>), String> {
    let Message { key, value, max_bytes, schemas } = message;
    if let Some(value) = value.filter(|p| p.len() > max_bytes) {
        return Err(format!("message of {} bytes is over the {max_bytes}-byte limit", value.len()));
    }
    let change = match value {
        Some(value) if is_framed(value) => Change::keyed(key, schemas.decode(value)?)?,
        _ => Change::from_message(key, value)?,
    };
    let Change::Upsert(user) = &change else { return Ok((change, None)) };
    if user.id.is_nil() {
        return Err("id is the nil UUID".into());
    }
    let mut columns = decoder.decode(user, committed.map(|t| t.timestamp_millis()));
    let cx = Context { today, now: committed.map(|t| t.timestamp_millis()) };
    let failed = table.expectations_failed(&columns[..], &cx);
    if let Some(counters) = counters {
        counters.count_expectations(&failed);
    }
    let dropped: Vec<&str> = failed.iter().map(|i| &table.expectations[*i]).filter(|e| e.on_violation == OnViolation::DropRow).map(|e| e.name.as_str()).collect();
    if !dropped.is_empty() {
        return Err(format!("expectation {} failed", dropped.join(", ")));
    }
    let row = table.take_state_row(&mut columns);
    Ok((change, Some(row)))
}
