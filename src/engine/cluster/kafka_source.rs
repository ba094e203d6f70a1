//! The Kafka source: each worker reads the partitions it owns, stamps records with the
//! current epoch, and records its partitions' offsets once an epoch is durable everywhere.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::FutureExt;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::dataflow::{Scope, Stream};

use super::{Incoming, ProcessState, epoch_now};
use crate::connectors::cassandra::Durable;

/// Most messages read in one activation, so other operators get their turn.
const POLL_BATCH: usize = 5000;

/// With room to read and no record for this long, the source asks Kafka whether there is more
/// to read; if there is, its consumer is stuck and is replaced (see [`behind`]).
const STALL_AFTER: Duration = Duration::from_secs(10);

/// Partitions owned by global worker `index` of `workers`: p with p mod workers == index.
///
/// ```
/// assert_eq!(rtds::engine::cluster::owned_partitions(8, 1, 4), vec![1, 5]);
/// assert_eq!(rtds::engine::cluster::owned_partitions(2, 3, 4), Vec::<i32>::new());
/// ```
pub fn owned_partitions(partitions: usize, index: usize, workers: usize) -> Vec<i32> {
    (0..partitions).filter(|p| p % workers == index).map(|p| p as i32).collect()
}

/// Reads this worker's partitions from their durable offsets. `durable` is the probe after
/// every sink: an epoch it has passed is written everywhere, so its offsets may be recorded.
pub fn kafka_source<'scope>(
    scope: Scope<'scope, u64>,
    state: Arc<ProcessState>,
    durable: ProbeHandle<u64>,
    first_epoch: u64,
) -> Stream<'scope, u64, Vec<(Incoming, u64, isize)>> {
    let partitions = owned_partitions(state.partitions, scope.index(), scope.peers());
    source::<_, CapacityContainerBuilder<Vec<(Incoming, u64, isize)>>, _, _>(scope, "KafkaSource", move |capability, info| {
        let activator = scope.activator_for(info.address);
        let plan = state.source.clone();
        // Created on the first activation, and again a second later if that failed: a
        // consumer that cannot be made or assigned is an error to report, not a panic.
        let mut consumer: Option<Arc<BaseConsumer>> = None;
        let mut last_assign_attempt: Option<Instant> = None;
        // The running "read to the end?" check (see `caught_up`), asked off the worker thread
        // (watermark requests are network calls); one at a time, so a slow Kafka never has
        // several piling up, and at most one a second.
        let mut check: Option<tokio::task::JoinHandle<CaughtUp>> = None;
        let mut last_caught_up_check: Option<Instant> = None;
        // Per partition: the next offset to read, and the records read before it (they differ
        // by the transaction markers in between).
        let mut next_offsets: HashMap<i32, i64> =
            partitions.iter().filter_map(|p| state.start_offsets.get(p).map(|d| (*p, d.next_offset))).collect();
        let mut records: HashMap<i32, i64> =
            partitions.iter().filter_map(|p| state.start_offsets.get(p).map(|d| (*p, d.records))).collect();
        let mut capability = Some(capability);
        let mut epoch = first_epoch;
        if let Some(cap) = capability.as_mut() {
            cap.downgrade(&epoch);
        }
        // Per epoch not yet durable: records read in it, and each partition's point at its end.
        let mut open: BTreeMap<u64, (usize, HashMap<i32, Durable>)> = BTreeMap::new();
        let mut read_in_epoch = 0usize;
        let mut last_message = Instant::now();
        // The running "stuck?" check (see `behind`), off the worker thread like `check`.
        let mut stall_check: Option<tokio::task::JoinHandle<Option<bool>>> = None;
        let mut last_stall_check = Instant::now();
        let mut last_quiet_note = Instant::now();
        // Since when the stall checks got no answer from Kafka.
        let mut kafka_silent_since: Option<Instant> = None;
        move |output| {
            let Some(cap) = capability.as_mut() else { return };
            if consumer.is_none() && !partitions.is_empty() {
                if last_assign_attempt.is_some_and(|at| at.elapsed() < Duration::from_secs(1)) {
                    activator.activate_after(Duration::from_millis(100));
                    return;
                }
                last_assign_attempt = Some(Instant::now());
                match assign(&state, &partitions, &next_offsets) {
                    Ok(created) => {
                        consumer = Some(Arc::new(created));
                        tracing::info!(?partitions, "reading partitions");
                    }
                    Err(e) => {
                        tracing::error!(error = %e, ?partitions, "cannot assign the partitions; trying again");
                        activator.activate_after(Duration::from_secs(1));
                        return;
                    }
                }
            }
            // Offsets of epochs now durable everywhere: record the newest.
            let mut newest = None;
            while let Some(entry) = open.first_entry() {
                if durable.less_equal(entry.key()) {
                    break;
                }
                newest = Some(entry.remove_entry());
            }
            if let Some((done_epoch, (_, points))) = newest {
                state.counters.durable_epoch.fetch_max(done_epoch, Ordering::Relaxed);
                for (partition, point) in points {
                    let _ = state.offsets.send((partition, point, done_epoch));
                }
            }
            let in_flight: usize = open.values().map(|(n, _)| n).sum::<usize>() + read_in_epoch;

            // Read no more than `max_in_flight` records that are not yet durable (backpressure):
            // this bounds the worker's memory during a stall, and what a crash makes it read again.
            let mut read = 0;
            let room = plan.max_in_flight.saturating_sub(in_flight).min(POLL_BATCH);
            if let Some(consumer) = consumer.as_ref().filter(|_| room > 0) {
                let mut session = output.session(&*cap);
                while read < room {
                    match consumer.poll(Duration::ZERO) {
                        Some(Ok(message)) => {
                            read += 1;
                            next_offsets.insert(message.partition(), message.offset() + 1);
                            *records.entry(message.partition()).or_default() += 1;
                            let incoming = Incoming {
                                key: message.key().map(<[u8]>::to_vec),
                                payload: message.payload().map(<[u8]>::to_vec),
                                partition: message.partition(),
                                offset: message.offset(),
                                produced_ms: message.timestamp().to_millis(),
                            };
                            session.give((incoming, epoch, 1));
                        }
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "Kafka consumer error; continuing");
                            break;
                        }
                        None => break,
                    }
                }
            }
            // An assigned consumer can stop fetching after a broker restart without an error
            // (librdkafka #5153, #5586; rust-rdkafka #597): if Kafka holds records past ours
            // while we read nothing, replace the consumer, resuming where it stopped.
            if read == 0 && last_message.elapsed() >= STALL_AFTER && last_quiet_note.elapsed() >= STALL_AFTER {
                last_quiet_note = Instant::now();
                // The fields are computed only when debug logging is on.
                tracing::debug!(?partitions, room, in_flight, open = open.len(), epoch, durable = ?durable.with_frontier(|f| f.to_vec()), ?next_offsets,
                    position = ?consumer.as_deref().and_then(|c| c.position().ok()), checking = stall_check.is_some(), "reading nothing");
            }
            if read == 0 && room > 0 && consumer.is_some() && last_message.elapsed() >= STALL_AFTER {
                if let Some(answer) = stall_check.take_if(|running| running.is_finished()).and_then(FutureExt::now_or_never) {
                    // A client that lost every broker in a restart can stay without one for
                    // minutes, and then cannot answer either: that counts as stuck too.
                    let answer = answer.ok().flatten();
                    tracing::debug!(?partitions, ?answer, "stall check");
                    let unanswered = answer.is_none() && kafka_silent_since.get_or_insert_with(Instant::now).elapsed() >= STALL_AFTER;
                    if answer.is_some() {
                        kafka_silent_since = None;
                    }
                    if answer == Some(true) || unanswered {
                        tracing::warn!(?partitions, silent = ?last_message.elapsed(), "this consumer fetches nothing (Kafka holds more, or its client cannot reach Kafka); replacing it");
                        consumer = None;
                        last_assign_attempt = None;
                        last_message = Instant::now();
                        kafka_silent_since = None;
                    }
                } else if stall_check.is_none() && last_stall_check.elapsed() >= Duration::from_secs(5) {
                    last_stall_check = Instant::now();
                    let (consumer, offsets, topic) = (consumer.clone(), next_offsets.clone(), state.source.topic.clone());
                    stall_check = Some(state.runtime.spawn_blocking(move || behind(consumer.as_deref(), &topic, &offsets)));
                }
            }
            if read > 0 {
                last_message = Instant::now();
                read_in_epoch += read;
                state.counters.records_in.fetch_add(read as u64, Ordering::Relaxed);
            }

            // Close the epoch when its time is up. Only epochs that read something are kept:
            // an empty one changes no offset, so a stalled sink costs no bookkeeping.
            let now = epoch_now(plan.epoch_ms).max(epoch);
            if now > epoch {
                // Transaction markers take offsets that no record is read at; the consumer's
                // position passes them, and so does the durable offset, so lag ends at 0.
                let passed_markers = consumer.as_deref().is_some_and(|c| pass_markers(c, &state.source.topic, &mut next_offsets));
                if read_in_epoch > 0 || passed_markers {
                    open.insert(epoch, (read_in_epoch, points(&next_offsets, &records)));
                }
                read_in_epoch = 0;
                epoch = now;
                cap.downgrade(&epoch);
                state.counters.epoch.fetch_max(epoch, Ordering::Relaxed);
            }

            // With --idle-exit: finish once nothing arrived for that long, all is durable, and
            // Kafka confirms there is nothing left to read (not merely unreachable).
            let idle = state.idle_exit.is_some_and(|d| last_message.elapsed() >= d) && open.is_empty() && read_in_epoch == 0;
            let confirmed = idle && {
                let answer = check.take_if(|running| running.is_finished()).and_then(FutureExt::now_or_never).and_then(Result::ok);
                match answer {
                    Some((asked_at, done)) if asked_at == next_offsets => done,
                    _ => {
                        let due = last_caught_up_check.is_none_or(|at| at.elapsed() >= Duration::from_secs(1));
                        if due && check.is_none() {
                            last_caught_up_check = Some(Instant::now());
                            let (consumer, offsets, topic) = (consumer.clone(), next_offsets.clone(), state.source.topic.clone());
                            check = Some(state.runtime.spawn_blocking(move || {
                                let done = caught_up(consumer.as_deref(), &topic, &offsets);
                                (offsets, done)
                            }));
                        }
                        false
                    }
                }
            };
            if confirmed {
                for (partition, point) in points(&next_offsets, &records) {
                    let _ = state.offsets.send((partition, point, epoch));
                }
                capability = None;
                return;
            }
            if read == POLL_BATCH {
                activator.activate();
            } else {
                activator.activate_after(Duration::from_millis(5));
            }
        }
    })
}

