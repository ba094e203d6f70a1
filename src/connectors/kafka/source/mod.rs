//! The Kafka source of the cluster: each worker reads the partitions it owns, stamps records
//! with the current epoch, and reports its partitions' durable points once an epoch is
//! durable everywhere.
//!
//! Semantics and limits:
//! - Worker g of G reads the partitions p with p mod G = g, assigned directly (no consumer
//!   group rebalancing), from the durable points of the last run (the beginning for a
//!   partition never recorded).
//! - `durable` is the probe after every sink of every worker. Once it passes an epoch, the
//!   point each partition had reached at that epoch's end is sent to `durable_points`; the
//!   process records those (the offsets table), and a restart resumes there. Records of
//!   epochs not yet durable are read again after a crash: at most `max_in_flight` per worker,
//!   since the source reads no more than that ahead of the probe (backpressure, which also
//!   bounds memory through a sink's outage).
//! - Only epochs that read records (or passed transaction markers) are tracked, so an idle
//!   source or a stalled sink costs no bookkeeping.
//! - A reader that stops fetching while Kafka holds more is replaced (see `STALL_AFTER`).
//! - With `idle_exit`, the source finishes once nothing arrived for that long, everything
//!   read is durable, and Kafka confirms there is nothing left, in every worker of the
//!   process at once (see `idle.rs`).

mod idle;
mod reader;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::FutureExt;
use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::dataflow::{Scope, Stream};
use timely::scheduling::Activator;

pub use idle::IdleVote;
pub use reader::{OpenReader, PartitionReader, ReadError, rdkafka_reader};

use crate::connectors::Durable;
use crate::metrics::{Latencies, ProcessCounters};

/// Most messages read in one activation, so other operators get their turn.
const POLL_BATCH: usize = 5000;

/// With room to read and no record for this long, the source asks Kafka whether there is more
/// to read; if there is, its reader is stuck and is replaced (librdkafka #5153, #5586;
/// rust-rdkafka #597: an assigned consumer can stop fetching after a broker restart, without
/// an error).
const STALL_AFTER: Duration = Duration::from_secs(10);

/// A Kafka record as the source hands it on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Incoming {
    /// The message key: the user id.
    pub key: Option<Vec<u8>>,
    /// The row's JSON; none for a tombstone (the user was deleted).
    pub payload: Option<Vec<u8>>,
    pub partition: i32,
    pub offset: i64,
    /// The producer's timestamp: for a change of `rtds cdc`, its PostgreSQL commit time. The
    /// time the checks judge the record against, and the start of its end-to-end latency.
    pub produced_ms: Option<i64>,
    /// The end LSN of the change's PostgreSQL commit (`rtds-lsn`), the order of its versions.
    pub lsn: Option<u64>,
    /// How many records of its partition were read through this one (counted from the
    /// partition's start, across runs): what a checkpoint says it covers.
    #[serde(default)]
    pub number: i64,
}

/// Partitions owned by global worker `index` of `workers`: p with p mod workers == index.
///
/// ```
/// assert_eq!(rtds::connectors::kafka::owned_partitions(8, 1, 4), vec![1, 5]);
/// assert_eq!(rtds::connectors::kafka::owned_partitions(2, 3, 4), Vec::<i32>::new());
/// ```
pub fn owned_partitions(partitions: usize, index: usize, workers: usize) -> Vec<i32> {
    (0..partitions).filter(|p| p % workers == index).map(|p| p as i32).collect()
}

/// How a worker's Kafka source reads.
#[derive(Clone)]
pub struct KafkaSourceOptions {
    /// Partitions of the topic.
    pub partitions: usize,
    /// Where each partition's last run left it durable.
    pub start: Arc<HashMap<i32, Durable>>,
    /// Most records read and not yet durable.
    pub max_in_flight: usize,
    /// Finish once nothing arrived for this long and everything is durable, when the
    /// process's other workers are as quiet (`idle_vote`).
    pub idle_exit: Option<Duration>,
    pub idle_vote: Arc<IdleVote>,
    /// Opens (and reopens) the reader of this worker's partitions.
    pub open: OpenReader,
    /// Where the Kafka checks (network calls) run, off the worker thread.
    pub runtime: tokio::runtime::Handle,
    /// Receives (partition, point, epoch) for every durable epoch.
    pub durable_points: tokio::sync::mpsc::UnboundedSender<(i32, Durable, u64)>,
    pub counters: Arc<ProcessCounters>,
    /// Where the source records each record's produce-to-read latency.
    pub latencies: Arc<Latencies>,
    /// What to do when retention deleted records this worker has not made durable yet.
    pub lost_records: LostRecords,
    /// When each epoch begins: one clock for the process's workers (see [`Epochs`]).
    pub epochs: Epochs,
}

