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

/// Most messages read in one activation, so other operators get their turn.
const POLL_BATCH: usize = 5000;

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
        let mut next_offsets: HashMap<i32, i64> =
            partitions.iter().filter_map(|p| state.start_offsets.get(p).map(|o| (*p, *o))).collect();
        let mut capability = Some(capability);
        let mut epoch = first_epoch;
        if let Some(cap) = capability.as_mut() {
            cap.downgrade(&epoch);
        }
        // Per epoch not yet durable: records read in it, and the offsets at its end.
        let mut open: BTreeMap<u64, (usize, HashMap<i32, i64>)> = BTreeMap::new();
        let mut read_in_epoch = 0usize;
        let mut last_message = Instant::now();
        move |output| {
            let Some(cap) = capability.as_mut() else { return };
            if consumer.is_none() && !partitions.is_empty() {
                if last_assign_attempt.is_some_and(|at| at.elapsed() < Duration::from_secs(1)) {
                    activator.activate_after(Duration::from_millis(100));
                    return;
                }
                last_assign_attempt = Some(Instant::now());
                match assign(&state, &partitions) {
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
            if let Some((done_epoch, (_, offsets))) = newest {
                state.counters.durable_epoch.fetch_max(done_epoch, Ordering::Relaxed);
                for (partition, next) in offsets {
                    let _ = state.offsets.send((partition, next, done_epoch));
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
                            let incoming = Incoming {
                                payload: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
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
            if read > 0 {
                last_message = Instant::now();
                read_in_epoch += read;
                state.counters.records_in.fetch_add(read as u64, Ordering::Relaxed);
            }

            // Close the epoch when its time is up. Only epochs that read something are kept:
            // an empty one changes no offset, so a stalled sink costs no bookkeeping.
            let now = epoch_now(plan.epoch_ms).max(epoch);
            if now > epoch {
                if read_in_epoch > 0 {
                    open.insert(epoch, (read_in_epoch, next_offsets.clone()));
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
                for (partition, next) in &next_offsets {
                    let _ = state.offsets.send((*partition, *next, epoch));
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

/// The offsets a "read to the end?" check was asked about, and its answer.
type CaughtUp = (HashMap<i32, i64>, bool);

/// True when every assigned partition has been read to its high watermark; false when
/// Kafka cannot say.
fn caught_up(consumer: Option<&BaseConsumer>, topic: &str, next_offsets: &HashMap<i32, i64>) -> bool {
    let Some(consumer) = consumer else { return true };
    let Ok(assignment) = consumer.assignment() else { return false };
    assignment.elements().iter().all(|element| {
        let partition = element.partition();
        match consumer.fetch_watermarks(topic, partition, Duration::from_secs(1)) {
            Ok((low, high)) => next_offsets.get(&partition).copied().unwrap_or(low) >= high,
            Err(_) => false,
        }
    })
}

/// A consumer assigned this worker's `partitions` (at least one) at their durable offsets
/// (the beginning for partitions never recorded).
fn assign(state: &ProcessState, partitions: &[i32]) -> Result<BaseConsumer, rdkafka::error::KafkaError> {
    let consumer: BaseConsumer = crate::connectors::kafka::client_config(&state.brokers)
        .set("group.id", "rtds-workers")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("queued.max.messages.kbytes", "4096")
        .set("queued.min.messages", "10000")
        .set("fetch.max.bytes", "8388608")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    for partition in partitions {
        let offset = state.start_offsets.get(partition).map_or(Offset::Beginning, |o| Offset::Offset(*o));
        assignment.add_partition_offset(&state.source.topic, *partition, offset)?;
    }
    consumer.assign(&assignment)?;
    Ok(consumer)
}
