//! Starting one worker process: its connections, its shared state, the offsets writer, the
//! timely workers, and the summary it prints when it finishes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use futures::StreamExt;
use serde::Serialize;
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use uuid::Uuid;

use super::graph::build;
use super::{epoch_now, owned_partitions, report, write_time};
use crate::connectors::cassandra::{CassandraSink, Durable};
use crate::connectors::kafka::RowProducer;
use crate::connectors::retry;
use crate::dataflow::{CassandraSinkPlan, Dataflow, KafkaSource, Sink, Source};
use crate::model::{Checks, Dimension, Dims};

/// How often a process records its durable offsets at most.
const OFFSETS_EVERY: Duration = Duration::from_millis(100);

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
    /// Rows deleted (tombstones of the CDC stream).
    pub rows_deleted: AtomicU64,
    pub aggregate_writes: AtomicU64,
    pub rejected: AtomicU64,
    /// Rows Cassandra refused alone (also counted in `rejected`: they went to the DLQ).
    pub refused: AtomicU64,
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
    /// Where each partition's last run left it durable.
    pub start_offsets: HashMap<i32, Durable>,
    pub sink: Arc<CassandraSink>,
    pub dlq: RowProducer,
    pub runtime: tokio::runtime::Handle,
    pub offsets: tokio::sync::mpsc::UnboundedSender<(i32, Durable, u64)>,
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
    pub(super) fn record_latencies<'a>(&self, latencies: impl Iterator<Item = &'a u64> + Clone) {
        for histogram in [&self.latency, &self.interval_latency] {
            let mut histogram = histogram.lock().expect("latency histogram");
            for latency in latencies.clone() {
                histogram.saturating_record(*latency);
            }
        }
    }

    /// Times one Cassandra write request (all its retries included).
    pub(super) async fn timed<T, F: std::future::Future<Output = T>>(&self, write: F) -> T {
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
    pub rows_deleted: u64,
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
        let offsets: HashMap<i32, Durable> = sink.offsets(&source_plan.topic).await?.into_iter().map(|(p, d, _)| (p, d)).collect();
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
    let (offsets_tx, mut offsets_rx) = tokio::sync::mpsc::unbounded_channel::<(i32, Durable, u64)>();
    let offsets_writer = {
        let (sink, topic, epoch_ms) = (sink.clone(), source_plan.topic.clone(), source_plan.epoch_ms);
        runtime.spawn(async move {
            let mut open = true;
            while open {
                let Some(first) = offsets_rx.recv().await else { break };
                let round_started = tokio::time::Instant::now();
                let mut newest: HashMap<i32, (Durable, u64)> = HashMap::from([(first.0, (first.1, first.2))]);
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

    // Each local worker's share of the stored rows, read here on the runtime, concurrently,
    // before timely starts: a worker thread makes no network call.
    let (first_worker, local_workers, peers) = layout(&config.communication);
    let loaded: HashMap<usize, Vec<(Uuid, Dims)>> =
        runtime.block_on(futures::future::join_all((first_worker..first_worker + local_workers).map(|index| {
            let state = state.clone();
            async move { (index, load_state(&state, index, peers).await) }
        })))
        .into_iter()
        .collect();
    let loaded = Mutex::new(loaded);

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
        let loaded = loaded.lock().expect("loaded state").remove(&worker.index()).unwrap_or_default();
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
            rows_deleted: c.rows_deleted.load(Ordering::Relaxed),
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

/// The global index of this process's first worker, its worker count, and the workers of
/// the whole cluster.
fn layout(communication: &timely::CommunicationConfig) -> (usize, usize, usize) {
    match communication {
        timely::CommunicationConfig::Thread => (0, 1, 1),
        timely::CommunicationConfig::Process(n) | timely::CommunicationConfig::ProcessBinary(n) => (0, *n, *n),
        timely::CommunicationConfig::Cluster { threads, process, addresses, .. } => (process * threads, *threads, threads * addresses.len()),
    }
}

/// Worker `index`'s share of the rows already in Cassandra, for the dedupe state.
async fn load_state(state: &ProcessState, index: usize, peers: usize) -> Vec<(Uuid, Dims)> {
    let rows = retry::forever("reading back the stored rows", || state.sink.scan_share(index, peers)).await;
    state.counters.state_rows_loaded.fetch_add(rows.len() as u64, Ordering::Relaxed);
    rows.iter().map(|row| (row.id, Dims::of_fields(row.country.as_deref(), row.gender.as_deref(), row.dob, state.today))).collect()
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
