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
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::{Concatenate, OkErr, Probe};
use timely::dataflow::Scope;
use uuid::Uuid;

use crate::connectors::cassandra::{CassandraSink, StoredUser, batches, row_size, write_splitting};
use crate::connectors::retry;
use crate::connectors::ServiceError;
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
    async fn timed<T, F: std::future::Future<Output = T>>(&self, write: F) -> T {
        let started = std::time::Instant::now();
        let outcome = write.await;
        let micros = started.elapsed().as_micros() as u64;
        for histogram in [&self.write_latency, &self.all_write_latency] {
            histogram.lock().expect("write latency histogram").saturating_record(micros);
        }
        outcome
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
                            retry::forever("offsets", || sink.write_offset(&topic, partition, next, epoch, write_time(epoch, epoch_ms))).await
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
                let version = Version { epoch, offset: incoming.offset };
                Ok(((user, incoming.produced_ms, dims, version), epoch, diff))
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
    type Split = Result<((User, Option<i64>), u64, isize), ((Uuid, (Version, Dims)), u64, isize)>;
    let (rows, fresh) = parsed
        .flat_map(|((user, produced_ms, dims, version), epoch, diff): ((User, Option<i64>, Dims, Version), u64, isize)| -> [Split; 2] {
            let id = user.id;
            [Ok(((user, produced_ms), epoch, diff)), Err(((id, (version, dims)), epoch, diff))]
        })
        .ok_err::<Vec<_>, _, Vec<_>, _, _>(|split| split);

    let runtime = state.runtime.clone();
    let epoch_ms = state.source.epoch_ms;
    let concurrency = state.sink_plan.concurrency.max(1);

    // Rows: idempotent upserts, written by the worker that read them, in unlogged batches of
    // rows near on the token ring.
    let rows_state = state.clone();
    let (batch_rows, batch_bytes) = (state.sink_plan.batch_rows.max(1), state.sink_plan.batch_bytes);
    let rows_done = async_sink(scope, rows, "RowsSink", runtime.clone(), ROW_ROUNDS, Duration::ZERO, move |epoch, updates: Vec<((User, Option<i64>), isize)>| {
        let state = rows_state.clone();
        async move {
            let timestamp = write_time(epoch, epoch_ms);
            // Latest version wins: every row of a round gets the round's write time, so of two
            // versions of an id only the later one (updates come in epoch order, and an epoch's
            // in Kafka order) may be written; a later round writes with a later time.
            let mut rows = latest_per_id(updates);
            // Sorted in place and written in slices: a round can hold tens of thousands of rows
            // while catching up, and a copy of them is what a heap profile found most of.
            rows.sort_by_cached_key(|((user, _), _)| state.sink.token(user.id));
            let rows = &rows;
            let sink = state.sink.clone();
            let write = rows_writer(&sink, timestamp);
            let write = &write;
            let outcomes: Vec<(Vec<u64>, Vec<Rejected>)> = futures::stream::iter(batches(rows, batch_rows, batch_bytes, |((user, _), _)| row_size(user)))
                .map(|range| {
                    let state = &state;
                    let batch = &rows[range];
                    async move {
                        let refused = state.timed(write_splitting(batch, write)).await;
                        // Produce to acknowledged write, the pipeline's end-to-end latency.
                        let now = Utc::now().timestamp_millis();
                        let refused_ids: Vec<Uuid> = refused.iter().map(|(((user, _), _), _)| user.id).collect();
                        let latencies = batch
                            .iter()
                            .filter(|((user, _), _)| !refused_ids.contains(&user.id))
                            .filter_map(|((_, produced_ms), _)| produced_ms.map(|p| (now - p).max(0) as u64))
                            .collect();
                        let dead = refused
                            .into_iter()
                            .map(|(((user, _), _), error)| {
                                let mut raw = Vec::new();
                                user.write_json(&mut raw);
                                Rejected { raw: String::from_utf8_lossy(&raw).into_owned(), reason: format!("the rows store refused it: {error}") }
                            })
                            .collect();
                        (latencies, dead)
                    }
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
            let dead: Vec<Rejected> = outcomes.iter().flat_map(|(_, dead)| dead.iter().cloned()).collect();
            state.record_latencies(outcomes.iter().flat_map(|(latencies, _)| latencies));
            // Rows the store refused go to the dead-letter topic before the epoch may close.
            if !dead.is_empty() {
                tracing::warn!(rows = dead.len(), reason = %dead[0].reason, "Cassandra refused rows; sending them to the dead-letter topic");
                let source = format!("cassandra/{}.{}", state.sink_plan.keyspace, state.sink_plan.table);
                deliver_dead_letters(&state, &dead, &source).await;
                state.counters.rejected.fetch_add(dead.len() as u64, Ordering::Relaxed);
            }
            state.counters.rows_written.fetch_add((rows.len() - dead.len()) as u64, Ordering::Relaxed);
        }
    });

    // Dead letters: to TOPIC.dlq with the reason, acknowledged before the epoch closes.
    let dlq_state = state.clone();
    let dead_done = async_sink(scope, rejected, "DeadLetterSink", runtime.clone(), 1, Duration::ZERO, move |_epoch, updates: Vec<((Rejected, String), isize)>| {
        let state = dlq_state.clone();
        async move {
            let count = updates.len() as u64;
            for ((rejected, source), _) in updates {
                deliver_dead_letters(&state, &[rejected], &source).await;
            }
            state.counters.rejected.fetch_add(count, Ordering::Relaxed);
        }
    });

    // Dedupe by id over loaded state plus new rows, then count per aggregate.
    // Stored rows are older than every record read from Kafka in this run.
    let stored = Version { epoch: load_epoch, offset: -1 };
    let loaded = source::<_, CapacityContainerBuilder<Vec<((Uuid, (Version, Dims)), u64, isize)>>, _, _>(scope, "StateScan", move |cap, _info| {
        let mut cap = Some(cap);
        let mut loaded = Some(loaded);
        move |output| {
            if let (Some(c), Some(rows)) = (cap.as_mut(), loaded.take()) {
                c.downgrade(&load_epoch);
                output.session(&*c).give_iterator(rows.into_iter().map(|(id, dims)| ((id, (stored, dims)), load_epoch, 1)));
            }
            cap = None;
        }
    });
    // The latest version of each id (values come sorted, so the last one): a user whose
    // country changes moves from one count to the other.
    let unique = loaded.as_collection().concat(fresh.as_collection()).reduce(
        |_id: &Uuid, versions: &[(&(Version, Dims), isize)], output: &mut Vec<(Dims, isize)>| {
            let latest = versions.iter().rev().find(|(_, count)| *count > 0).map(|(v, _)| &v.1);
            if let Some(dims) = latest {
                output.push((dims.clone(), 1));
            }
        },
    );
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
                    state.timed(retry::forever("aggregate", || sink.write_aggregates(index, &latest, timestamp))).await;
                }
                state.counters.aggregate_writes.fetch_add(writes, Ordering::Relaxed);
            }
        }));
    }
    scope.concatenate(done).probe_with(&durable);
}

