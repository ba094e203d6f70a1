//! What the source needs of a Kafka consumer, behind a trait so that tests can run the
//! source on a fake one; and the rdkafka consumer that serves it in a cluster.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Headers;
use rdkafka::{Message, Offset, TopicPartitionList};

use super::Incoming;
use crate::connectors::kafka::LSN_HEADER;

/// Why a poll gave no record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// A partition's next offset is no longer in the log (retention deleted it): reading on
    /// would skip records, so the source stops unless told to accept the loss.
    OffsetOutOfRange,
    /// Anything else; the client retries by itself.
    Other(String),
}

/// A consumer assigned some partitions of one topic.
pub trait PartitionReader: Send + Sync {
    /// The next record if one is ready; never blocks.
    fn poll(&self) -> Option<Result<Incoming, ReadError>>;

    /// Each assigned partition's position: the offset after the last record handed out,
    /// transaction markers passed. `None` when the client cannot say.
    fn positions(&self) -> Option<HashMap<i32, i64>>;

    /// A partition's low and high watermarks (for a `read_committed` consumer the high one
    /// is the last stable offset). Blocks for up to `timeout`; `None` when Kafka cannot say.
    fn watermarks(&self, partition: i32, timeout: Duration) -> Option<(i64, i64)>;

    /// The partitions assigned; `None` when the client cannot say.
    fn assigned(&self) -> Option<Vec<i32>>;
}

/// Makes a reader of `partitions` from `next_offsets` (from the beginning for a partition
/// not in it). The source calls it again to replace a reader that stopped fetching.
pub type OpenReader = Arc<dyn Fn(&[i32], &HashMap<i32, i64>) -> Result<Arc<dyn PartitionReader>, String> + Send + Sync>;

/// Opens rdkafka consumers of `topic`: assigned directly (no group
/// rebalancing), `read_committed`, no offsets committed to Kafka (the durable offsets live
/// with the data, see the module docs).
pub fn rdkafka_reader(kafka: &crate::connectors::kafka::KafkaConfig, topic: &str) -> OpenReader {
    let (kafka, topic) = (kafka.clone(), topic.to_string());
    Arc::new(move |partitions, next_offsets| {
        let consumer: BaseConsumer = kafka
            .client_config()
            .set("group.id", "rtds-workers")
            // Only committed changes: what the CDC stage aborted (a crash, a fenced copy) is never read.
            .set("isolation.level", "read_committed")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            // An offset retention has deleted is an error, not a silent jump to the end (the
            // default, `latest`, would skip every record in between without a word).
            .set("auto.offset.reset", "error")
            .set("queued.max.messages.kbytes", "4096")
            .set("queued.min.messages", "10000")
            .set("fetch.max.bytes", "8388608")
            .create()
            .map_err(|e| e.to_string())?;
        let mut assignment = TopicPartitionList::new();
        for partition in partitions {
            // A partition never recorded starts at offset 0, not at "the beginning": if
            // retention has deleted its first records, that is an error too, not a silent start
            // further on.
            let offset = Offset::Offset(next_offsets.get(partition).copied().unwrap_or(0));
            assignment.add_partition_offset(&topic, *partition, offset).map_err(|e| e.to_string())?;
        }
        consumer.assign(&assignment).map_err(|e| e.to_string())?;
        Ok(Arc::new(KafkaReader { consumer, topic: topic.clone() }) as Arc<dyn PartitionReader>)
    })
}

struct KafkaReader {
    consumer: BaseConsumer,
    topic: String,
}

impl PartitionReader for KafkaReader {
    fn poll(&self) -> Option<Result<Incoming, ReadError>> {
        Some(self.consumer.poll(Duration::ZERO)?.map_err(read_error).map(|message| Incoming {
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            partition: message.partition(),
            offset: message.offset(),
            produced_ms: message.timestamp().to_millis(),
            lsn: message.headers().and_then(|headers| {
                let header = headers.iter().find(|h| h.key == LSN_HEADER)?;
                std::str::from_utf8(header.value?).ok()?.parse().ok()
            }),
            number: 0,
        }))
    }

