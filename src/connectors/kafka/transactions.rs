//! Exactly once into Kafka: a transactional producer of changes, and the resume point kept in
//! the same transactions.
//!
//! Every transaction holds whole PostgreSQL transactions, in commit order, and one record in
//! the offsets topic (`TOPIC.cdc-offsets`, one compacted partition) saying up to which LSN the
//! changes are in Kafka. Both become visible to `read_committed` consumers together or not at
//! all, so after a crash the last committed offsets record is exactly where to resume (Kafka
//! Connect's exactly-once sources, KIP-618, keep their offsets the same way). The stable
//! `transactional.id` fences a second copy of the stage: its `init_transactions` aborts the
//! transaction its predecessor left open, and the predecessor can commit nothing more.

use std::borrow::Borrow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{REASON_HEADER, SCHEMA_HEADER, SOURCE_HEADER};
use super::KafkaConfig;
use crate::connectors::ServiceError;
use crate::model::Change;

/// The header holding the end LSN of the PostgreSQL commit a change belongs to.
pub const LSN_HEADER: &str = "rtds-lsn";

/// The offsets topic of `topic`.
pub fn offsets_topic(topic: &str) -> String {
    format!("{topic}.cdc-offsets")
}

/// How long a streaming transaction may stay open before the broker aborts it. A stage that
/// dies with one open holds `read_committed` consumers back at most this long (a new copy
/// aborts it at once).
pub const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

/// Kafka's default `transaction.max.timeout.ms`, taken when the brokers do not say theirs.
const DEFAULT_MAX_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// One record of a transaction.
// Nearly every record is a change: not boxed, see `Change`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// A change of a row, with the end LSN of its commit and the commit's time (Unix
    /// milliseconds), which becomes the Kafka record's timestamp: downstream, the end-to-end
    /// latency then runs from the PostgreSQL commit. None for a snapshot's rows. `encoded`:
    /// an upsert's value already encoded (Avro in the Confluent wire format); else the row's
    /// JSON is written.
    Change { change: Change, lsn: u64, committed_ms: Option<i64>, encoded: Option<Vec<u8>> },
    /// A change that cannot be encoded: to the dead-letter topic with the reason.
    Dead { id: Option<Uuid>, raw: String, reason: String, lsn: u64 },
}

/// Where the stream stands: the record of the offsets topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumePoint {
    /// Every commit ending at or before this LSN is in Kafka.
    pub lsn: u64,
}

/// A transactional producer of changes.
pub struct ChangeProducer {
    producer: Arc<ThreadedProducer<DefaultProducerContext>>,
    kafka: KafkaConfig,
    transactional_id: String,
    topic: String,
    dlq: String,
    offsets: String,
    /// The offsets record's key: the replication slot.
    key: String,
    /// How long a transaction may stay open (`transaction.timeout.ms`).
    timeout: Duration,
}

impl ChangeProducer {
    /// A producer with `transactional_id`, ready for transactions: any transaction an earlier
    /// producer with that id left open is aborted (and that producer fenced).
    pub async fn new(kafka: &KafkaConfig, topic: &str, transactional_id: &str, key: &str) -> Result<ChangeProducer, ServiceError> {
        let producer = Self::create(kafka, transactional_id, TRANSACTION_TIMEOUT).await?;
        Ok(ChangeProducer {
            producer,
            kafka: kafka.clone(),
            transactional_id: transactional_id.to_string(),
            topic: topic.to_string(),
            dlq: super::dlq_topic(topic),
            offsets: offsets_topic(topic),
            key: key.to_string(),
            timeout: TRANSACTION_TIMEOUT,
        })
    }

    /// How long a transaction may stay open now.
    pub fn transaction_timeout(&self) -> Duration {
        self.timeout
    }

    /// Lets the next transactions stay open up to `timeout` (a snapshot's one transaction
    /// needs as long as the table takes to read). `transaction.timeout.ms` is fixed for a
    /// producer's life, so this replaces the producer (with the same transactional id, which
    /// fences the old one: call it between transactions).
    pub async fn set_transaction_timeout(&mut self, timeout: Duration) -> Result<(), ServiceError> {
        if timeout != self.timeout {
            self.producer = Self::create(&self.kafka, &self.transactional_id, timeout).await?;
            self.timeout = timeout;
        }
        Ok(())
    }

