//! The idempotent producer of formatted rows, with dead letters on the side.

use std::time::Duration;

use futures::future::try_join_all;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

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
#[derive(Clone)]
pub struct RowProducer {
    producer: FutureProducer,
    topic: String,
    dlq: String,
}

impl RowProducer {
    /// A producer for `topic` (and `topic.dlq`) on `brokers`.
    pub fn new(brokers: &str, topic: &str) -> Result<RowProducer, ServiceError> {
        let producer = super::client_config(brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("batch.size", "1000000")
            .set("compression.type", "lz4")
            .set("message.timeout.ms", "30000")
            .create()
            .map_err(ServiceError::kafka)?;
        Ok(RowProducer { producer, topic: topic.to_string(), dlq: dlq_topic(topic) })
    }

    /// Sends every row and dead letter of a batch and waits until all are acknowledged.
    /// Returns the number of rows and dead letters delivered.
    pub async fn send(&self, users: &[(User, String)], rejected: &[Rejected], source: &str) -> Result<(u64, u64), ServiceError> {
        let rows = users.iter().map(|(user, _)| async move {
            let key = user.id.to_string();
            let value = serde_json::to_vec(user).expect("rows serialize");
            let headers = OwnedHeaders::new().insert(Header { key: SCHEMA_HEADER.0, value: Some(SCHEMA_HEADER.1) });
            let record = FutureRecord::to(&self.topic).key(&key).payload(&value).headers(headers);
            self.producer.send(record, Duration::from_secs(30)).await.map_err(|(e, _)| delivery_error(&self.topic, e))
        });
        let dead = rejected.iter().map(|r| async move {
            let headers = OwnedHeaders::new()
                .insert(Header { key: REASON_HEADER, value: Some(r.reason.as_str()) })
                .insert(Header { key: SOURCE_HEADER, value: Some(source) });
            let record: FutureRecord<'_, (), _> = FutureRecord::to(&self.dlq).payload(r.raw.as_bytes()).headers(headers);
            self.producer.send(record, Duration::from_secs(30)).await.map_err(|(e, _)| delivery_error(&self.dlq, e))
        });
        let (rows, dead) = futures::try_join!(try_join_all(rows), try_join_all(dead))?;
        Ok((rows.len() as u64, dead.len() as u64))
    }
}

fn delivery_error(topic: &str, error: rdkafka::error::KafkaError) -> ServiceError {
    ServiceError::kafka(format!("delivery to {topic} failed: {error}"))
}
