//! Polls, once a second, what the pipeline has made durable: offsets in Cassandra against
//! Kafka's high watermarks (lag per partition), the views' tables, and the tail of the
//! dead-letter topic.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

use super::StatusState;
use crate::connectors::cassandra::CassandraTables;
use crate::connectors::kafka::KafkaConfig;
use crate::connectors::kafka::{REASON_HEADER, SOURCE_HEADER, dlq_topic, partitions_of};

/// Polls the throughput is averaged over.
const RATE_WINDOW: usize = 3;

/// Dead letters shown on the page.
const RECENT_DEAD_LETTERS: i64 = 20;

/// One partition's progress.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionStatus {
    pub partition: i32,
    /// The next offset to read: durable in Cassandra is everything before it.
    pub durable_offset: i64,
    /// Records of the partition durable in Cassandra (fewer than the offset on a topic written
    /// in transactions: each commit marker takes an offset).
    pub durable_records: i64,
    /// Kafka's high watermark: the offset the next produced record gets.
    pub high_watermark: i64,
    pub lag: i64,
    /// The epoch the durable offset belongs to.
    pub epoch: i64,
}

/// A view's table as the status shows it: its columns (the key's first, as declared) and its
/// rows, at most [`VIEW_ROWS_SHOWN`] of them, as JSON values.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ViewStatus {
    pub columns: Vec<String>,
    /// The key columns' names.
    pub key: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Rows read: the table's, or [`VIEW_ROWS_SHOWN`] of them when it holds more.
    pub total_rows: usize,
}

/// Most rows of a view the status carries.
pub const VIEW_ROWS_SHOWN: usize = 500;

/// A record in the dead-letter topic.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub reason: String,
    /// Where it came from: `topic/partition@offset`, or the API page for ingest.
    pub source: String,
    pub at_ms: i64,
}

/// The dead-letter topic: its size and newest records.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeadLetters {
    pub topic: String,
    pub total: i64,
    /// Newest first.
    pub recent: Vec<DeadLetter>,
}

/// A Kafka broker or a Cassandra node, as the master last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    /// `kafka` or `cassandra`.
    pub service: &'static str,
    pub address: String,
    /// For Kafka: the broker is in the cluster's metadata now (a broker that stopped is
    /// fenced out within seconds); for Cassandra: the driver holds a connection to it.
    pub up: bool,
}

/// The pipeline's progress as the master last saw it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PipelineStatus {
    pub topic: String,
    pub keyspace: String,
    pub partitions: Vec<PartitionStatus>,
    pub durable_records: i64,
    /// Records in Kafka: the durable ones and the lag (the lag counts offsets, transaction
    /// markers included, so this is exact once the cluster caught up).
    pub ingested: i64,
    pub high_watermark: i64,
    pub total_lag: i64,
    /// Durable records per second over the last few seconds.
    pub records_per_second: f64,
    /// Length of an epoch (the unit of durability), milliseconds.
    pub epoch_ms: u64,
    /// The oldest partition's durable epoch.
    pub durable_epoch: i64,
    /// Why the last poll failed, if it did.
    pub error: Option<String>,
    /// Every Kafka broker and Cassandra node seen since the master started, up or not.
    pub nodes: Vec<NodeStatus>,
    #[serde(skip)]
    pub views: BTreeMap<String, ViewStatus>,
    #[serde(skip)]
    pub dead_letters: DeadLetters,
}

/// How long the status's Kafka client may fail before a fresh one replaces it.
const KAFKA_REPLACE_AFTER: Duration = Duration::from_secs(10);

