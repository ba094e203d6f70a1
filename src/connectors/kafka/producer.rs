//! The idempotent producer of formatted rows, with dead letters on the side.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders, ToBytes};
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::connectors::ServiceError;
use crate::model::{Rejected, User};

/// The header naming the row's schema, and its value.
pub const SCHEMA_HEADER: (&str, &str) = ("rtds-schema", "user/1");
/// The dead-letter header holding the reason.
pub const REASON_HEADER: &str = "rtds-reason";
/// The dead-letter header naming where the record came from.
pub const SOURCE_HEADER: &str = "rtds-source";

/// The dead-letter topic of `topic`.
pub fn dlq_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

/// Sends rows keyed by id to a topic and rejected records to its `.dlq` twin, with
/// `enable.idempotence` and `acks=all`: a send counts only once the broker has it.
///
/// Messages are handed to librdkafka one by one without a future each; a batch waits on one
/// counter of the acknowledgements still due, which librdkafka's delivery reports count down.
#[derive(Clone)]
pub struct RowProducer {
    producer: Arc<ThreadedProducer<AckContext>>,
    topic: String,
    dlq: String,
}

impl RowProducer {
    /// A producer for `topic` (and `topic.dlq`).
    pub fn new(kafka: &super::KafkaConfig, topic: &str) -> Result<RowProducer, ServiceError> {
        let producer = kafka.client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("batch.size", "1000000")
            .set("compression.type", "lz4")
            .set("message.timeout.ms", "30000")
            .create_with_context(AckContext)
            .map_err(ServiceError::kafka)?;
        Ok(RowProducer { producer: Arc::new(producer), topic: topic.to_string(), dlq: dlq_topic(topic) })
    }

    /// Sends every row and dead letter of a batch and waits until all are acknowledged.
    /// Returns the number of rows and dead letters delivered.
    pub async fn send(&self, users: &[(User, String)], rejected: &[Rejected], source: &str) -> Result<(u64, u64), ServiceError> {
        let acks = Arc::new(Acks { due: AtomicUsize::new(users.len() + rejected.len()), ..Acks::default() });
        let schema = OwnedHeaders::new().insert(Header { key: SCHEMA_HEADER.0, value: Some(SCHEMA_HEADER.1) });
        let mut value = Vec::with_capacity(1024);
        let mut key = Uuid::encode_buffer();
        for (user, _) in users {
            value.clear();
            user.write_json(&mut value);
            let key = user.id.hyphenated().encode_lower(&mut key);
            let record =
                BaseRecord::with_opaque_to(&self.topic, acks.clone()).key(&*key).payload(&value).headers(schema.clone());
            self.enqueue(record, &acks).await?;
        }
        for r in rejected {
            let headers = OwnedHeaders::new()
                .insert(Header { key: REASON_HEADER, value: Some(r.reason.as_str()) })
                .insert(Header { key: SOURCE_HEADER, value: Some(source) });
            let record: BaseRecord<'_, (), _, _> =
                BaseRecord::with_opaque_to(&self.dlq, acks.clone()).payload(r.raw.as_bytes()).headers(headers);
            self.enqueue(record, &acks).await?;
        }
        while acks.due.load(Ordering::Acquire) > 0 {
            acks.done.notified().await;
        }
        match acks.failure.lock().expect("acks lock").take() {
            Some(failure) => Err(ServiceError::kafka(failure)),
            None => Ok((users.len() as u64, rejected.len() as u64)),
        }
    }

    /// Hands one message to librdkafka, waiting while its queue is full (up to 30 s, like a
    /// delivery). A message that cannot be queued is not waited for.
    async fn enqueue<K: ToBytes + ?Sized, P: ToBytes + ?Sized>(
        &self,
        mut record: BaseRecord<'_, K, P, Arc<Acks>>,
        acks: &Acks,
    ) -> Result<(), ServiceError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                    if tokio::time::Instant::now() < deadline =>
                {
                    record = back;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err((e, back)) => {
                    acks.due.fetch_sub(1, Ordering::AcqRel);
                    return Err(delivery_error(back.topic, e));
                }
            }
        }
    }
}

/// The acknowledgements a batch still waits for, and the first failure among them.
#[derive(Default)]
struct Acks {
    due: AtomicUsize,
    failure: Mutex<Option<String>>,
    done: Notify,
}

/// Counts librdkafka's delivery reports down on the batch's [`Acks`].
struct AckContext;

impl ClientContext for AckContext {}

impl ProducerContext for AckContext {
    type DeliveryOpaque = Arc<Acks>;

    fn delivery(&self, result: &DeliveryResult<'_>, acks: Arc<Acks>) {
        if let Err((error, message)) = result {
            let mut failure = acks.failure.lock().expect("acks lock");
            failure.get_or_insert_with(|| delivery_error(message.topic(), error.clone()).to_string());
        }
        if acks.due.fetch_sub(1, Ordering::AcqRel) == 1 {
            acks.done.notify_one();
        }
    }
}

fn delivery_error(topic: &str, error: rdkafka::error::KafkaError) -> ServiceError {
    ServiceError::kafka(format!("delivery to {topic} failed: {error}"))
}