/// What a source does when Kafka no longer holds a partition's next offset because retention
/// deleted records that never became durable. `fatal` gets the message of a condition the
/// source stops on (naming the partition, the offsets and how to resume) and ends the process.
#[derive(Clone)]
pub struct LostRecords {
    /// Go on from the earliest offset Kafka holds, counting the records skipped, instead of
    /// stopping.
    pub skip: bool,
    pub fatal: Arc<dyn Fn(String) + Send + Sync>,
}

/// The epochs of one run: a logical counter that starts at 1 when the process's workers start
/// and moves on every `epoch_ms`. Epochs pace the work and say what is durable; they order
/// nothing (a change's version comes from its data), so a clock that jumps or differs between
/// machines changes no result.
#[derive(Debug, Clone, Copy)]
pub struct Epochs {
    pub started: Instant,
    pub epoch_ms: u64,
}

impl Epochs {
    pub fn new(epoch_ms: u64) -> Epochs {
        Epochs { started: Instant::now(), epoch_ms: epoch_ms.max(1) }
    }

    /// The current epoch (1 at the start).
    pub fn now(&self) -> u64 {
        1 + self.started.elapsed().as_millis() as u64 / self.epoch_ms
    }
}

/// Reads this worker's partitions from their durable points, stamping records with epochs
/// from `first_epoch` on. `durable` is the probe after every sink.
pub fn kafka_source<'scope>(
    scope: Scope<'scope, u64>,
    options: KafkaSourceOptions,
    durable: ProbeHandle<u64>,
    first_epoch: u64,
) -> Stream<'scope, u64, Vec<(Incoming, u64, isize)>> {
    let partitions = owned_partitions(options.partitions, scope.index(), scope.peers());
    source::<_, CapacityContainerBuilder<Vec<(Incoming, u64, isize)>>, _, _>(scope, "KafkaSource", move |capability, info| {
        let mut reading = Reading::new(options, partitions, durable, scope.activator_for(info.address), first_epoch, scope.index());
        let mut capability = Some(capability);
        if let Some(cap) = capability.as_mut() {
            cap.downgrade(&first_epoch);
        }
        move |output| {
            let Some(cap) = capability.as_mut() else { return };
            if !reading.ensure_reader() {
                return;
            }
            reading.report_durable();
            let read = {
                let epoch = *cap.time();
                let mut session = output.session(&*cap);
                reading.read(|incoming| session.give((incoming, epoch, 1)))
            };
            reading.watch_for_stall(read);
            if let Some(epoch) = reading.close_epoch() {
                cap.downgrade(&epoch);
            }
            if reading.finished() {
                capability = None;
                return;
            }
            reading.schedule(read);
        }
    })
}

/// One worker's source between activations.
struct Reading {
    options: KafkaSourceOptions,
    /// This worker's global index, its name in the idle vote.
    worker: usize,
    partitions: Vec<i32>,
    durable: ProbeHandle<u64>,
    activator: Activator,
    /// Created on the first activation, and again a second later if that failed: a reader
    /// that cannot be made is an error to report, not a panic.
    reader: Option<Arc<dyn PartitionReader>>,
    last_open_attempt: Option<Instant>,
    /// Per partition: the next offset to read, and the records read before it (they differ
    /// by the transaction markers in between).
    next_offsets: HashMap<i32, i64>,
    records: HashMap<i32, i64>,
    epoch: u64,
    /// Per epoch not yet durable: records read in it, and each partition's point at its end.
    open: BTreeMap<u64, (usize, HashMap<i32, Durable>)>,
    read_in_epoch: usize,
    last_message: Instant,
    /// The running "read to the end?" check (see [`reader::caught_up`]), asked off the
    /// worker thread (watermark requests are network calls); one at a time, at most one a
    /// second, so a slow Kafka never has several piling up.
    caught_up_check: Option<tokio::task::JoinHandle<(HashMap<i32, i64>, bool)>>,
    last_caught_up_check: Option<Instant>,
    /// The running "stuck?" check (see [`reader::behind`]), off the worker thread too.
    stall_check: Option<tokio::task::JoinHandle<Option<bool>>>,
    last_stall_check: Instant,
    last_quiet_note: Instant,
    /// Since when the stall checks got no answer from Kafka.
    kafka_silent_since: Option<Instant>,
    /// After an offset out of range: the running "which partitions?" check, when the last
    /// began, and whether an answer is still due.
    lost_check: Option<tokio::task::JoinHandle<Option<Vec<(i32, i64, i64, i64)>>>>,
    last_lost_check: Option<Instant>,
    lost_pending: bool,
    /// The produce-to-read latencies of one `read`, kept to reuse its allocation.
    read_latencies: Vec<u64>,
}