/// Polls every second into `state` (and adds a history sample each time).
pub async fn poll_pipeline(state: StatusState, sink: Arc<CassandraTables>, kafka: KafkaConfig, topic: String, epoch_ms: u64) {
    let brokers = kafka.brokers.clone();
    let new_consumer = || {
        kafka
            .client_config()
            .set("group.id", "rtds-master")
            .set("enable.auto.commit", "false")
            .create::<BaseConsumer>()
            .map(Arc::new)
    };
    let mut consumer = match new_consumer() {
        Ok(consumer) => consumer,
        Err(e) => {
            state.pipeline.lock().expect("status").error = Some(e.to_string());
            return;
        }
    };
    // Since when Kafka has not answered. A client that lost every broker during a restart
    // can stay without one for minutes, so after KAFKA_REPLACE_AFTER a fresh client, which
    // bootstraps again, takes its place.
    let mut kafka_failing_since: Option<Instant> = None;
    // Durable records at the last few polls: offsets are recorded every 100 ms per process,
    // so a rate over one second jitters.
    let mut last: std::collections::VecDeque<(Instant, i64)> = std::collections::VecDeque::new();
    // Every broker seen, by id: one missing from the metadata now is down.
    let mut brokers_seen: BTreeMap<i32, String> = BTreeMap::new();
    loop {
        let started = tokio::time::Instant::now();
        let mut next = PipelineStatus { topic: topic.clone(), keyspace: sink.keyspace().to_string(), epoch_ms, ..Default::default() };
        let (offsets, aggregates) = tokio::join!(sink.offsets(&topic), sink.read_views(VIEW_ROWS_SHOWN));
        let kafka = {
            let (consumer, brokers, topic) = (consumer.clone(), brokers.clone(), topic.clone());
            tokio::task::spawn_blocking(move || kafka_side(&consumer, &brokers, &topic)).await.expect("the Kafka poll does not panic")
        };
        if kafka.is_ok() {
            kafka_failing_since = None;
        } else if kafka_failing_since.get_or_insert_with(Instant::now).elapsed() >= KAFKA_REPLACE_AFTER {
            if let Ok(fresh) = new_consumer() {
                consumer = fresh;
            }
            kafka_failing_since = None;
        }
        match (offsets, kafka) {
            (Ok(offsets), Ok((watermarks, dead_letters))) => {
                for (partition, high_watermark) in watermarks.into_iter().enumerate() {
                    let (durable, epoch) = offsets
                        .iter()
                        .find(|(p, _, _)| *p == partition as i32)
                        .map_or((Default::default(), 0), |(_, durable, epoch)| (*durable, *epoch));
                    let durable_offset = durable.next_offset;
                    next.partitions.push(PartitionStatus {
                        partition: partition as i32,
                        durable_offset,
                        durable_records: durable.records,
                        high_watermark,
                        lag: (high_watermark - durable_offset).max(0),
                        epoch,
                    });
                }
                next.durable_records = next.partitions.iter().map(|p| p.durable_records).sum();
                next.high_watermark = next.partitions.iter().map(|p| p.high_watermark.max(0)).sum();
                next.total_lag = next.partitions.iter().map(|p| p.lag).sum();
                next.ingested = next.durable_records + next.total_lag;
                next.durable_epoch = next.partitions.iter().map(|p| p.epoch).min().unwrap_or(0);
                next.dead_letters = dead_letters;
                let now = Instant::now();
                if let Some((at, records)) = last.front() {
                    next.records_per_second = (next.durable_records - records) as f64 / now.duration_since(*at).as_secs_f64().max(1e-3);
                }
                if last.len() == RATE_WINDOW {
                    last.pop_front();
                }
                last.push_back((now, next.durable_records));
            }
            (Err(e), _) => next.error = Some(e.to_string()),
            (_, Err(e)) => next.error = Some(e),
        }
        let live = {
            let consumer = consumer.clone();
            tokio::task::spawn_blocking(move || live_brokers(&consumer)).await.expect("the metadata poll does not panic")
        };
        if let Some(live) = &live {
            brokers_seen.extend(live.iter().cloned());
        }
        next.nodes = brokers_seen
            .iter()
            .map(|(id, address)| NodeStatus { service: "kafka", address: address.clone(), up: live.as_ref().is_some_and(|l| l.iter().any(|(i, _)| i == id)) })
            .chain(sink.nodes().into_iter().map(|(address, up)| NodeStatus { service: "cassandra", address, up }))
            .collect();
        match aggregates {
            Ok(views) => {
                next.views = views
                    .into_iter()
                    .zip(sink.views())
                    .map(|(rows, table)| {
                        let status = ViewStatus {
                            columns: table.columns.iter().map(|(name, _)| name.clone()).collect(),
                            key: table.key.iter().map(|i| table.columns[*i].0.clone()).collect(),
                            total_rows: rows.len(),
                            rows: rows.iter().map(|row| row.iter().map(crate::sql::Datum::to_json).collect()).collect(),
                        };
                        (table.name.clone(), status)
                    })
                    .collect();
            }
            Err(e) => next.error = next.error.or(Some(e.to_string())),
        }
        let rejected = state.telemetry.totals(&state.cluster.lock().expect("status").processes).rejected;
        state.telemetry.sample(crate::clock::now().timestamp_millis(), next.records_per_second, next.total_lag, rejected);
        *state.pipeline.lock().expect("status") = next;
        tokio::time::sleep_until(started + Duration::from_secs(1)).await;
    }
}

