//! Kafka through rdkafka (librdkafka built from the crate's bundled sources): the cluster's
//! source (`source/`), the dead-letter sink (`dlq.rs`), the producer of rows and dead letters
//! (`producer.rs`) and the CDC stage's transactional producer with its resume point
//! (`transactions.rs`); the client settings every one of them shares are here.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use super::ServiceError;

/// How long a client may go without metadata before it starts again from
/// `bootstrap.servers`.
///
/// Why it matters: a KRaft broker that is starting up answers metadata requests with its
/// topics but no brokers (it lists only unfenced ones). librdkafka (2.10 and later) then
/// decommissions every broker it knew, the bootstrap ones included, and is left with nothing
/// to ask for metadata; partitions keep no leader and a consumer reads nothing, without an
/// error, until the client re-bootstraps. librdkafka waits 5 minutes for that by default,
/// which is how a one-broker restart used to stall the cluster for minutes.
pub const REBOOTSTRAP_AFTER_MS: &str = "5000";

/// A client configuration for `brokers` with rtds's common settings.
pub fn client_config(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("client.id", "rtds")
        .set("socket.timeout.ms", "10000")
        .set("metadata.recovery.strategy", "rebootstrap")
        .set("metadata.recovery.rebootstrap.trigger.ms", REBOOTSTRAP_AFTER_MS);
    config
}

/// Checks that a broker answers a metadata request; returns the number of brokers.
pub fn ping(brokers: &str, timeout: Duration) -> Result<usize, ServiceError> {
    let consumer: BaseConsumer = client_config(brokers).create().map_err(ServiceError::kafka)?;
    let metadata = consumer.fetch_metadata(None, timeout).map_err(|e| unreachable(brokers, e))?;
    Ok(metadata.brokers().len())
}

/// Partitions of `topic`, or `None` when it does not exist.
pub fn partition_count(brokers: &str, topic: &str, timeout: Duration) -> Result<Option<usize>, ServiceError> {
    let consumer: BaseConsumer = client_config(brokers).create().map_err(ServiceError::kafka)?;
    partitions_of(&consumer, brokers, topic, timeout)
}

/// [`partition_count`] through a client that is already connected (for repeated polls).
pub fn partitions_of(consumer: &BaseConsumer, brokers: &str, topic: &str, timeout: Duration) -> Result<Option<usize>, ServiceError> {
    let metadata = consumer.fetch_metadata(Some(topic), timeout).map_err(|e| unreachable(brokers, e))?;
    Ok(metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().len())
        .filter(|n| *n > 0))
}

/// Creates `topic` with `partitions` partitions unless it exists; returns its partition count.
/// An existing topic keeps its partitions (a warning says so when they differ).
///
/// ```no_run
/// # async fn demo() -> Result<(), rtds::connectors::ServiceError> {
/// let partitions = rtds::connectors::kafka::ensure_topic("127.0.0.1:9092", "users_created", 8).await?;
/// assert!(partitions >= 1);
/// # Ok(()) }
/// ```
pub async fn ensure_topic(brokers: &str, topic: &str, partitions: i32) -> Result<usize, ServiceError> {
    ensure_topic_with(brokers, topic, partitions, &[]).await
}

/// [`ensure_topic`] with topic settings for a new topic (such as `cleanup.policy=compact`).
pub async fn ensure_topic_with(brokers: &str, topic: &str, partitions: i32, settings: &[(&str, &str)]) -> Result<usize, ServiceError> {
    let timeout = Duration::from_secs(10);
    if let Some(existing) = partition_count_off_thread(brokers, topic, timeout).await? {
        if existing != partitions as usize {
            tracing::warn!(topic, existing, asked = partitions, "topic exists with another partition count; keeping it");
        }
        return Ok(existing);
    }
    let admin: AdminClient<DefaultClientContext> = client_config(brokers).create().map_err(ServiceError::kafka)?;
    let mut new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    for (name, value) in settings {
        new_topic = new_topic.set(name, value);
    }
    let results = admin
        .create_topics([&new_topic], &AdminOptions::new().operation_timeout(Some(timeout)))
        .await
        .map_err(|e| unreachable(brokers, e))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => return Err(ServiceError::kafka(format!("cannot create topic {name}: {code}"))),
        }
    }
    // Metadata can lag creation for a moment.
    for _ in 0..50 {
        if let Some(count) = partition_count_off_thread(brokers, topic, timeout).await? {
            return Ok(count);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(ServiceError::kafka(format!("topic {topic} was created but does not show in metadata")))
}

/// [`partition_count`] on tokio's blocking pool: a metadata request blocks its thread, which
/// must not be one that runs async tasks.
async fn partition_count_off_thread(brokers: &str, topic: &str, timeout: Duration) -> Result<Option<usize>, ServiceError> {
    let (brokers, topic) = (brokers.to_string(), topic.to_string());
    tokio::task::spawn_blocking(move || partition_count(&brokers, &topic, timeout)).await.expect("a metadata request does not panic")
}

fn unreachable(brokers: &str, error: impl std::fmt::Display) -> ServiceError {
    ServiceError::Unreachable { service: "Kafka", address: brokers.to_string(), env: "RTDS_KAFKA", reason: error.to_string() }
}

mod dlq;
mod producer;
mod source;
mod transactions;

pub use dlq::{DeadLetterSink, KafkaDeadLetters};
pub use source::{Incoming, KafkaSourceOptions, OpenReader, PartitionReader, kafka_source, owned_partitions, rdkafka_reader};
pub use producer::{REASON_HEADER, RowProducer, SCHEMA_HEADER, SOURCE_HEADER, dlq_topic};
pub use transactions::{ChangeProducer, LSN_HEADER, Outgoing, ResumePoint, offsets_topic, read_resume_point};