    async fn create(
        kafka: &KafkaConfig,
        transactional_id: &str,
        timeout: Duration,
    ) -> Result<Arc<ThreadedProducer<DefaultProducerContext>>, ServiceError> {
        let producer: ThreadedProducer<DefaultProducerContext> = kafka.client_config()
            .set("transactional.id", transactional_id)
            .set("transaction.timeout.ms", timeout.as_millis().to_string())
            // The stage gathers whole transactions itself (--linger) and commits them at once:
            // a producer linger on top would only delay every commit.
            .set("linger.ms", "0")
            .set("batch.size", "1000000")
            .set("compression.type", "lz4")
            .set("message.timeout.ms", "30000")
            .create()
            .map_err(ServiceError::kafka)?;
        let producer = Arc::new(producer);
        let init = producer.clone();
        tokio::task::spawn_blocking(move || init.init_transactions(Duration::from_secs(30)))
            .await
            .expect("init_transactions does not panic")
            .map_err(|e| transaction_error("cannot start transactions", e))?;
        Ok(producer)
    }

    /// Sends `records` and the resume point `lsn` in one transaction, and commits it. On a
    /// failure the transaction is aborted (nothing of it is visible), a producer in a fatal
    /// state is replaced, and the error returned: the caller sends the same records again.
    pub async fn commit(&mut self, records: &[Outgoing], lsn: u64) -> Result<(), ServiceError> {
        self.commit_stream(futures::stream::iter(records.iter().map(Ok)), lsn).await
    }

    /// [`ChangeProducer::commit`] of records as they come (the snapshot reads them from
    /// PostgreSQL while they are sent); an error of the stream aborts the transaction.
    pub async fn commit_stream<R: Borrow<Outgoing>>(
        &mut self,
        records: impl Stream<Item = Result<R, ServiceError>>,
        lsn: u64,
    ) -> Result<(), ServiceError> {
        let producer = self.producer.clone();
        let outcome = self.try_commit(records, lsn).await;
        if let Err(e) = &outcome {
            let fatal = matches!(e, Failure::Fatal(_));
            let aborted = !fatal
                && tokio::task::spawn_blocking(move || producer.abort_transaction(Duration::from_secs(30)))
                    .await
                    .expect("abort_transaction does not panic")
                    .is_ok();
            // A fenced producer stays as it is: a new one would fence the copy that took over.
            if !aborted && !e.fenced() {
                tracing::warn!(error = %e, "replacing the transactional producer");
                self.producer = Self::create(&self.kafka, &self.transactional_id, self.timeout).await?;
            }
        }
        outcome.map_err(Failure::into_error)
    }

