//! What librdkafka reports about a client as a whole (a login refused, a certificate that
//! does not verify, every broker down) comes through a callback, not with the request that
//! then fails as a bare "broker transport failure". This context keeps the last such report,
//! so a failed request can say why, and whether retrying can help.

use std::sync::Mutex;
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;

use crate::connectors::ServiceError;

/// Most reports kept: the first ones say why, later ones repeat it or say "all brokers down".
const KEPT: usize = 16;

/// A client context that remembers the client-wide errors it was told of.
#[derive(Default)]
pub struct LastError(Mutex<Vec<String>>);

impl LastError {
    fn keep(&self, report: String) {
        let mut reports = self.0.lock().expect("error reports");
        if reports.len() < KEPT {
            reports.push(report);
        }
    }
}

impl ClientContext for LastError {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(%error, reason, "Kafka client error");
        self.keep(format!("{error}: {reason}"));
    }

    // Error events wait for a poll, which a metadata request does not make; librdkafka's own
    // log lines of the same failures come at once, from its threads.
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        tracing::debug!(?level, facility, message, "librdkafka");
        if (level as i32) <= (RDKafkaLogLevel::Error as i32) {
            self.keep(message.to_string());
        }
    }
}

impl ConsumerContext for LastError {}

impl LastError {
    /// A consumer that keeps its last error (for metadata requests); librdkafka hands it the
    /// log lines of errors, which rdkafka would otherwise filter by the `log` crate's level.
    pub fn client(kafka: &super::KafkaConfig) -> Result<BaseConsumer<LastError>, ServiceError> {
        kafka.client_config().set_log_level(RDKafkaLogLevel::Error).create_with_context(LastError::default()).map_err(ServiceError::kafka)
    }

    /// [`LastError::explain`] for a request `consumer` made: rdkafka queues the client's error
    /// events and log lines until a poll serves them, so this polls first.
    pub fn explain_failure(consumer: &BaseConsumer<LastError>, brokers: &str, error: impl std::fmt::Display) -> ServiceError {
        for _ in 0..10 {
            if consumer.poll(Duration::from_millis(20)).is_none() && !consumer.context().0.lock().expect("error reports").is_empty() {
                break;
            }
        }
        consumer.context().explain(brokers, error)
    }

    /// `error` of a request to `brokers`, explained by the last client-wide error: a refused
    /// login or certificate is permanent and names the settings to check; anything else is
    /// Kafka not being reachable.
    pub fn explain(&self, brokers: &str, error: impl std::fmt::Display) -> ServiceError {
        let reports = self.0.lock().expect("error reports").clone();
        let find = |words: &[&str]| reports.iter().find(|r| words.iter().any(|w| r.contains(w))).cloned();
        if let Some(reason) = find(&["SASL authentication", "Authentication failed", "SASL_AUTHENTICATION"]) {
            return ServiceError::Refused {
                service: "Kafka",
                message: format!("authentication failed at {brokers}: {reason} (check sasl.mechanism, sasl.username and RTDS_KAFKA_SASL_PASSWORD)"),
            };
        }
        if let Some(reason) = find(&["SSL handshake failed", "certificate verify failed"]) {
            return ServiceError::Refused {
                service: "Kafka",
                message: format!("TLS with {brokers} failed: {reason} (check security.protocol and ssl.ca.location)"),
            };
        }
        match reports.first() {
            Some(reason) => super::unreachable(brokers, format!("{error}; {reason}")),
            None => super::unreachable(brokers, error),
        }
    }
}
