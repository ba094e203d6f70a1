//! `rtds cdc`: committed changes of PostgreSQL's `created_users` into Kafka, exactly once.
//!
//! The stage reads the table's changes from a logical replication slot (`pgoutput`, see
//! [`crate::connectors::postgres::replication`] for why the replication protocol) and
//! produces them to `TOPIC` keyed by id, in commit order, with the commit's end LSN in the
//! `rtds-lsn` header: an insert or update is the row's JSON, a delete a tombstone (the id as
//! key, no value). Changes that cannot be encoded go to `TOPIC.dlq` with the reason.
//!
//! Exactly once: a Kafka transaction carries whole PostgreSQL transactions and the resume
//! point (`TOPIC.cdc-offsets`); the slot is confirmed only after that transaction committed.
//! After a crash the stage resumes from the last committed resume point, so a change the
//! crash caught between Kafka's commit and the slot's confirmation is not sent twice, and one
//! not yet committed is sent again (its transaction was aborted). A new slot exports a
//! snapshot: the rows already in the table go first, in one transaction with the slot's
//! starting point, and the stream continues from exactly there.
//!
//! The value is the row's JSON by default (`--format json`, with the header
//! `rtds-schema: user/1`), or with `--format avro` Avro in the Confluent wire format under a
//! schema registered per version of the table ([`schema`]); keys are the id as text in both.
//!
//! Limits: TRUNCATE is not streamed (the publication leaves it out: delete rows instead);
//! the snapshot is one Kafka transaction, so it must be read and produced within the longest
//! time the brokers let a transaction stay open (`transaction.max.timeout.ms`, 15 min by
//! default: about 200 million rows at the 250,000 rows/s measured here). A snapshot that takes
//! longer ends the stage with an error naming that setting, rather than starting over forever.
//! Streaming transactions keep a 60 s timeout.

mod report;
mod schema;
mod snapshot;
mod stream;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::connectors::kafka::{
    ChangeProducer, KafkaConfig, TRANSACTION_TIMEOUT, dlq_topic, ensure_topic, ensure_topic_with, max_transaction_timeout, offsets_topic,
    read_resume_point,
};
use crate::connectors::postgres::{self, SCHEMA, pgoutput, replication};
use crate::connectors::{ServiceError, retry};
use crate::metrics::Progress;

pub use report::{CDC_REPORT_PREFIX, CdcReport};

/// What to stream, and where to.
#[derive(Debug, Clone)]
pub struct CdcOptions {
    pub postgres: String,
    pub kafka: KafkaConfig,
    pub topic: String,
    /// Partitions of the topic when it is created.
    pub partitions: i32,
    /// The replication slot (created when missing).
    pub slot: String,
    /// The publication of `created_users` (created when missing).
    pub publication: String,
    /// Most changes in one Kafka transaction (whole PostgreSQL transactions are never split).
    pub max_batch: usize,
    /// The longest a change waits for more before its Kafka transaction; once the stream has
    /// nothing more ready, changes go as soon as the last transaction is this old.
    pub linger: Duration,
    /// Finish once nothing changed for this long and everything committed is in Kafka.
    pub idle_exit: Option<Duration>,
    pub progress: bool,
    /// How values are written.
    pub format: Format,
}

/// How the stage writes a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// The formatted row's JSON (what ingest's direct mode writes too).
    Json,
    /// Avro in the Confluent wire format, its schema registered in the registry at this
    /// Confluent API base.
    Avro { registry: String },
}

/// What the stage has done so far, shared with its metrics endpoint.
#[derive(Debug, Default)]
pub struct Counters {
    /// Inserts and updates produced.
    pub upserts: AtomicU64,
    /// Deletes produced (tombstones).
    pub deletes: AtomicU64,
    /// Changes sent to the dead-letter topic.
    pub dead_letters: AtomicU64,
    /// Rows of the initial snapshot produced.
    pub snapshot_rows: AtomicU64,
    /// Kafka transactions committed.
    pub transactions: AtomicU64,
    /// Kafka transactions that failed and were sent again.
    pub retries: AtomicU64,
    /// The end LSN of the last commit in Kafka.
    pub committed_lsn: AtomicU64,
    /// WAL bytes the slot holds back (checked every few seconds); -1 before the first check.
    pub slot_lag_bytes: std::sync::atomic::AtomicI64,
    /// Changes received from the slot and not yet in a committed Kafka transaction.
    pub pending_changes: AtomicU64,
    /// PostgreSQL commit time (µs since 2000-01-01) of the oldest committed PostgreSQL
    /// transaction among them; 0 while none waits.
    pub oldest_pending_commit: std::sync::atomic::AtomicI64,
    /// PostgreSQL commit to Kafka commit, in milliseconds.
    pub latency: std::sync::Mutex<Option<hdrhistogram::Histogram<u64>>>,
    /// With `--format avro`: the subject, id and version of the value schema in use (0: none
    /// yet).
    pub schema_subject: std::sync::Mutex<String>,
    pub schema_id: AtomicU64,
    pub schema_version: AtomicU64,
}