/// Each partition's durable point, from its next offset and the records read before it.
fn points(next_offsets: &HashMap<i32, i64>, records: &HashMap<i32, i64>) -> HashMap<i32, Durable> {
    next_offsets.iter().map(|(p, next)| (*p, Durable { next_offset: *next, records: records.get(p).copied().unwrap_or(0) })).collect()
}

/// Moves each partition's next offset up to the consumer's position where that is further
/// (only transaction markers lie between: the position counts every record handed out);
/// true if one moved.
fn pass_markers(consumer: &BaseConsumer, topic: &str, next_offsets: &mut HashMap<i32, i64>) -> bool {
    let Ok(position) = consumer.position() else { return false };
    let mut moved = false;
    for element in position.elements_for_topic(topic) {
        let Some(offset) = element.offset().to_raw().filter(|o| *o >= 0) else { continue };
        let next = next_offsets.entry(element.partition()).or_insert(0);
        if offset > *next {
            *next = offset;
            moved = true;
        }
    }
    moved
}

/// The offsets a "read to the end?" check was asked about, and its answer.
type CaughtUp = (HashMap<i32, i64>, bool);

/// True when every assigned partition has been read to its high watermark (for a
/// `read_committed` consumer, the last stable offset); false when Kafka cannot say.
///
/// The consumer's position counts too, not only the records read: the changes come in
/// transactions, and the commit marker after a transaction's last record takes an offset
/// that no record is read at.
fn caught_up(consumer: Option<&BaseConsumer>, topic: &str, next_offsets: &HashMap<i32, i64>) -> bool {
    let Some(consumer) = consumer else { return true };
    let Ok(assignment) = consumer.assignment() else { return false };
    let positions = consumer.position().ok();
    assignment.elements().iter().all(|element| {
        let partition = element.partition();
        let position = positions
            .as_ref()
            .and_then(|p| p.find_partition(topic, partition))
            .and_then(|e| e.offset().to_raw())
            .filter(|offset| *offset >= 0);
        match consumer.fetch_watermarks(topic, partition, Duration::from_secs(1)) {
            Ok((low, high)) => next_offsets.get(&partition).copied().unwrap_or(low).max(position.unwrap_or(low)) >= high,
            Err(_) => false,
        }
    })
}

