//! Starting one worker process: its connections, the options its operators share, the
//! offsets writer, the dedupe state, the timely workers, and the summary it prints when it
//! finishes.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use serde::Serialize;
use timely::dataflow::operators::probe::Handle as ProbeHandle;

use super::graph::{Stored, build};
use super::report;
use crate::connectors::cassandra::{CassandraConfig, CassandraSinkOptions, CassandraTables, durable_points, load_share, row_owner, spawn_offsets_writer};
use crate::connectors::kafka::{Epochs, IdleVote, KafkaConfig, KafkaDeadLetters, KafkaSourceOptions, LostRecords, owned_partitions, rdkafka_reader};
use crate::dataflow::{Dataflow, Sink, Source};
use crate::metrics::{Latencies, ProcessCounters};

/// The exit status of a worker process that stopped on a condition a restart cannot mend
/// (records lost to retention): its supervisor gives up instead of restarting it.
pub const EXIT_PERMANENT: i32 = 3;

/// How to run one worker process.
#[derive(Debug)]
pub struct WorkerOptions {
    /// timely's configuration: this process's index, the addresses of all, its threads.
    pub timely: timely::Config,
    /// This process's address already bound by its supervisor (see `network.rs`), which
    /// binds it from the configuration otherwise.
    pub listener: Option<std::net::TcpListener>,
    /// The cluster token the processes prove to each other before timely runs over their
    /// connections (see `network.rs`); needed with more than one process.
    pub token: Option<crate::engine::control::ClusterToken>,
    pub kafka: KafkaConfig,
    pub cassandra: CassandraConfig,
    pub dataflow: Dataflow,
    /// Finish once no record arrived for this long and everything read is durable.
    pub idle_exit: Option<Duration>,
    /// Draw a progress line on stderr.
    pub progress: bool,
    /// Print a [`WorkerReport`](super::WorkerReport) line on stdout every second, for a supervisor.
    pub report: bool,
    /// Go on past records Kafka's retention deleted before they were durable, counting them,
    /// instead of stopping.
    pub accept_lost_records: bool,
    /// The Schema Registry's Confluent API, for Avro messages.
    pub schema_registry: Option<String>,
    /// Where the workers keep their checkpoints ([`crate::checkpoint`]); none: each restart
    /// reads the stored rows back.
    pub state_dir: Option<std::path::PathBuf>,
}

/// What every worker thread of the process shares.
pub struct ProcessState {
    pub topic: String,
    pub max_message_bytes: usize,
    /// The dataflow: its source table, expectations and views.
    pub dataflow: Dataflow,
    /// `AGE` counts to this day.
    pub today: NaiveDate,
    pub source_options: KafkaSourceOptions,
    pub sink_options: CassandraSinkOptions,
    pub counters: Arc<ProcessCounters>,
    pub latencies: Arc<Latencies>,
    /// Partitions owned by this process's workers.
    pub owned: Mutex<Vec<i32>>,
    /// Writer schemas of Avro messages, by id.
    pub schemas: Arc<crate::connectors::registry::decode::Schemas>,
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
    /// This process's workers that resumed from their checkpoints ([`crate::checkpoint`]).
    pub checkpoints_resumed: u64,
    /// Records retention deleted before they were durable, skipped (`--accept-lost-records`).
    pub records_skipped: u64,
    pub seconds: f64,
    /// Produce to acknowledged row write, milliseconds.
    pub latency_ms_p50: u64,
    pub latency_ms_p99: u64,
    pub latency_ms_p999: u64,
    pub latency_ms_max: u64,
    /// Produce to the source's read, milliseconds: the CDC and Kafka part of the latency.
    pub read_latency_ms_p50: u64,
    pub read_latency_ms_p99: u64,
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
    #[error("{0}")]
    Invalid(String),
    #[error("topic {topic} does not exist on {brokers}; `rtds cdc` creates it (or create it with kafka-topics)")]
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("rtds-io")
        .build()
        .map_err(ClusterError::Runtime)?;
    let topic = source_plan.topic.clone();