    async fn try_commit<R: Borrow<Outgoing>>(&self, records: impl Stream<Item = Result<R, ServiceError>>, lsn: u64) -> Result<(), Failure> {
        self.producer.begin_transaction().map_err(Failure::classify)?;
        let schema = OwnedHeaders::new().insert(Header { key: SCHEMA_HEADER.0, value: Some(SCHEMA_HEADER.1) });
        let mut value = Vec::with_capacity(1024);
        let mut key = Uuid::encode_buffer();
        let mut lsn_text = String::new();
        let mut records = std::pin::pin!(records);
        while let Some(record) = records.next().await {
            let record = record.map_err(Failure::Source)?;
            match record.borrow() {
                Outgoing::Change { change, lsn, committed_ms, encoded } => {
                    lsn_text.clear();
                    lsn_text.push_str(&lsn.to_string());
                    // JSON rows name their form in a header; Avro ones carry their schema id.
                    let headers = match encoded {
                        None => schema.clone(),
                        Some(_) => OwnedHeaders::new(),
                    };
                    let headers = headers.insert(Header { key: LSN_HEADER, value: Some(lsn_text.as_str()) });
                    let id = change.id().hyphenated().encode_lower(&mut key).to_string();
                    let mut message = BaseRecord::<str, [u8]>::to(&self.topic).key(id.as_str()).headers(headers);
                    if let Some(ms) = committed_ms {
                        message = message.timestamp(*ms);
                    }
                    match (change, encoded) {
                        (Change::Upsert(_), Some(encoded)) => message = message.payload(encoded.as_slice()),
                        (Change::Upsert(user), None) => {
                            value.clear();
                            user.write_json(&mut value);
                            message = message.payload(&value);
                        }
                        (Change::Delete(_), _) => {}
                    }
                    self.enqueue(message).await?;
                }
                Outgoing::Dead { id, raw, reason, lsn } => {
                    let lsn = lsn.to_string();
                    let headers = OwnedHeaders::new()
                        .insert(Header { key: REASON_HEADER, value: Some(reason.as_str()) })
                        .insert(Header { key: SOURCE_HEADER, value: Some("postgres/created_users") })
                        .insert(Header { key: LSN_HEADER, value: Some(lsn.as_str()) });
                    let id = id.map(|id| id.to_string()).unwrap_or_default();
                    let message = BaseRecord::<str, [u8]>::to(&self.dlq).key(id.as_str()).payload(raw.as_bytes()).headers(headers);
                    self.enqueue(message).await?;
                }
            }
        }
        let point = serde_json::to_vec(&ResumePoint { lsn }).expect("a resume point serializes");
        self.enqueue(BaseRecord::<str, [u8]>::to(&self.offsets).key(self.key.as_str()).payload(&point)).await?;
        let (producer, timeout) = (self.producer.clone(), self.timeout);
        tokio::task::spawn_blocking(move || {
            // rdkafka's commit_transaction flushes first, and while messages are in flight it
            // polls for delivery events up to 100 ms at a time; but this producer's own thread
            // serves those events, so the flush's poll sat out its 100 ms nearly every time (a
            // Kafka transaction took ~125 ms, and changes queued behind it). Wait for the queue
            // to drain here instead, then the commit's flush finds nothing to wait for.
            let deadline = std::time::Instant::now() + timeout;
            while producer.in_flight_count() > 0 && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            producer.commit_transaction(Duration::from_secs(30))
        })
        .await
        .expect("commit_transaction does not panic")
        .map_err(Failure::classify)
    }

    /// Hands one message to librdkafka, waiting while its queue is full.
    async fn enqueue(&self, mut record: BaseRecord<'_, str, [u8]>) -> Result<(), Failure> {
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err((e, _)) => return Err(Failure::classify(e)),
            }
        }
    }
}

/// A failed transaction: one the producer can abort, or a producer that must be replaced.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    Source(ServiceError),
    #[error("{0}")]
    Abortable(KafkaError),
    #[error("{0}")]
    Fatal(KafkaError),
}

impl Failure {
    /// Whether another producer with the same transactional id took over.
    fn fenced(&self) -> bool {
        match self {
            Failure::Source(_) => false,
            Failure::Abortable(e) | Failure::Fatal(e) => is_fenced(e),
        }
    }

    fn classify(error: KafkaError) -> Failure {
        match &error {
            KafkaError::Transaction(e) if e.is_fatal() => Failure::Fatal(error),
            _ => Failure::Abortable(error),
        }
    }

    fn into_error(self) -> ServiceError {
        match self {
            Failure::Source(e) => e,
            Failure::Abortable(e) | Failure::Fatal(e) => transaction_error("a transaction failed", e),
        }
    }
}

fn is_fenced(error: &KafkaError) -> bool {
    let code = match error {
        KafkaError::Transaction(e) => e.code(),
        other => other.rdkafka_error_code().unwrap_or(RDKafkaErrorCode::NoError),
    };
    matches!(code, RDKafkaErrorCode::Fenced | RDKafkaErrorCode::ProducerFenced | RDKafkaErrorCode::InvalidProducerEpoch)
}

fn transaction_error(what: &str, error: KafkaError) -> ServiceError {
    if is_fenced(&error) {
        ServiceError::Refused { service: "Kafka", message: format!("{what}: another `rtds cdc` took over this slot's transactional id ({error})") }
    } else {
        ServiceError::kafka(format!("{what}: {error}"))
    }
}