impl Reading {
    fn new(options: KafkaSourceOptions, partitions: Vec<i32>, durable: ProbeHandle<u64>, activator: Activator, epoch: u64, worker: usize) -> Reading {
        let start = |p: &i32| options.start.get(p).copied();
        let next_offsets = partitions.iter().filter_map(|p| start(p).map(|d| (*p, d.next_offset))).collect();
        let records = partitions.iter().filter_map(|p| start(p).map(|d| (*p, d.records))).collect();
        Reading {
            worker,
            partitions,
            durable,
            activator,
            reader: None,
            last_open_attempt: None,
            next_offsets,
            records,
            epoch,
            open: BTreeMap::new(),
            read_in_epoch: 0,
            last_message: Instant::now(),
            caught_up_check: None,
            last_caught_up_check: None,
            stall_check: None,
            last_stall_check: Instant::now(),
            last_quiet_note: Instant::now(),
            kafka_silent_since: None,
            lost_check: None,
            last_lost_check: None,
            lost_pending: false,
            read_latencies: Vec::new(),
            options,
        }
    }

    /// Opens the reader if there is none; false while it cannot be opened (retried a second
    /// later).
    fn ensure_reader(&mut self) -> bool {
        if self.reader.is_some() || self.partitions.is_empty() {
            return true;
        }
        if self.last_open_attempt.is_some_and(|at| at.elapsed() < Duration::from_secs(1)) {
            self.activator.activate_after(Duration::from_millis(100));
            return false;
        }
        self.last_open_attempt = Some(Instant::now());
        match (self.options.open)(&self.partitions, &self.next_offsets) {
            Ok(reader) => {
                self.reader = Some(reader);
                tracing::info!(partitions = ?self.partitions, "reading partitions");
                true
            }
            Err(error) => {
                tracing::error!(%error, partitions = ?self.partitions, "cannot assign the partitions; trying again");
                self.activator.activate_after(Duration::from_secs(1));
                false
            }
        }
    }

    /// Sends the points of the newest epoch the probe has passed.
    fn report_durable(&mut self) {
        let mut newest = None;
        while let Some(entry) = self.open.first_entry() {
            if self.durable.less_equal(entry.key()) {
                break;
            }
            newest = Some(entry.remove_entry());
        }
        if let Some((done_epoch, (_, points))) = newest {
            self.options.counters.durable_epoch.fetch_max(done_epoch, Ordering::Relaxed);
            for (partition, point) in points {
                let _ = self.options.durable_points.send((partition, point, done_epoch));
            }
        }
    }

    /// Records read and not yet durable.
    fn in_flight(&self) -> usize {
        self.open.values().map(|(n, _)| n).sum::<usize>() + self.read_in_epoch
    }

    /// Reads what there is room for and hands each record to `give`; returns how many.
    fn read(&mut self, mut give: impl FnMut(Incoming)) -> usize {
        if self.lost_pending {
            self.check_lost();
        }
        let room = self.options.max_in_flight.saturating_sub(self.in_flight()).min(POLL_BATCH);
        let Some(reader) = self.reader.as_ref() else { return 0 };
        let mut read = 0;
        let now_ms = crate::clock::now().timestamp_millis();
        self.read_latencies.clear();
        while read < room {
            match reader.poll() {
                Some(Ok(incoming)) => {
                    read += 1;
                    if let Some(produced) = incoming.produced_ms {
                        self.read_latencies.push((now_ms - produced).max(0) as u64);
                    }
                    self.next_offsets.insert(incoming.partition, incoming.offset + 1);
                    let records = self.records.entry(incoming.partition).or_default();
                    *records += 1;
                    give(Incoming { number: *records, ..incoming });
                }
                Some(Err(ReadError::OffsetOutOfRange)) => {
                    self.check_lost();
                    break;
                }
                Some(Err(ReadError::Other(error))) => {
                    tracing::warn!(%error, "Kafka consumer error; continuing");
                    break;
                }
                None => break,
            }
        }
        if read > 0 {
            self.last_message = Instant::now();
            self.read_in_epoch += read;
            self.options.counters.records_in.fetch_add(read as u64, Ordering::Relaxed);
            self.options.latencies.record_read(&self.read_latencies);
        }
        read
    }