    let (tables, start, run) = runtime.block_on(async {
        let session = Arc::new(crate::connectors::cassandra::connect(&options.cassandra).await?);
        let replication = sink_plan.replication().map_err(|e| ClusterError::Invalid(format!("dataflow {:?}: {e}", options.dataflow.name)))?;
        let tables = CassandraTables::prepare(session, &sink_plan.keyspace, &sink_plan.table, &options.dataflow.program, &replication).await?;
        let start = durable_points(&tables, &topic).await?;
        // A compare-and-set can time out while the processes of a cluster start together on a
        // keyspace just made (Paxos contention, a replica still learning the schema): it is
        // transient, and a claim that did apply only makes this run skip a number.
        let run = crate::connectors::retry::until_permanent("claiming a run number", || tables.claim_run()).await?;
        Ok::<_, ClusterError>((Arc::new(tables), start, run))
    })?;
    let partitions = crate::connectors::kafka::partition_count(&options.kafka, &topic, Duration::from_secs(10))?
        .ok_or_else(|| ClusterError::NoTopic { topic: topic.clone(), brokers: options.kafka.brokers.clone() })?;
    runtime.block_on(crate::connectors::kafka::ensure_topic(&options.kafka, &crate::connectors::kafka::dlq_topic(&topic), 1))?;
    let dead_letters = Arc::new(KafkaDeadLetters::new(&options.kafka, &topic)?);
    let (durable_points, offsets_writer) = spawn_offsets_writer(runtime.handle(), tables.clone(), topic.clone());
    let lost_records = LostRecords {
        skip: options.accept_lost_records,
        fatal: Arc::new(|message: String| {
            tracing::error!("{message}");
            eprintln!("rtds worker: {message}");
            std::process::exit(EXIT_PERMANENT);
        }),
    };

    let counters = Arc::new(ProcessCounters::new(options.dataflow.program.table.expectations.len(), options.dataflow.program.views.len()));
    let latencies = Arc::new(Latencies::default());
    let state = Arc::new(ProcessState {
        topic: topic.clone(),
        max_message_bytes: source_plan.max_message_bytes,
        dataflow: options.dataflow.clone(),
        today: crate::clock::now().date_naive(),
        source_options: KafkaSourceOptions {
            partitions,
            start: Arc::new(start),
            max_in_flight: source_plan.max_in_flight,
            idle_exit: options.idle_exit,
            idle_vote: Arc::new(IdleVote::new(layout(&options.timely.communication).1)),
            open: rdkafka_reader(&options.kafka, &topic),
            runtime: runtime.handle().clone(),
            durable_points,
            counters: counters.clone(),
            latencies: latencies.clone(),
            lost_records,
            // Started again below, once the processes are connected.
            epochs: Epochs::new(source_plan.epoch_ms),
        },
        sink_options: CassandraSinkOptions {
            runtime: runtime.handle().clone(),
            tables: tables.clone(),
            run,
            batch_rows: sink_plan.batch_rows,
            batch_bytes: sink_plan.batch_bytes,
            concurrency: sink_plan.concurrency,
            dead_letters,
            counters: counters.clone(),
            latencies: latencies.clone(),
        },
        counters,
        latencies,
        owned: Mutex::new(Vec::new()),
        schemas: Arc::new(crate::connectors::registry::decode::Schemas::new(options.schema_registry.clone())),
    });
    let started = std::time::Instant::now();
    let (first_worker, local_workers, peers) = layout(&options.timely.communication);
    let process = process_label(&options.timely.communication);
    tracing::info!(%topic, partitions, keyspace = %sink_plan.keyspace, %process, run, "worker process starting");
    if let Some(offset) = crate::clock::offset() {
        tracing::warn!(seconds = offset.num_seconds(), "this process's clock is shifted for a test ({})", crate::clock::OFFSET_ENV);
    }