/// The longest a transaction may stay open on these brokers (`transaction.max.timeout.ms`, read
/// from the first broker's configuration), or Kafka's default of 15 minutes when they do not
/// say (a principal without DescribeConfigs on the cluster).
pub async fn max_transaction_timeout(kafka: &KafkaConfig) -> Duration {
    match broker_setting(kafka, "transaction.max.timeout.ms").await {
        Ok(Some(ms)) => ms.parse().map(Duration::from_millis).unwrap_or(DEFAULT_MAX_TRANSACTION_TIMEOUT),
        Ok(None) => DEFAULT_MAX_TRANSACTION_TIMEOUT,
        Err(e) => {
            tracing::debug!(error = %e, "cannot read the brokers' transaction.max.timeout.ms; taking Kafka's default");
            DEFAULT_MAX_TRANSACTION_TIMEOUT
        }
    }
}

/// A setting of the first broker of the cluster's metadata.
async fn broker_setting(kafka: &KafkaConfig, name: &str) -> Result<Option<String>, ServiceError> {
    use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = kafka.client_config().create().map_err(ServiceError::kafka)?;
    let timeout = Duration::from_secs(10);
    // A metadata request blocks its thread: off the async workers.
    let (admin, broker) = tokio::task::spawn_blocking(move || {
        let broker = admin.inner().fetch_metadata(None, timeout).map(|m| m.brokers().first().map(|b| b.id()));
        (admin, broker)
    })
    .await
    .expect("a metadata request does not panic");
    let Some(broker) = broker.map_err(ServiceError::kafka)? else { return Ok(None) };
    let results = admin
        .describe_configs([&ResourceSpecifier::Broker(broker)], &AdminOptions::new().request_timeout(Some(timeout)))
        .await
        .map_err(ServiceError::kafka)?;
    Ok(results.into_iter().next().and_then(|r| r.ok()).and_then(|config| config.get(name).and_then(|e| e.value.clone())))
}

/// The last resume point committed to the offsets topic under `key`, read `read_committed`;
/// `None` when there is none. Run it after [`ChangeProducer::new`], which aborts what a
/// predecessor left open, so that nothing pending hides the end of the topic.
pub fn read_resume_point(kafka: &KafkaConfig, topic: &str, key: &str) -> Result<Option<ResumePoint>, ServiceError> {
    let consumer: BaseConsumer = kafka.client_config()
        .set("group.id", "rtds-cdc-resume")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .map_err(ServiceError::kafka)?;
    let timeout = Duration::from_secs(10);
    let (low, high) = consumer.fetch_watermarks(topic, 0, timeout).map_err(ServiceError::kafka)?;
    if high <= low {
        return Ok(None);
    }
    // Each transaction writes one record here and a marker after it; read back from the end,
    // further each time nothing under `key` is found.
    let mut span = 64;
    loop {
        let start = (high - span).max(low);
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(topic, 0, Offset::Offset(start)).map_err(ServiceError::kafka)?;
        consumer.assign(&assignment).map_err(ServiceError::kafka)?;
        let mut found = None;
        let deadline = Instant::now() + timeout;
        loop {
            let position = consumer
                .position()
                .ok()
                .and_then(|p| p.find_partition(topic, 0).and_then(|e| e.offset().to_raw()))
                .filter(|offset| *offset >= 0)
                .unwrap_or(start);
            if position >= high {
                break;
            }
            if Instant::now() > deadline {
                return Err(ServiceError::kafka(format!("reading the resume point from {topic} timed out at offset {position} of {high}")));
            }
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(message)) => {
                    if message.key() == Some(key.as_bytes()) {
                        if let Some(point) = message.payload().and_then(|p| serde_json::from_slice(p).ok()) {
                            found = Some(point);
                        }
                    }
                    if message.offset() + 2 >= high && found.is_some() {
                        // The last record before the final marker: nothing later is committed.
                        break;
                    }
                }
                Some(Err(e)) => return Err(ServiceError::kafka(e)),
                None => {}
            }
        }
        if found.is_some() || start == low {
            return Ok(found);
        }
        span *= 8;
    }
}
