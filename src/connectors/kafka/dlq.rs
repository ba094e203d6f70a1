//! The dead-letter sink: records that cannot become rows go to `TOPIC.dlq`, each with the
//! reason (`rtds-reason`) and where it came from (`rtds-source`), and are acknowledged by
//! Kafka before their epoch may close.
//!
//! Delivery is at least once: a worker killed after delivering its dead letters but before
//! its offsets were recorded delivers them again; a consumer can drop repeats by
//! `rtds-source`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use backon::Retryable;
use futures::FutureExt;
use futures::future::BoxFuture;
use timely::dataflow::Stream;

use super::RowProducer;
use crate::connectors::{DeadLetters, ServiceError, retry};
use crate::metrics::ProcessCounters;
use crate::model::Rejected;
use crate::operators::{AsyncSink, AsyncSinkOptions};

/// The dead-letter topic of a pipeline's topic, through an idempotent producer.
pub struct KafkaDeadLetters {
    producer: RowProducer,
}

impl KafkaDeadLetters {
    /// Dead letters of `topic`, to `topic.dlq`.
    pub fn new(kafka: &super::KafkaConfig, topic: &str) -> Result<KafkaDeadLetters, ServiceError> {
        Ok(KafkaDeadLetters { producer: RowProducer::new(kafka, topic)? })
    }
}

impl DeadLetters for KafkaDeadLetters {
    /// Sends until Kafka acknowledged them all, with the shared backoff.
    fn deliver<'a>(&'a self, dead: &'a [Rejected], source: &'a str) -> BoxFuture<'a, ()> {
        async move {
            let delivered = (|| self.producer.send(&[], dead, source))
                .retry(retry::backoff())
                .notify(|e: &ServiceError, wait| tracing::warn!(error = %e, ?wait, "dead letters not delivered; retrying"))
                .await;
            delivered.map(|_| ()).unwrap_or_else(|_| unreachable!("the backoff has no limit"))
        }
        .boxed()
    }
}

/// Writes rejected records, each with its source, to the dead letters.
pub trait DeadLetterSink<'scope> {
    /// Delivers each `(rejected, source)` update and counts it as rejected; the returned
    /// stream's frontier passes an epoch once its dead letters are acknowledged.
    fn dead_letter_sink(self, options: AsyncSinkOptions, to: Arc<dyn DeadLetters>, counters: Arc<ProcessCounters>) -> Stream<'scope, u64, Vec<()>>;
}

impl<'scope> DeadLetterSink<'scope> for Stream<'scope, u64, Vec<((Rejected, String), u64, isize)>> {
    fn dead_letter_sink(self, options: AsyncSinkOptions, to: Arc<dyn DeadLetters>, counters: Arc<ProcessCounters>) -> Stream<'scope, u64, Vec<()>> {
        self.async_sink("DeadLetterSink", options, move |_epoch, updates: Vec<((Rejected, String), isize)>| {
            let (to, counters) = (to.clone(), counters.clone());
            async move {
                let count = updates.len() as u64;
                for ((rejected, source), _) in updates {
                    to.deliver(std::slice::from_ref(&rejected), &source).await;
                }
                counters.rejected.fetch_add(count, Ordering::Relaxed);
            }
        })
    }
}