/// The topic's high watermarks by partition, and the dead-letter topic's tail.
fn kafka_side(consumer: &BaseConsumer, brokers: &str, topic: &str) -> Result<(Vec<i64>, DeadLetters), String> {
    let timeout = Duration::from_secs(5);
    let count = partitions_of(consumer, brokers, topic, timeout).map_err(|e| e.to_string())?.ok_or(format!("topic {topic} does not exist yet"))?;
    let watermarks = (0..count as i32).map(|p| consumer.fetch_watermarks(topic, p, timeout).map(|(_, high)| high).unwrap_or(-1)).collect();
    let dead_letters = dead_letters(consumer, brokers, &dlq_topic(topic)).unwrap_or_else(|| DeadLetters { topic: dlq_topic(topic), ..Default::default() });
    Ok((watermarks, dead_letters))
}

/// The brokers in the cluster's metadata now, by id; `None` if Kafka cannot be asked.
fn live_brokers(consumer: &BaseConsumer) -> Option<Vec<(i32, String)>> {
    let metadata = consumer.fetch_metadata(None, Duration::from_secs(2)).ok()?;
    Some(metadata.brokers().iter().map(|b| (b.id(), format!("{}:{}", b.host(), b.port()))).collect())
}

/// The size of the dead-letter topic and its newest records; `None` if it cannot be read.
fn dead_letters(consumer: &BaseConsumer, brokers: &str, dlq: &str) -> Option<DeadLetters> {
    let timeout = Duration::from_secs(2);
    let mut result = DeadLetters { topic: dlq.to_string(), ..Default::default() };
    let Some(count) = partitions_of(consumer, brokers, dlq, timeout).ok()? else { return Some(result) };
    let mut assignment = TopicPartitionList::new();
    let mut expected = 0;
    for partition in 0..count as i32 {
        let (low, high) = consumer.fetch_watermarks(dlq, partition, timeout).ok()?;
        result.total += high - low;
        let from = low.max(high - RECENT_DEAD_LETTERS);
        if from < high {
            expected += high - from;
            assignment.add_partition_offset(dlq, partition, Offset::Offset(from)).ok()?;
        }
    }
    if expected == 0 {
        return Some(result);
    }
    consumer.assign(&assignment).ok()?;
    let deadline = Instant::now() + timeout;
    let mut read = 0;
    while read < expected && Instant::now() < deadline {
        let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) else { continue };
        read += 1;
        let header = |name: &str| {
            message.headers().and_then(|headers| {
                headers.iter().find(|h| h.key == name).and_then(|h| h.value).map(|v| String::from_utf8_lossy(v).into_owned())
            })
        };
        result.recent.push(DeadLetter {
            reason: header(REASON_HEADER).unwrap_or_else(|| "(no reason header)".into()),
            source: header(SOURCE_HEADER).unwrap_or_default(),
            at_ms: message.timestamp().to_millis().unwrap_or(0),
        });
    }
    let _ = consumer.unassign();
    result.recent.sort_by_key(|d| std::cmp::Reverse(d.at_ms));
    result.recent.truncate(RECENT_DEAD_LETTERS as usize);
    Some(result)
}