impl Counters {
    /// How far Kafka is behind PostgreSQL: the time since the oldest change received and not
    /// yet in Kafka was committed in PostgreSQL, in milliseconds; 0 when none waits.
    ///
    /// With `pending_changes` this is the slot's lag in changes and time as the stage sees it.
    /// WAL the walsender has not yet decoded and sent is counted in bytes only
    /// (`slot_lag_bytes`): counting its changes would mean decoding it.
    ///
    /// ```
    /// use std::sync::atomic::Ordering;
    /// use rtds::connectors::postgres::pgoutput::POSTGRES_EPOCH_MICROS;
    /// let counters = rtds::cdc::Counters::default();
    /// assert_eq!(counters.lag_millis(), 0, "nothing waits");
    /// let two_seconds_ago = chrono::Utc::now().timestamp_micros() - POSTGRES_EPOCH_MICROS - 2_000_000;
    /// counters.oldest_pending_commit.store(two_seconds_ago, Ordering::Relaxed);
    /// assert!((2_000..3_000).contains(&counters.lag_millis()));
    /// ```
    pub fn lag_millis(&self) -> u64 {
        match self.oldest_pending_commit.load(Ordering::Relaxed) {
            0 => 0,
            oldest => {
                let now = crate::clock::now().timestamp_micros() - crate::connectors::postgres::pgoutput::POSTGRES_EPOCH_MICROS;
                ((now - oldest) / 1000).max(0) as u64
            }
        }
    }

    /// Records commit-to-Kafka latencies.
    fn record_latency(&self, millis: impl Iterator<Item = u64>) {
        let mut histogram = self.latency.lock().expect("latency histogram");
        let histogram = histogram.get_or_insert_with(|| hdrhistogram::Histogram::new_with_bounds(1, 3_600_000, 2).expect("bounds"));
        for m in millis {
            histogram.saturating_record(m.max(1));
        }
    }

    /// The counters in Prometheus text format (names in README.md).
    ///
    /// ```
    /// let counters = rtds::cdc::Counters::default();
    /// counters.deletes.fetch_add(2, std::sync::atomic::Ordering::Relaxed);
    /// assert!(counters.prometheus_text().contains("rtds_cdc_changes_total{op=\"delete\"} 2"));
    /// ```
    pub fn prometheus_text(&self) -> String {
        let (rss, cpu) = crate::metrics::process_usage();
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed) as f64;
        let mut text = crate::metrics::prometheus::PrometheusText::default();
        text.metric(
            "rtds_cdc_changes_total",
            "counter",
            "Changes of created_users produced to Kafka",
            vec![("op=\"upsert\"".to_string(), get(&self.upserts)), ("op=\"delete\"".to_string(), get(&self.deletes))],
        );
        let metrics = [
            ("rtds_cdc_dead_letters_total", "counter", "Changes that could not be encoded, sent to the dead-letter topic", get(&self.dead_letters)),
            ("rtds_cdc_snapshot_rows_total", "counter", "Rows of the initial snapshot produced", get(&self.snapshot_rows)),
            ("rtds_cdc_transactions_total", "counter", "Kafka transactions committed", get(&self.transactions)),
            ("rtds_cdc_transaction_retries_total", "counter", "Kafka transactions that failed and were sent again", get(&self.retries)),
            ("rtds_cdc_committed_lsn", "gauge", "End LSN of the last PostgreSQL commit in Kafka", get(&self.committed_lsn)),
            ("rtds_cdc_slot_lag_bytes", "gauge", "WAL the replication slot holds back", self.slot_lag_bytes.load(Ordering::Relaxed) as f64),
            ("rtds_cdc_pending_changes", "gauge", "Changes received from the slot, not yet in Kafka", get(&self.pending_changes)),
            ("rtds_cdc_schema_id", "gauge", "Registry id of the value schema in use (0: JSON, or none yet)", get(&self.schema_id)),
            ("rtds_cdc_schema_version", "gauge", "Version of the value schema in use under its subject", get(&self.schema_version)),
            ("rtds_cdc_lag_seconds", "gauge", "Since the oldest change not yet in Kafka was committed in PostgreSQL", self.lag_millis() as f64 / 1000.0),
            ("rtds_cdc_resident_memory_bytes", "gauge", "Resident memory of the CDC process", rss as f64),
            ("rtds_cdc_cpu_seconds_total", "counter", "CPU time of the CDC process, user + system", cpu),
        ];
        for (name, kind, help, value) in metrics {
            text.metric(name, kind, help, vec![(String::new(), value)]);
        }
        text.finish()
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CdcSummary {
    pub upserts: u64,
    pub deletes: u64,
    pub dead_letters: u64,
    pub snapshot_rows: u64,
    pub transactions: u64,
    pub retries: u64,
    /// The end LSN of the last commit in Kafka, as PostgreSQL writes it.
    pub committed_lsn: String,
    pub seconds: f64,
    pub changes_per_second: f64,
    /// PostgreSQL commit to Kafka commit, milliseconds.
    pub latency_p50_ms: u64,
    pub latency_p99_ms: u64,
}

/// Why the stage stopped.
#[derive(Debug, thiserror::Error)]
pub enum CdcError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Decode(#[from] pgoutput::DecodeError),
    #[error(
        "the snapshot of created_users did not fit in one Kafka transaction: it ran {ran:?}, and the brokers \
         abort a transaction after {longest:?} (their transaction.max.timeout.ms); raise that setting on every \
         broker and start rtds cdc again (its last error: {error})"
    )]
    SnapshotTooLong { ran: Duration, longest: Duration, error: ServiceError },
    /// The table has a column Avro cannot carry here.
    #[error("created_users cannot be written in Avro: {0}")]
    Schema(String),
    /// The registry refuses the table's new shape: nothing of it was written.
    #[error(
        "created_users changed ({changes}) and the Schema Registry refuses the new value schema of {subject}: {rule} \
         compatibility does not allow it ({message}). Nothing of the new shape was written and the slot waits before \
         the change: undo it (or add the column back with its old type, or with a default), then start rtds cdc again"
    )]
    Incompatible { subject: String, changes: String, rule: String, message: String },
}