/// Whether Kafka holds records of an assigned partition past what was read (`next_offsets`,
/// or the consumer's position past markers); `None` when Kafka cannot say.
fn behind(consumer: Option<&BaseConsumer>, topic: &str, next_offsets: &HashMap<i32, i64>) -> Option<bool> {
    let consumer = consumer?;
    let assignment = consumer.assignment().ok()?;
    let positions = consumer.position().ok();
    for element in assignment.elements() {
        let partition = element.partition();
        let position = positions.as_ref().and_then(|p| p.find_partition(topic, partition)).and_then(|e| e.offset().to_raw()).unwrap_or(-1);
        let (low, high) = consumer.fetch_watermarks(topic, partition, Duration::from_secs(2)).ok()?;
        let read_to = next_offsets.get(&partition).copied().unwrap_or(low).max(position);
        // More than a marker or two ahead: records this consumer should have fetched.
        if high > read_to + 2 {
            return Some(true);
        }
    }
    Some(false)
}

/// A consumer assigned this worker's `partitions` (at least one) at `next_offsets` (the
/// durable offsets at the start; the beginning for partitions never recorded).
fn assign(state: &ProcessState, partitions: &[i32], next_offsets: &HashMap<i32, i64>) -> Result<BaseConsumer, rdkafka::error::KafkaError> {
    let consumer: BaseConsumer = crate::connectors::kafka::client_config(&state.brokers)
        .set("group.id", "rtds-workers")
        // Only committed changes: what the CDC stage aborted (a crash, a fenced copy) is never read.
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("queued.max.messages.kbytes", "4096")
        .set("queued.min.messages", "10000")
        .set("fetch.max.bytes", "8388608")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    for partition in partitions {
        let offset = next_offsets.get(partition).map_or(Offset::Beginning, |next| Offset::Offset(*next));
        assignment.add_partition_offset(&state.source.topic, *partition, offset)?;
    }
    consumer.assign(&assignment)?;
    Ok(consumer)
}