    /// An offset out of range: asks Kafka (off the worker thread) which partitions' next
    /// offsets it no longer holds, again every second until it answers (librdkafka reports the
    /// error once, then stops fetching the partition), and then stops or skips the records lost
    /// to retention as [`LostRecords`] says. A next offset past the partition's end (the topic
    /// re-created or truncated) always stops: no offset to skip to would be right.
    fn check_lost(&mut self) {
        self.lost_pending = true;
        let answer = self.lost_check.take_if(|running| running.is_finished()).and_then(FutureExt::now_or_never).and_then(Result::ok);
        let Some(answer) = answer else {
            let due = self.last_lost_check.is_none_or(|at| at.elapsed() >= Duration::from_secs(1));
            if self.lost_check.is_none() && due {
                self.last_lost_check = Some(Instant::now());
                let (reader, offsets) = (self.reader.clone(), self.next_offsets.clone());
                self.lost_check = Some(self.options.runtime.spawn_blocking(move || reader::out_of_range(reader.as_deref(), &offsets)));
            }
            self.activator.activate_after(Duration::from_millis(100));
            return;
        };
        let Some(outside) = answer else { return }; // Kafka could not say: asked again.
        self.lost_pending = false;
        if let Some((partition, next, _, high)) = outside.iter().find(|(_, next, _, high)| next > high) {
            (self.options.lost_records.fatal)(format!(
                "partition {partition} ends at offset {high}, but this pipeline is durable up to offset {next}: the topic was re-created \
                 or truncated since. Rebuild the keyspace (`DROP KEYSPACE`, or another --keyspace) so the workers read it from the start"
            ));
            return;
        }
        let lost: Vec<(i32, i64, i64)> = outside.into_iter().map(|(partition, next, low, _)| (partition, next, low)).collect();
        if lost.is_empty() {
            return;
        }
        match self.options.lost_records.skip {
            false => {
                let parts: Vec<String> = lost
                    .iter()
                    .map(|(p, next, low)| format!("partition {p}: durable up to offset {next}, the earliest Kafka holds is {low} ({} records lost)", low - next))
                    .collect();
                (self.options.lost_records.fatal)(format!(
                    "Kafka's retention deleted records that were never made durable ({}); rtds stops rather than skip them. \
                     Replay them from the source (for PostgreSQL: drop the replication slot so that `rtds cdc` takes a new snapshot, \
                     and rebuild the keyspace, since the snapshot has no deletes), or accept the loss: start the workers with \
                     --accept-lost-records, which goes on from the earliest offsets and counts the records skipped \
                     (rtds_records_skipped_total, totals.skipped)",
                    parts.join("; ")
                ));
            }
            true => {
                for (partition, next, low) in lost {
                    tracing::warn!(partition, durable = next, earliest = low, skipped = low - next, "retention deleted records never made durable; skipping them (--accept-lost-records)");
                    self.next_offsets.insert(partition, low);
                    self.options.counters.records_skipped.fetch_add((low - next) as u64, Ordering::Relaxed);
                }
                // A new reader starts from the moved offsets.
                self.reader = None;
                self.last_open_attempt = None;
            }
        }
    }

