//! One process of the timely cluster (`rtds worker`): Kafka partitions in, Cassandra out.
//!
//! The dataflow of every worker:
//!
//! ```text
//! Kafka source ─► parse + checks ─┬─► rows sink (Cassandra created_users)
//!   (owned partitions,            ├─► (id, dims) ─► dedupe ─► count per aggregate ─► aggregates sink
//!    epoch timestamps)            └─► rejected ─► dead-letter sink (Kafka TOPIC.dlq)
//! state scan (Cassandra, at E0) ──────► (id, dims) ┘
//!                           all sinks ─► probe "durable" ─► offsets of durable epochs
//! ```
//!
//! Epochs are wall-clock slices (`epoch_ms`), so all processes agree on them roughly and a
//! restarted cluster continues with later ones. After a crash each process reloads the
//! dedupe state from the rows already in Cassandra (epoch E0), and each partition resumes
//! from its durable offset: replayed records are idempotent upserts, and the aggregates,
//! recomputed from loaded rows plus replay, equal those of a run without the crash.

mod async_sink;
mod kafka_source;
mod report;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use compact_str::CompactString;
use differential_dataflow::AsCollection;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::{Concatenate, OkErr, Probe};
use timely::dataflow::Scope;
use uuid::Uuid;

use crate::connectors::cassandra::{CassandraSink, StoredUser, retry_forever};
use crate::connectors::kafka::RowProducer;
use crate::dataflow::{CassandraSinkPlan, Checks, Dataflow, Dimension, KafkaSource, Sink, Source};
use crate::engine::checks::{age_band, check};
use crate::model::{Rejected, User};

pub use async_sink::async_sink;
pub use kafka_source::{kafka_source, owned_partitions};
pub use report::{REPORT_PREFIX, WorkerReport, drain_histogram};

/// Row write rounds in flight per worker: a slow write holds back its own rows only.
const ROW_ROUNDS: usize = 4;

/// How often an aggregate's changed values are written at most: each round writes every key
/// that changed since the last, so fewer rounds mean fewer writes for the same result.
const AGGREGATES_EVERY: Duration = Duration::from_millis(100);

/// How often a process records its durable offsets at most.
const OFFSETS_EVERY: Duration = Duration::from_millis(100);

/// The current epoch: wall-clock milliseconds over the epoch length.
pub fn epoch_now(epoch_ms: u64) -> u64 {
    (Utc::now().timestamp_millis().max(0) as u64) / epoch_ms.max(1)
}

/// A Kafka record as the source hands it on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Incoming {
    pub payload: Vec<u8>,
    pub partition: i32,
    pub offset: i64,
    /// The producer's timestamp, for end-to-end latency.
    pub produced_ms: Option<i64>,
}

/// What the aggregates group a user by, computed once per user.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dims {
    // Inline strings (up to 24 bytes without a heap allocation): dims are cloned and
    // compared a lot in the dedupe and count operators.
    pub country: Option<CompactString>,
    pub gender: Option<CompactString>,
    pub age_band: Option<CompactString>,
}

impl Dims {
    /// A formatted row's dimensions.
    pub fn of_user(user: &User, today: NaiveDate) -> Dims {
        let dob = user.dob.as_deref().and_then(crate::engine::checks::parse_date);
        Dims {
            country: user.country.as_deref().map(CompactString::from),
            gender: user.gender.as_deref().map(CompactString::from),
            age_band: dob.map(|d| age_band(d.date_naive(), today).into()),
        }
    }

    /// A stored row's dimensions (the recovery scan).
    pub fn of_stored(user: &StoredUser, today: NaiveDate) -> Dims {
        Dims {
            country: user.country.as_deref().map(CompactString::from),
            gender: user.gender.as_deref().map(CompactString::from),
            age_band: user.dob.map(|d| age_band(d.date_naive(), today).into()),
        }
    }

    /// The value for one aggregate; absent values count under "unknown".
    pub fn value(&self, dimension: Dimension) -> CompactString {
        let value = match dimension {
            Dimension::Country => &self.country,
            Dimension::Gender => &self.gender,
            Dimension::AgeBand => &self.age_band,
        };
        value.clone().unwrap_or_else(|| CompactString::const_new("unknown"))
    }
}