    // Each local worker's view keys, checkpoint and share of the stored rows, read here on the
    // runtime before timely starts: a worker thread makes no network call.
    let view_keys: Vec<Vec<crate::sql::Row>> = runtime.block_on(crate::connectors::retry::forever("reading the views' keys", || tables.read_view_keys()));
    let local = first_worker..first_worker + local_workers;
    let own_keys = |index: usize| -> Vec<Vec<crate::sql::Row>> {
        view_keys.iter().map(|keys| keys.iter().filter(|key| row_owner(key) % peers as u64 == index as u64).cloned().collect()).collect()
    };
    let checkpoints = match checkpoint_dir(&options, &sink_plan.keyspace, &topic) {
        Some(dir) => Some(open_checkpoints(&runtime, &tables, &state, dir, local.clone(), peers)?),
        None => None,
    };
    let loaded: HashMap<usize, Stored> = match checkpoints {
        // Workers that resume read nothing back; the others read the stored rows they own
        // (one scan of the table for the process, a token range at a time so only the rows
        // kept are held), as the dedupe exchanges them by id.
        Some(checkpoints) => {
            let fallback: Vec<usize> = checkpoints.iter().filter(|(_, opened)| opened.fallback).map(|(index, _)| *index).collect();
            let mut rows: HashMap<usize, Vec<crate::sql::Row>> = HashMap::new();
            if !fallback.is_empty() {
                let key = state.dataflow.program.table.state_columns.iter().position(|c| *c == state.dataflow.program.table.key).expect("the key is kept");
                for share in 0..peers {
                    let read = runtime.block_on(crate::connectors::retry::forever("reading back the stored rows", || tables.scan_share(share, peers)));
                    for row in read {
                        if let crate::sql::Datum::Uuid(id) = &row[key] {
                            let owner = (differential_dataflow::Hashable::hashed(id) % peers as u64) as usize;
                            if fallback.contains(&owner) {
                                rows.entry(owner).or_default().push(row);
                            }
                        }
                    }
                }
                state.counters.state_rows_loaded.store(rows.values().map(|r| r.len() as u64).sum(), Ordering::Relaxed);
            }
            checkpoints
                .into_iter()
                .map(|(index, opened)| {
                    let stored = Stored { rows: rows.remove(&index).unwrap_or_default(), view_keys: own_keys(index), checkpoint: Some(opened.resumed) };
                    (index, stored)
                })
                .collect()
        }
        None => runtime
            .block_on(futures::future::join_all(local.map(|index| {
                let state = state.clone();
                let keys = own_keys(index);
                async move {
                    let rows = load_share(&state.sink_options.tables, index, peers, &state.counters).await;
                    (index, Stored { rows, view_keys: keys, checkpoint: None })
                }
            })))
            .into_iter()
            .collect(),
    };
    let loaded = Mutex::new(loaded);
    // Epoch 1 begins when the processes are connected (the first worker to get here), so the
    // processes of a cluster count epochs together whatever their clocks say.
    let epochs_started = Arc::new(std::sync::OnceLock::new());

    let worker_state = state.clone();
    let run = move |worker: &mut timely::worker::Worker| {
        let state = worker_state.clone();
        let durable = ProbeHandle::new();
        let started = *epochs_started.get_or_init(std::time::Instant::now);
        let mut source_options = state.source_options.clone();
        source_options.epochs.started = started;
        let mut owned = owned_partitions(state.source_options.partitions, worker.index(), worker.peers());
        {
            let mut all = state.owned.lock().expect("owned partitions");
            all.append(&mut owned);
            all.sort_unstable();
        }
        let loaded = loaded.lock().expect("loaded state").remove(&worker.index()).unwrap_or_default();
        worker.dataflow::<u64, _, _>(|scope| build(scope, state.clone(), source_options, durable.clone(), loaded));
        while worker.step_or_park(Some(Duration::from_millis(100))) {}
    };
    let guards = super::network::execute_on(options.listener, options.token.clone(), options.timely.clone(), run).map_err(ClusterError::Timely)?;

    let progress = options.progress.then(|| spawn_progress(state.clone()));
    let reporter = options.report.then(|| report::spawn_reporter(state.clone()));
    for result in guards.join() {
        result.map_err(ClusterError::Timely)?;
    }
    drop(progress);
    drop(reporter);
    let summary = summary(&state, process, started.elapsed().as_secs_f64());
    println!("{}", serde_json::to_string(&summary).expect("summary serializes"));
    // Let the last offsets reach Cassandra before the process ends: the writer ends once
    // every sender of points is gone.
    drop(state);
    runtime.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(30), offsets_writer).await;
    });
    Ok(())
}

/// Where this process's workers keep their checkpoints ([`crate::checkpoint`]).
fn checkpoint_dir(options: &WorkerOptions, keyspace: &str, topic: &str) -> Option<std::path::PathBuf> {
    Some(options.state_dir.as_ref()?.join(keyspace).join(topic))
}

/// A local worker's checkpoint, and whether it must be rebuilt from the stored rows.
struct Opened {
    resumed: super::graph::Resumed,
    fallback: bool,
}

/// Opens each local worker's checkpoint in `dir`, all at once (after a crash each replays its
/// journal: one thread each, so a process's restart waits for its slowest, not their sum), and
/// resumes from it when it is valid ([`crate::checkpoint::Checkpoint::resume`]); makes it again,
/// empty, otherwise, saying why.
fn open_checkpoints(
    runtime: &tokio::runtime::Runtime,
    tables: &CassandraTables,
    state: &ProcessState,
    dir: std::path::PathBuf,
    local: std::ops::Range<usize>,
    peers: usize,
) -> Result<Vec<(usize, Opened)>, ClusterError> {
    let lineage = runtime.block_on(crate::connectors::retry::forever("reading the keyspace's lineage", || tables.lineage()));
    let dataflow = crate::checkpoint::digest(&state.dataflow.program, state.today);
    std::thread::scope(|scope| {
        let opening: Vec<_> = local
            .map(|index| {
                let identity = crate::checkpoint::Identity { lineage, dataflow: dataflow.clone(), index, peers };
                let path = dir.join(format!("worker-{index}"));
                std::thread::Builder::new()
                    .name(format!("checkpoint-{index}"))
                    .spawn_scoped(scope, move || open_checkpoint(state, path, identity).map(|opened| (index, opened)))
                    .map_err(|e| ClusterError::Invalid(format!("cannot start a thread to open a checkpoint: {e}")))
            })
            .collect::<Result<_, _>>()?;
        opening.into_iter().map(|thread| thread.join().expect("opening a checkpoint panicked")).collect()
    })
}