    /// Room to read, nothing read for [`STALL_AFTER`], and Kafka holds more (or cannot be
    /// asked for that long): the reader is replaced, resuming where it stopped.
    fn watch_for_stall(&mut self, read: usize) {
        let quiet = read == 0 && self.last_message.elapsed() >= STALL_AFTER;
        if quiet && self.last_quiet_note.elapsed() >= STALL_AFTER {
            self.last_quiet_note = Instant::now();
            // The fields are computed only when debug logging is on.
            tracing::debug!(partitions = ?self.partitions, in_flight = self.in_flight(), open = self.open.len(),
                epoch = self.epoch, durable = ?self.durable.with_frontier(|f| f.to_vec()), next_offsets = ?self.next_offsets,
                position = ?self.reader.as_deref().and_then(PartitionReader::positions), checking = self.stall_check.is_some(), "reading nothing");
        }
        if !quiet || self.in_flight() >= self.options.max_in_flight || self.reader.is_none() {
            return;
        }
        if let Some(answer) = self.stall_check.take_if(|running| running.is_finished()).and_then(FutureExt::now_or_never) {
            // A client that lost every broker in a restart can stay without one for minutes,
            // and then cannot answer either: that counts as stuck too.
            let answer = answer.ok().flatten();
            tracing::debug!(partitions = ?self.partitions, ?answer, "stall check");
            let unanswered = answer.is_none() && self.kafka_silent_since.get_or_insert_with(Instant::now).elapsed() >= STALL_AFTER;
            if answer.is_some() {
                self.kafka_silent_since = None;
            }
            if answer == Some(true) || unanswered {
                tracing::warn!(partitions = ?self.partitions, silent = ?self.last_message.elapsed(),
                    "this consumer fetches nothing (Kafka holds more, or its client cannot reach Kafka); replacing it");
                self.reader = None;
                self.last_open_attempt = None;
                self.last_message = Instant::now();
                self.kafka_silent_since = None;
            }
        } else if self.stall_check.is_none() && self.last_stall_check.elapsed() >= Duration::from_secs(5) {
            self.last_stall_check = Instant::now();
            let (reader, offsets) = (self.reader.clone(), self.next_offsets.clone());
            self.stall_check = Some(self.options.runtime.spawn_blocking(move || reader::behind(reader.as_deref(), &offsets)));
        }
    }

    /// Closes the epoch when its time is up and returns the new one. Only epochs that read
    /// something (or passed transaction markers) are kept.
    fn close_epoch(&mut self) -> Option<u64> {
        let now = self.options.epochs.now().max(self.epoch);
        if now == self.epoch {
            return None;
        }
        // Transaction markers take offsets that no record is read at; the reader's position
        // passes them, and so does the durable point, so lag ends at 0.
        let passed_markers = self.reader.as_deref().is_some_and(|r| reader::pass_markers(r, &mut self.next_offsets));
        if self.read_in_epoch > 0 || passed_markers {
            self.open.insert(self.epoch, (self.read_in_epoch, self.points()));
        }
        self.read_in_epoch = 0;
        self.epoch = now;
        self.options.counters.epoch.fetch_max(now, Ordering::Relaxed);
        Some(now)
    }

    /// With `idle_exit`: true once nothing arrived for that long, all is durable, Kafka
    /// confirms there is nothing left to read (not merely that it cannot be reached), and the
    /// process's other workers are as quiet. The final points are sent then.
    fn finished(&mut self) -> bool {
        let Some(idle_exit) = self.options.idle_exit else { return false };
        let idle = self.last_message.elapsed() >= idle_exit && self.open.is_empty() && self.read_in_epoch == 0;
        if !idle {
            self.options.idle_vote.quiet(self.worker, false);
            return false;
        }
        let answer = self.caught_up_check.take_if(|running| running.is_finished()).and_then(FutureExt::now_or_never).and_then(Result::ok);
        match answer {
            Some((asked_at, true)) if asked_at == self.next_offsets => {
                // Quiet here; until the others are too, asked again with the next check.
                if !self.options.idle_vote.quiet(self.worker, true) {
                    return false;
                }
                for (partition, point) in self.points() {
                    let _ = self.options.durable_points.send((partition, point, self.epoch));
                }
                true
            }
            _ => {
                let due = self.last_caught_up_check.is_none_or(|at| at.elapsed() >= Duration::from_secs(1));
                if due && self.caught_up_check.is_none() {
                    self.last_caught_up_check = Some(Instant::now());
                    let (reader, offsets) = (self.reader.clone(), self.next_offsets.clone());
                    self.caught_up_check = Some(self.options.runtime.spawn_blocking(move || {
                        let done = reader::caught_up(reader.as_deref(), &offsets);
                        (offsets, done)
                    }));
                }
                false
            }
        }
    }

    /// Runs again at once after a full batch, else in 5 ms.
    fn schedule(&self, read: usize) {
        if read == POLL_BATCH {
            self.activator.activate();
        } else {
            self.activator.activate_after(Duration::from_millis(5));
        }
    }

    /// Each partition's point now.
    fn points(&self) -> HashMap<i32, Durable> {
        self.next_offsets.iter().map(|(p, next)| (*p, Durable { next_offset: *next, records: self.records.get(p).copied().unwrap_or(0) })).collect()
    }
}