/// A row to write: the formatted user and its produce time.
type RowUpdate = ((User, Option<i64>), isize);

/// Writes a slice of rows as one request, at `timestamp`.
fn rows_writer<'a>(sink: &'a CassandraSink, timestamp: i64) -> impl Fn(&'a [RowUpdate]) -> BoxFuture<'a, Result<(), ServiceError>> + Sync + 'a {
    move |batch| sink.write_users(batch.iter().map(|((user, _), _)| user), timestamp).boxed()
}

/// Sends dead letters until Kafka acknowledged them all.
async fn deliver_dead_letters(state: &ProcessState, dead: &[Rejected], source: &str) {
    let mut wait = Duration::from_millis(100);
    while let Err(e) = state.dlq.send(&[], dead, source).await {
        tracing::warn!(error = %e, "dead letters not delivered; retrying");
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

/// Where a record stands in the order of versions: a later epoch wins, and within an epoch
/// a later offset (an id is keyed to one partition, so that is Kafka's order for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version {
    pub epoch: u64,
    pub offset: i64,
}

/// The last update of each id, in their original order otherwise.
///
/// ```
/// # use rtds::engine::cluster::latest_per_id;
/// # use rtds::model::User;
/// let user = |id: u128, name: &str| {
///     let row = serde_json::json!({ "id": uuid::Uuid::from_u128(id), "first_name": name });
///     (serde_json::from_value::<User>(row).unwrap(), None)
/// };
/// let rows = latest_per_id(vec![(user(1, "old"), 1), (user(2, "b"), 1), (user(1, "new"), 1)]);
/// let names: Vec<_> = rows.iter().map(|((u, _), _)| u.first_name.clone().unwrap()).collect();
/// assert_eq!(names, ["b", "new"]);
/// ```
pub fn latest_per_id(updates: Vec<((User, Option<i64>), isize)>) -> Vec<((User, Option<i64>), isize)> {
    let mut last: HashMap<Uuid, usize> = HashMap::with_capacity(updates.len());
    for (index, ((user, _), _)) in updates.iter().enumerate() {
        last.insert(user.id, index);
    }
    if last.len() == updates.len() {
        return updates;
    }
    updates.into_iter().enumerate().filter(|(index, ((user, _), _))| last[&user.id] == *index).map(|(_, update)| update).collect()
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