/// How to run one worker process.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// timely's own arguments: `-w N -n P -p I -h HOSTFILE`.
    pub timely_args: Vec<String>,
    pub kafka: String,
    pub cassandra: String,
    pub dataflow: Dataflow,
    /// Finish once no record arrived for this long and everything read is durable.
    pub idle_exit: Option<Duration>,
    /// Draw a progress line on stderr.
    pub progress: bool,
    /// Print a [`WorkerReport`] line on stdout every second, for a supervisor.
    pub report: bool,
}

/// Counters of one worker process.
#[derive(Debug, Default)]
pub struct ProcessCounters {
    pub records_in: AtomicU64,
    pub rows_written: AtomicU64,
    pub aggregate_writes: AtomicU64,
    pub rejected: AtomicU64,
    pub durable_epoch: AtomicU64,
    /// The epoch sources stamp new records with.
    pub epoch: AtomicU64,
    pub state_rows_loaded: AtomicU64,
}

/// What every worker thread of the process shares.
pub struct ProcessState {
    pub brokers: String,
    pub source: KafkaSource,
    pub sink_plan: CassandraSinkPlan,
    pub checks: Checks,
    pub aggregates: Vec<(String, Dimension)>,
    pub partitions: usize,
    pub start_offsets: HashMap<i32, i64>,
    pub sink: Arc<CassandraSink>,
    pub dlq: RowProducer,
    pub runtime: tokio::runtime::Handle,
    pub offsets: tokio::sync::mpsc::UnboundedSender<(i32, i64, u64)>,
    pub counters: ProcessCounters,
    pub idle_exit: Option<Duration>,
    pub today: NaiveDate,
    /// Produce-to-acknowledged-write latency of every row, in milliseconds.
    pub latency: Mutex<hdrhistogram::Histogram<u64>>,
    /// The same, since the last report.
    pub interval_latency: Mutex<hdrhistogram::Histogram<u64>>,
    /// Cassandra write request latency since the last report, in microseconds.
    pub write_latency: Mutex<hdrhistogram::Histogram<u64>>,
    /// The same, since the process started.
    pub all_write_latency: Mutex<hdrhistogram::Histogram<u64>>,
    /// Partitions owned by this process's workers.
    pub owned: Mutex<Vec<i32>>,
}

impl ProcessState {
    fn record_latencies<'a>(&self, latencies: impl Iterator<Item = &'a u64> + Clone) {
        for histogram in [&self.latency, &self.interval_latency] {
            let mut histogram = histogram.lock().expect("latency histogram");
            for latency in latencies.clone() {
                histogram.saturating_record(*latency);
            }
        }
    }

    /// Times one Cassandra write request (all its retries included).
    async fn timed<F: std::future::Future<Output = ()>>(&self, write: F) {
        let started = std::time::Instant::now();
        write.await;
        let micros = started.elapsed().as_micros() as u64;
        for histogram in [&self.write_latency, &self.all_write_latency] {
            histogram.lock().expect("write latency histogram").saturating_record(micros);
        }
    }
}

/// What a worker process did, printed as one JSON line on stdout when it finishes.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerSummary {
    pub process: String,
    pub records_in: u64,
    pub rows_written: u64,
    pub rejected: u64,
    pub aggregate_writes: u64,
    pub state_rows_loaded: u64,
    pub seconds: f64,
    /// Produce to acknowledged row write, milliseconds.
    pub latency_ms_p50: u64,
    pub latency_ms_p99: u64,
    pub latency_ms_p999: u64,
    pub latency_ms_max: u64,
    /// Cassandra write requests (a batch of rows or an aggregate value), microseconds.
    pub write_us_p50: u64,
    pub write_us_p99: u64,
    pub write_requests: u64,
    pub peak_rss_bytes: u64,
    pub cpu_seconds: f64,
}