/// Prefix of the logical messages the stage writes to learn that it is caught up.
const PROBE_PREFIX: &str = "rtds-cdc-probe";

/// Streams changes until `stop` is set (or, with `idle_exit`, until caught up and idle).
/// Outages of PostgreSQL or Kafka are waited out: the stream resumes from the last point in
/// Kafka. Setup errors (no logical decoding, a slot name PostgreSQL refuses, a fenced
/// producer) end it.
pub async fn run(options: CdcOptions, stop: Arc<AtomicBool>, counters: Arc<Counters>) -> Result<CdcSummary, CdcError> {
    replication::check_name("slot", &options.slot)?;
    replication::check_name("publication", &options.publication)?;
    // Reachable at the start, or a clear error: later outages are retried.
    let control = postgres::connect(&options.postgres).await?;
    replication::check_wal_level(&control).await?;
    replication::check_slot_is_ours(&control, &options.slot).await?;
    control.batch_execute(SCHEMA).await.map_err(ServiceError::from)?;
    replication::ensure_publication(&control, &options.publication, pgoutput::TABLE).await?;
    drop(control);
    let partitions = ensure_topic(&options.kafka, &options.topic, options.partitions).await?;
    ensure_topic(&options.kafka, &dlq_topic(&options.topic), 1).await?;
    ensure_topic_with(&options.kafka, &offsets_topic(&options.topic), 1, &[("cleanup.policy", "compact")]).await?;
    let mut schemas = match &options.format {
        Format::Json => None,
        Format::Avro { registry } => Some(schema::ValueSchemas::new(registry, &options.topic).await?),
    };
    let mut producer =
        ChangeProducer::new(&options.kafka, &options.topic, &format!("rtds-cdc-{}", options.slot), &options.slot).await?;
    tracing::info!(slot = %options.slot, topic = %options.topic, partitions, format = ?options.format, "cdc started");

    let started = Instant::now();
    let mut progress = Progress::new();
    let mut waits = backon::BackoffBuilder::build(retry::backoff());
    loop {
        let outcome = session(&options, &mut producer, schemas.as_mut(), &stop, &counters, &mut progress).await;
        match outcome {
            Ok(()) => break,
            Err(CdcError::Service(e)) if e.is_transient() => {
                counters.retries.fetch_add(1, Ordering::Relaxed);
                let wait = waits.next().unwrap_or(Duration::from_secs(5));
                tracing::warn!(error = %e, ?wait, "cdc stream interrupted; resuming from the last point in Kafka");
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e),
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    if options.progress {
        progress.finish(|seconds| progress_line(&counters, seconds));
    }
    Ok(summary(&counters, started.elapsed().as_secs_f64()))
}

/// One replication session: resume (or take the snapshot) and stream until told to stop.
async fn session(
    options: &CdcOptions,
    producer: &mut ChangeProducer,
    mut schemas: Option<&mut schema::ValueSchemas>,
    stop: &AtomicBool,
    counters: &Counters,
    progress: &mut Progress,
) -> Result<(), CdcError> {
    let control = postgres::connect(&options.postgres).await?;
    let brokers = options.kafka.clone();
    let (offsets, slot) = (offsets_topic(&options.topic), options.slot.clone());
    let resume = tokio::task::spawn_blocking(move || read_resume_point(&brokers, &offsets, &slot))
        .await
        .expect("reading the resume point does not panic")?;
    let config = replication::replication_config(&options.postgres, &options.slot, &options.publication)?;
    let state = replication::slot_state(&control, &options.slot).await?;
    let client = match (state, resume) {
        (Some(slot), Some(resume)) => {
            if slot.active {
                tracing::warn!(slot = %options.slot, "the slot is in use by another connection; waiting for it");
            }
            producer.set_transaction_timeout(TRANSACTION_TIMEOUT).await?;
            let from = resume.lsn.max(slot.confirmed_flush);
            counters.committed_lsn.fetch_max(resume.lsn, Ordering::Relaxed);
            tracing::info!(from = %replication::lsn_text(from), "resuming the stream");
            replication::start_stream(config, from).await?
        }
        (slot, resume) => {
            if slot.is_some() {
                // A slot whose snapshot never reached Kafka: start it again.
                tracing::warn!(slot = %options.slot, "the slot has no resume point in Kafka (its snapshot was not committed); creating it again");
                replication::drop_slot(&control, &options.slot).await?;
            } else if resume.is_some() {
                tracing::warn!(slot = %options.slot, "the slot is gone (dropped by hand?); creating it and sending the table again");
            }
            // The snapshot is one transaction, open while the table is read: it may stay open
            // as long as the brokers allow.
            let longest = max_transaction_timeout(&options.kafka).await;
            producer.set_transaction_timeout(longest).await?;
            let (mut client, point, name) = replication::create_slot(config).await?;
            tracing::info!(longest = ?longest, "snapshot: the table's rows in one Kafka transaction");
            let began = Instant::now();
            let rows = match snapshot::send(&options.postgres, &name, point, producer, schemas.as_deref_mut(), counters).await {
                Ok(rows) => rows,
                Err(CdcError::Service(error)) if began.elapsed() >= longest => {
                    return Err(CdcError::SnapshotTooLong { ran: began.elapsed(), longest, error });
                }
                Err(error) => return Err(error),
            };
            producer.set_transaction_timeout(TRANSACTION_TIMEOUT).await?;
            counters.snapshot_rows.fetch_add(rows, Ordering::Relaxed);
            counters.transactions.fetch_add(1, Ordering::Relaxed);
            counters.committed_lsn.fetch_max(point, Ordering::Relaxed);
            tracing::info!(rows, at = %replication::lsn_text(point), "snapshot in Kafka; streaming from its point");
            client.start().await.map_err(replication::replication_error)?;
            client.wait_started().await.map_err(replication::replication_error)?;
            client
        }
    };
    stream::Stream { options, producer, stop, counters, progress, control, schemas }.run(client).await
}

fn summary(counters: &Counters, seconds: f64) -> CdcSummary {
    let report = CdcReport::of(counters);
    let (p50, p99) = counters
        .latency
        .lock()
        .expect("latency histogram")
        .as_ref()
        .map_or((0, 0), |h| (h.value_at_quantile(0.5), h.value_at_quantile(0.99)));
    CdcSummary {
        upserts: report.upserts,
        deletes: report.deletes,
        dead_letters: report.dead_letters,
        snapshot_rows: report.snapshot_rows,
        transactions: report.transactions,
        retries: counters.retries.load(Ordering::Relaxed),
        committed_lsn: replication::lsn_text(report.committed_lsn),
        seconds,
        changes_per_second: (report.upserts + report.deletes) as f64 / seconds.max(1e-9),
        latency_p50_ms: p50,
        latency_p99_ms: p99,
    }
}

fn progress_line(counters: &Counters, seconds: f64) -> String {
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let changes = get(&counters.upserts) + get(&counters.deletes);
    format!(
        "upserts {}  deletes {}  dead letters {}  snapshot {}  lag {} B, {} changes, {:.1} s  {:.0} changes/s",
        get(&counters.upserts),
        get(&counters.deletes),
        get(&counters.dead_letters),
        get(&counters.snapshot_rows),
        counters.slot_lag_bytes.load(Ordering::Relaxed).max(0),
        get(&counters.pending_changes),
        counters.lag_millis() as f64 / 1000.0,
        changes as f64 / seconds.max(1e-9)
    )
}