    fn positions(&self) -> Option<HashMap<i32, i64>> {
        let positions = self.consumer.position().ok()?;
        Some(
            positions
                .elements_for_topic(&self.topic)
                .iter()
                .filter_map(|e| Some((e.partition(), e.offset().to_raw().filter(|o| *o >= 0)?)))
                .collect(),
        )
    }

    fn watermarks(&self, partition: i32, timeout: Duration) -> Option<(i64, i64)> {
        self.consumer.fetch_watermarks(&self.topic, partition, timeout).ok()
    }

    fn assigned(&self) -> Option<Vec<i32>> {
        self.consumer.assignment().ok().map(|a| a.elements().iter().map(|e| e.partition()).collect())
    }
}

fn read_error(error: KafkaError) -> ReadError {
    match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::AutoOffsetReset | RDKafkaErrorCode::OffsetOutOfRange) => ReadError::OffsetOutOfRange,
        _ => ReadError::Other(error.to_string()),
    }
}

/// The partitions whose next offset Kafka no longer holds: (partition, next offset (0 for one
/// never read), the earliest and the latest offset Kafka holds). The next offset is below the
/// earliest when retention deleted records, above the latest when the topic was re-created or
/// truncated. `None` when Kafka cannot say.
pub(super) fn out_of_range(reader: Option<&dyn PartitionReader>, next_offsets: &HashMap<i32, i64>) -> Option<Vec<(i32, i64, i64, i64)>> {
    let reader = reader?;
    let mut outside = Vec::new();
    for partition in reader.assigned()? {
        let (low, high) = reader.watermarks(partition, Duration::from_secs(2))?;
        let next = next_offsets.get(&partition).copied().unwrap_or(0);
        if next < low || next > high {
            outside.push((partition, next, low, high));
        }
    }
    Some(outside)
}

/// Moves each partition's next offset up to the reader's position where that is further
/// (only transaction markers lie between: the position counts every record handed out);
/// true if one moved.
pub(super) fn pass_markers(reader: &dyn PartitionReader, next_offsets: &mut HashMap<i32, i64>) -> bool {
    let Some(positions) = reader.positions() else { return false };
    let mut moved = false;
    for (partition, position) in positions {
        let next = next_offsets.entry(partition).or_insert(0);
        if position > *next {
            *next = position;
            moved = true;
        }
    }
    moved
}

/// True when every assigned partition has been read to its high watermark; false when
/// Kafka cannot say.
///
/// The position counts too, not only the records read: the changes come in transactions,
/// and the commit marker after a transaction's last record takes an offset that no record
/// is read at.
pub(super) fn caught_up(reader: Option<&dyn PartitionReader>, next_offsets: &HashMap<i32, i64>) -> bool {
    let Some(reader) = reader else { return true };
    let Some(assigned) = reader.assigned() else { return false };
    let positions = reader.positions().unwrap_or_default();
    assigned.into_iter().all(|partition| match reader.watermarks(partition, Duration::from_secs(1)) {
        Some((low, high)) => {
            let position = positions.get(&partition).copied().unwrap_or(low);
            next_offsets.get(&partition).copied().unwrap_or(low).max(position) >= high
        }
        None => false,
    })
}

/// Whether Kafka holds records of an assigned partition past what was read (`next_offsets`,
/// or the position past markers); `None` when Kafka cannot say.
pub(super) fn behind(reader: Option<&dyn PartitionReader>, next_offsets: &HashMap<i32, i64>) -> Option<bool> {
    let reader = reader?;
    let assigned = reader.assigned()?;
    let positions = reader.positions().unwrap_or_default();
    for partition in assigned {
        let (low, high) = reader.watermarks(partition, Duration::from_secs(2))?;
        let position = positions.get(&partition).copied().unwrap_or(-1);
        let read_to = next_offsets.get(&partition).copied().unwrap_or(low).max(position);
        // More than a marker or two ahead: records this consumer should have fetched.
        if high > read_to + 2 {
            return Some(true);
        }
    }
    Some(false)
}
