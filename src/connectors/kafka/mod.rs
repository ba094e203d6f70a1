//! Kafka through rdkafka (librdkafka built from the crate's bundled sources): the cluster's
//! source (`source/`), the dead-letter sink (`dlq.rs`), the producer of rows and dead letters
//! (`producer.rs`) and the CDC stage's transactional producer with its resume point
//! (`transactions.rs`); the client settings every one of them shares are here.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use super::ServiceError;

/// Checks that a broker answers a metadata request; returns the number of brokers.
pub fn ping(kafka: &KafkaConfig, timeout: Duration) -> Result<usize, ServiceError> {
    let consumer: BaseConsumer<LastError> = LastError::client(kafka)?;
    let metadata = consumer.fetch_metadata(None, timeout).map_err(|e| LastError::explain_failure(&consumer, &kafka.brokers, e))?;
    Ok(metadata.brokers().len())
}

/// Partitions of `topic`, or `None` when it does not exist.
pub fn partition_count(kafka: &KafkaConfig, topic: &str, timeout: Duration) -> Result<Option<usize>, ServiceError> {
    let consumer: BaseConsumer<LastError> = LastError::client(kafka)?;
    partitions_of(&consumer, &kafka.brokers, topic, timeout).map_err(|e| match e {
        ServiceError::Unreachable { reason, .. } => LastError::explain_failure(&consumer, &kafka.brokers, reason),
        other => other,
    })
}

/// [`partition_count`] through a client that is already connected (for repeated polls).
pub fn partitions_of<C: rdkafka::consumer::ConsumerContext>(consumer: &BaseConsumer<C>, brokers: &str, topic: &str, timeout: Duration) -> Result<Option<usize>, ServiceError> {
    let metadata = consumer.fetch_metadata(Some(topic), timeout).map_err(|e| unreachable(brokers, e))?;
    Ok(metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().len())
        .filter(|n| *n > 0))
}

/// Creates `topic` with `partitions` partitions unless it exists; returns its partition count.
/// An existing topic keeps its partitions (a warning says so when they differ). A new topic
/// gets the cluster's `default.replication.factor` (and its `min.insync.replicas`), so a
/// replicated cluster replicates rtds's topics without a setting of rtds's.
///
/// ```no_run
/// # async fn demo() -> Result<(), rtds::connectors::ServiceError> {
/// let kafka = rtds::connectors::kafka::KafkaConfig::new("127.0.0.1:9092");
/// let partitions = rtds::connectors::kafka::ensure_topic(&kafka, "users_created", 8).await?;
/// assert!(partitions >= 1);
/// # Ok(()) }
/// ```
pub async fn ensure_topic(kafka: &KafkaConfig, topic: &str, partitions: i32) -> Result<usize, ServiceError> {
    ensure_topic_with(kafka, topic, partitions, &[]).await
}

/// [`ensure_topic`] with topic settings for a new topic (such as `cleanup.policy=compact`).
pub async fn ensure_topic_with(kafka: &KafkaConfig, topic: &str, partitions: i32, settings: &[(&str, &str)]) -> Result<usize, ServiceError> {
    let timeout = Duration::from_secs(10);
    if let Some(existing) = partition_count_off_thread(kafka, topic, timeout).await? {
        if existing != partitions as usize {
            tracing::warn!(topic, existing, asked = partitions, "topic exists with another partition count; keeping it");
        }
        return Ok(existing);
    }
    let admin: AdminClient<DefaultClientContext> = kafka.client_config().create().map_err(ServiceError::kafka)?;
    // -1: the broker's default.replication.factor (KIP-464).
    let mut new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(-1));
    for (name, value) in settings {
        new_topic = new_topic.set(name, value);
    }
    let results = admin
        .create_topics([&new_topic], &AdminOptions::new().operation_timeout(Some(timeout)))
        .await
        .map_err(|e| unreachable(&kafka.brokers, e))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => return Err(ServiceError::kafka(format!("cannot create topic {name}: {code}"))),
        }
    }
    // Metadata can lag creation for a moment.
    for _ in 0..50 {
        if let Some(count) = partition_count_off_thread(kafka, topic, timeout).await? {
            return Ok(count);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(ServiceError::kafka(format!("topic {topic} was created but does not show in metadata")))
}

/// [`partition_count`] on tokio's blocking pool: a metadata request blocks its thread, which
/// must not be one that runs async tasks.
async fn partition_count_off_thread(kafka: &KafkaConfig, topic: &str, timeout: Duration) -> Result<Option<usize>, ServiceError> {
    let (kafka, topic) = (kafka.clone(), topic.to_string());
    tokio::task::spawn_blocking(move || partition_count(&kafka, &topic, timeout)).await.expect("a metadata request does not panic")
}

fn unreachable(brokers: &str, error: impl std::fmt::Display) -> ServiceError {
    ServiceError::Unreachable { service: "Kafka", address: brokers.to_string(), env: "RTDS_KAFKA", reason: error.to_string() }
}

mod config;
mod context;
mod dlq;
mod producer;
mod source;
mod transactions;

pub use config::{KafkaConfig, REBOOTSTRAP_AFTER_MS, SECRET_KEYS};
pub use context::LastError;
pub use dlq::{DeadLetterSink, KafkaDeadLetters};
pub use source::{Epochs, IdleVote, Incoming, KafkaSourceOptions, LostRecords, OpenReader, PartitionReader, ReadError, kafka_source, owned_partitions, rdkafka_reader};
pub use producer::{REASON_HEADER, RowProducer, SCHEMA_HEADER, SOURCE_HEADER, dlq_topic};
pub use transactions::{ChangeProducer, LSN_HEADER, Outgoing, ResumePoint, TRANSACTION_TIMEOUT, max_transaction_timeout, offsets_topic, read_resume_point};