/// Why a worker process failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Service(#[from] crate::connectors::ServiceError),
    #[error("dataflow {0:?} is not a cluster pipeline (a kafka source and a cassandra sink)")]
    Unsupported(String),
    #[error("topic {topic} does not exist on {brokers}; create it with `rtds ingest` first")]
    NoTopic { topic: String, brokers: String },
    #[error("timely: {0}")]
    Timely(String),
    #[error("cannot start the tokio runtime: {0}")]
    Runtime(std::io::Error),
}

/// Runs one process of the cluster until its workers finish (with `idle_exit`) or forever.
pub fn run_worker(options: WorkerOptions) -> Result<(), ClusterError> {
    let (Source::Kafka(source_plan), Sink::Cassandra(sink_plan)) = (&options.dataflow.source, &options.dataflow.sink) else {
        return Err(ClusterError::Unsupported(options.dataflow.name.clone()));
    };
    let config = timely::Config::from_args(options.timely_args.iter().cloned()).map_err(ClusterError::Timely)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("rtds-io")
        .build()
        .map_err(ClusterError::Runtime)?;

    let aggregates: Vec<(String, Dimension)> = options.dataflow.aggregates.iter().map(|a| (a.name.clone(), a.by)).collect();
    let (sink, start_offsets) = runtime.block_on(async {
        let session = Arc::new(crate::connectors::cassandra::connect(&options.cassandra).await?);
        let sink = CassandraSink::prepare(session, &sink_plan.keyspace, &sink_plan.table, &aggregates).await?;
        let offsets: HashMap<i32, i64> = sink.offsets(&source_plan.topic).await?.into_iter().map(|(p, o, _)| (p, o)).collect();
        Ok::<_, ClusterError>((Arc::new(sink), offsets))
    })?;
    let partitions = crate::connectors::kafka::partition_count(&options.kafka, &source_plan.topic, Duration::from_secs(10))?
        .ok_or_else(|| ClusterError::NoTopic { topic: source_plan.topic.clone(), brokers: options.kafka.clone() })?;
    runtime.block_on(crate::connectors::kafka::ensure_topic(
        &options.kafka,
        &crate::connectors::kafka::dlq_topic(&source_plan.topic),
        1,
    ))?;
    let dlq = RowProducer::new(&options.kafka, &source_plan.topic)?;

    // Durable offsets are written by one task per process: whatever arrived since its last
    // round, newest per partition, at most every OFFSETS_EVERY (epochs are short; offsets only
    // decide where a restart resumes).
    let (offsets_tx, mut offsets_rx) = tokio::sync::mpsc::unbounded_channel::<(i32, i64, u64)>();
    let offsets_writer = {
        let (sink, topic, epoch_ms) = (sink.clone(), source_plan.topic.clone(), source_plan.epoch_ms);
        runtime.spawn(async move {
            let mut open = true;
            while open {
                let Some(first) = offsets_rx.recv().await else { break };
                let round_started = tokio::time::Instant::now();
                let mut newest: HashMap<i32, (i64, u64)> = HashMap::from([(first.0, (first.1, first.2))]);
                loop {
                    match offsets_rx.try_recv() {
                        Ok((partition, next, epoch)) => {
                            newest.insert(partition, (next, epoch));
                        }
                        Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break,
                        Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => {
                            open = false;
                            break;
                        }
                    }
                }
                futures::stream::iter(newest)
                    .for_each_concurrent(None, |(partition, (next, epoch))| {
                        let (sink, topic) = (sink.clone(), topic.clone());
                        async move {
                            retry_forever("offsets", || sink.write_offset(&topic, partition, next, epoch, write_time(epoch, epoch_ms))).await
                        }
                    })
                    .await;
                if open {
                    tokio::time::sleep_until(round_started + OFFSETS_EVERY).await;
                }
            }
        })
    };

    let state = Arc::new(ProcessState {
        brokers: options.kafka.clone(),
        source: source_plan.clone(),
        sink_plan: sink_plan.clone(),
        checks: options.dataflow.checks.clone(),
        aggregates,
        partitions,
        start_offsets,
        sink,
        dlq,
        runtime: runtime.handle().clone(),
        offsets: offsets_tx,
        counters: ProcessCounters::default(),
        idle_exit: options.idle_exit,
        today: Utc::now().date_naive(),
        latency: Mutex::new(hdrhistogram::Histogram::new_with_bounds(1, 3_600_000, 3).expect("valid bounds")),
        interval_latency: Mutex::new(hdrhistogram::Histogram::new_with_bounds(1, 3_600_000, 3).expect("valid bounds")),
        write_latency: Mutex::new(hdrhistogram::Histogram::new_with_bounds(1, 600_000_000, 2).expect("valid bounds")),
        all_write_latency: Mutex::new(hdrhistogram::Histogram::new_with_bounds(1, 600_000_000, 2).expect("valid bounds")),
        owned: Mutex::new(Vec::new()),
    });
    let started = std::time::Instant::now();
    tracing::info!(topic = %source_plan.topic, partitions, keyspace = %sink_plan.keyspace, "worker process starting");

    let worker_state = state.clone();
    let guards = timely::execute(config, move |worker| {
        let state = worker_state.clone();
        let durable = ProbeHandle::new();
        let first_epoch = epoch_now(state.source.epoch_ms);
        let mut owned = owned_partitions(state.partitions, worker.index(), worker.peers());
        {
            let mut all = state.owned.lock().expect("owned partitions");
            all.append(&mut owned);
            all.sort_unstable();
        }
        let loaded = load_state(&state, worker.index(), worker.peers());
        worker.dataflow::<u64, _, _>(|scope| build(scope, state.clone(), durable.clone(), first_epoch, loaded));
        while worker.step_or_park(Some(Duration::from_millis(100))) {}
    })
    .map_err(ClusterError::Timely)?;

    let progress = options.progress.then(|| spawn_progress(state.clone()));
    let reporter = options.report.then(|| report::spawn_reporter(state.clone()));
    for result in guards.join() {
        result.map_err(ClusterError::Timely)?;
    }
    drop(progress);
    drop(reporter);
    let summary = {
        let c = &state.counters;
        let latency = state.latency.lock().expect("latency histogram");
        let writes = state.all_write_latency.lock().expect("write latency histogram");
        WorkerSummary {
            process: options.timely_args.join(" "),
            records_in: c.records_in.load(Ordering::Relaxed),
            rows_written: c.rows_written.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            aggregate_writes: c.aggregate_writes.load(Ordering::Relaxed),
            state_rows_loaded: c.state_rows_loaded.load(Ordering::Relaxed),
            seconds: started.elapsed().as_secs_f64(),
            latency_ms_p50: latency.value_at_quantile(0.5),
            latency_ms_p99: latency.value_at_quantile(0.99),
            latency_ms_p999: latency.value_at_quantile(0.999),
            latency_ms_max: latency.max(),
            write_us_p50: writes.value_at_quantile(0.5),
            write_us_p99: writes.value_at_quantile(0.99),
            write_requests: writes.len(),
            peak_rss_bytes: crate::metrics::peak_rss(),
            cpu_seconds: crate::metrics::process_usage().1,
        }
    };
    println!("{}", serde_json::to_string(&summary).expect("summary serializes"));
    // Let the last offsets reach Cassandra before the process ends.
    drop(state);
    runtime.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(30), offsets_writer).await;
    });
    Ok(())
}