/// Opens one worker's checkpoint at `path`: resumed from when it is of `identity` and covers
/// the recorded offsets, else made again, empty, for the fallback.
fn open_checkpoint(state: &ProcessState, path: std::path::PathBuf, identity: crate::checkpoint::Identity) -> Result<Opened, ClusterError> {
    use crate::checkpoint::{Checkpoint, Coverage};
    let start = &state.source_options.start;
    let index = identity.index;
    let (started, cpu) = (std::time::Instant::now(), crate::metrics::thread_cpu_seconds());
    let checkpoint = Checkpoint::open(&path).map_err(|e| ClusterError::Invalid(e.to_string()))?;
    Ok(match checkpoint.resume(&identity, start) {
        Ok(resumed) => {
            state.counters.checkpoints_resumed.fetch_add(1, Ordering::Relaxed);
            tracing::info!(worker = index, path = %path.display(), view_inputs = resumed.view_inputs.len(), event_time = ?resumed.event_time, ms = started.elapsed().as_millis() as u64, cpu_ms = ((crate::metrics::thread_cpu_seconds() - cpu) * 1e3) as u64, "resuming from the checkpoint");
            Opened { resumed: super::graph::Resumed { checkpoint, identity, state: resumed }, fallback: false }
        }
        Err(reason) => {
            tracing::info!(worker = index, path = %path.display(), %reason, "not resuming from the checkpoint: reading the stored rows back");
            let checkpoint = checkpoint.recreate().map_err(|e| ClusterError::Invalid(e.to_string()))?;
            // The stored rows hold at least what the recorded offsets say is durable.
            let coverage: Coverage = start.iter().map(|(partition, point)| (*partition, point.records)).collect();
            let empty = crate::checkpoint::Resumable { view_inputs: Vec::new(), coverage, event_time: None };
            Opened { resumed: super::graph::Resumed { checkpoint, identity, state: empty }, fallback: true }
        }
    })
}

/// What the process did, from its counters and histograms.
fn summary(state: &ProcessState, process: String, seconds: f64) -> WorkerSummary {
    let c = &state.counters;
    let latency = state.latencies.end_to_end.lock().expect("latency histogram");
    let writes = state.latencies.writes.lock().expect("write latency histogram");
    let read = state.latencies.read.lock().expect("read latency histogram");
    WorkerSummary {
        process,
        records_in: c.records_in.load(Ordering::Relaxed),
        rows_written: c.rows_written.load(Ordering::Relaxed),
        rows_deleted: c.rows_deleted.load(Ordering::Relaxed),
        rejected: c.rejected.load(Ordering::Relaxed),
        aggregate_writes: c.aggregate_writes.load(Ordering::Relaxed),
        state_rows_loaded: c.state_rows_loaded.load(Ordering::Relaxed),
        checkpoints_resumed: c.checkpoints_resumed.load(Ordering::Relaxed),
        records_skipped: c.records_skipped.load(Ordering::Relaxed),
        seconds,
        latency_ms_p50: latency.value_at_quantile(0.5),
        latency_ms_p99: latency.value_at_quantile(0.99),
        latency_ms_p999: latency.value_at_quantile(0.999),
        latency_ms_max: latency.max(),
        read_latency_ms_p50: read.value_at_quantile(0.5),
        read_latency_ms_p99: read.value_at_quantile(0.99),
        write_us_p50: writes.value_at_quantile(0.5),
        write_us_p99: writes.value_at_quantile(0.99),
        write_requests: writes.len(),
        peak_rss_bytes: crate::metrics::peak_rss(),
        cpu_seconds: crate::metrics::process_usage().1,
    }
}

/// "process I of P, W workers".
fn process_label(communication: &timely::CommunicationConfig) -> String {
    let (first, local, peers) = layout(communication);
    format!("process {} of {}, {local} workers", first / local.max(1), peers / local.max(1))
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