/// A write's Cassandra timestamp (microseconds) for an epoch: later epochs win.
fn write_time(epoch: u64, epoch_ms: u64) -> i64 {
    (epoch * epoch_ms * 1000) as i64
}

/// This worker's share of the rows already in Cassandra, for the dedupe state.
fn load_state(state: &ProcessState, index: usize, peers: usize) -> Vec<(Uuid, Dims)> {
    let sink = state.sink.clone();
    let rows = state.runtime.block_on(async move {
        loop {
            match sink.scan_share(index, peers).await {
                Ok(rows) => return rows,
                Err(e) => {
                    tracing::warn!(error = %e, "reading back the stored rows failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    state.counters.state_rows_loaded.fetch_add(rows.len() as u64, Ordering::Relaxed);
    rows.iter().map(|row| (row.id, Dims::of_stored(row, state.today))).collect()
}

/// Builds one worker's dataflow.
fn build(scope: Scope<'_, u64>, state: Arc<ProcessState>, durable: ProbeHandle<u64>, first_epoch: u64, loaded: Vec<(Uuid, Dims)>) {
    let load_epoch = first_epoch;
    let records = kafka_source(scope, state.clone(), durable.clone(), first_epoch + 1);

    // Parse and check; rejected records keep their raw text and the reason.
    let (checks, today, max_bytes) = (state.checks.clone(), state.today, state.source.max_message_bytes);
    let topic = state.source.topic.clone();
    let (parsed, rejected) = records.ok_err::<Vec<_>, _, Vec<_>, _, _>(move |(incoming, epoch, diff): (Incoming, u64, isize)| {
        match parse_row(&incoming.payload, max_bytes, &checks) {
            Ok(user) => {
                let dims = Dims::of_user(&user, today);
                Ok(((user, incoming.produced_ms, dims), epoch, diff))
            }
            Err(reason) => {
                let source = format!("{topic}/{}@{}", incoming.partition, incoming.offset);
                let raw = String::from_utf8_lossy(&incoming.payload[..incoming.payload.len().min(max_bytes)]).into_owned();
                Err(((Rejected { raw, reason }, source), epoch, diff))
            }
        }
    });

    // Rows to the rows sink, (id, dims) to the dedupe: split rather than shared, so no row
    // is cloned for a second consumer.
    type Split = Result<((User, Option<i64>), u64, isize), ((Uuid, Dims), u64, isize)>;
    let (rows, fresh) = parsed
        .flat_map(|((user, produced_ms, dims), epoch, diff): ((User, Option<i64>, Dims), u64, isize)| -> [Split; 2] {
            let id = user.id;
            [Ok(((user, produced_ms), epoch, diff)), Err(((id, dims), epoch, diff))]
        })
        .ok_err::<Vec<_>, _, Vec<_>, _, _>(|split| split);

    let runtime = state.runtime.clone();
    let epoch_ms = state.source.epoch_ms;
    let concurrency = state.sink_plan.concurrency.max(1);

    // Rows: idempotent upserts, written by the worker that read them, in unlogged batches of
    // rows near on the token ring.
    let rows_state = state.clone();
    let batch_rows = state.sink_plan.batch_rows.max(1);
    let rows_done = async_sink(scope, rows, "RowsSink", runtime.clone(), ROW_ROUNDS, Duration::ZERO, move |epoch, updates: Vec<((User, Option<i64>), isize)>| {
        let state = rows_state.clone();
        async move {
            let timestamp = write_time(epoch, epoch_ms);
            let written = updates.len() as u64;
            // Sorted in place and written in slices: a round can hold tens of thousands of rows
            // while catching up, and a copy of them is what a heap profile found most of.
            let mut rows = updates;
            rows.sort_by_cached_key(|((user, _), _)| state.sink.token(user.id));
            let rows = &rows;
            let latencies: Vec<Vec<u64>> = futures::stream::iter((0..rows.len()).step_by(batch_rows))
                .map(|start| {
                    let (sink, state) = (state.sink.clone(), &state);
                    let batch = &rows[start..(start + batch_rows).min(rows.len())];
                    async move {
                        state.timed(retry_forever("rows", || sink.write_users(batch.iter().map(|((user, _), _)| user), timestamp))).await;
                        // Produce to acknowledged write, the pipeline's end-to-end latency.
                        let now = Utc::now().timestamp_millis();
                        batch.iter().filter_map(|((_, produced_ms), _)| produced_ms.map(|p| (now - p).max(0) as u64)).collect()
                    }
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
            state.record_latencies(latencies.iter().flatten());
            state.counters.rows_written.fetch_add(written, Ordering::Relaxed);
        }
    });

    // Dead letters: to TOPIC.dlq with the reason, acknowledged before the epoch closes.
    let dlq_state = state.clone();
    let dead_done = async_sink(scope, rejected, "DeadLetterSink", runtime.clone(), 1, Duration::ZERO, move |_epoch, updates: Vec<((Rejected, String), isize)>| {
        let state = dlq_state.clone();
        async move {
            let count = updates.len() as u64;
            for ((rejected, source), _) in updates {
                let one = [rejected];
                let mut wait = Duration::from_millis(100);
                while let Err(e) = state.dlq.send(&[], &one, &source).await {
                    tracing::warn!(error = %e, "dead letter not delivered; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
            state.counters.rejected.fetch_add(count, Ordering::Relaxed);
        }
    });

    // Dedupe by id over loaded state plus new rows, then count per aggregate.
    let loaded = source::<_, CapacityContainerBuilder<Vec<((Uuid, Dims), u64, isize)>>, _, _>(scope, "StateScan", move |cap, _info| {
        let mut cap = Some(cap);
        let mut loaded = Some(loaded);
        move |output| {
            if let (Some(c), Some(rows)) = (cap.as_mut(), loaded.take()) {
                c.downgrade(&load_epoch);
                output.session(&*c).give_iterator(rows.into_iter().map(|row| (row, load_epoch, 1)));
            }
            cap = None;
        }
    });
    let unique = loaded
        .as_collection()
        .concat(fresh.as_collection())
        .reduce(|_id: &Uuid, versions: &[(&Dims, isize)], output: &mut Vec<(Dims, isize)>| output.push((versions[0].0.clone(), 1)));
    let mut done = vec![rows_done, dead_done];
    for (index, (name, dimension)) in state.aggregates.iter().enumerate() {
        let dimension = *dimension;
        let counts = unique.clone().map(move |(_, dims)| dims.value(dimension)).count();
        let agg_state = state.clone();
        let name = name.clone();
        done.push(async_sink(scope, counts.inner, &format!("Aggregate:{name}"), runtime.clone(), 1, AGGREGATES_EVERY, move |epoch, updates: Vec<((CompactString, isize), isize)>| {
            let state = agg_state.clone();
            async move {
                let timestamp = write_time(epoch, epoch_ms);
                // A round may span epochs: the last count of a key is its current one.
                let latest: HashMap<String, i64> =
                    updates.into_iter().filter(|(_, diff)| *diff > 0).map(|((key, count), _)| (key.into_string(), count as i64)).collect();
                let writes = latest.len() as u64;
                // A few dozen keys at most: one batch request per round.
                let latest: Vec<(String, i64)> = latest.into_iter().collect();
                if !latest.is_empty() {
                    let sink = state.sink.clone();
                    state.timed(retry_forever("aggregate", || sink.write_aggregates(index, &latest, timestamp))).await;
                }
                state.counters.aggregate_writes.fetch_add(writes, Ordering::Relaxed);
            }
        }));
    }
    scope.concatenate(done).probe_with(&durable);
}

/// A Kafka message to a checked row, or the reason it is rejected.
pub fn parse_row(payload: &[u8], max_bytes: usize, checks: &Checks) -> Result<User, String> {
    if payload.len() > max_bytes {
        return Err(format!("message of {} bytes is over the {max_bytes}-byte limit", payload.len()));
    }
    let user: User = serde_json::from_slice(payload).map_err(|e| format!("not a formatted row: {e}"))?;
    check(&user, checks, Utc::now())?;
    Ok(user)
}

/// Prints the process's progress every few seconds until dropped.
fn spawn_progress(state: Arc<ProcessState>) -> ProgressGuard {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        let mut progress = crate::metrics::Progress::new();
        while !flag.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            progress.tick(|seconds| {
                let c = &state.counters;
                let records = c.records_in.load(Ordering::Relaxed);
                format!(
                    "in {records}  rows {}  rejected {}  aggregate writes {}  durable epoch {}  {:.0} records/s",
                    c.rows_written.load(Ordering::Relaxed),
                    c.rejected.load(Ordering::Relaxed),
                    c.aggregate_writes.load(Ordering::Relaxed),
                    c.durable_epoch.load(Ordering::Relaxed),
                    records as f64 / seconds.max(1e-9)
                )
            });
        }
    });
    ProgressGuard(stop)
}

struct ProgressGuard(Arc<std::sync::atomic::AtomicBool>);

impl Drop for ProgressGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
