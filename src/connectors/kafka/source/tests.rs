//! The source under timely on fake readers, no Kafka: the durability rule from the source's
//! side (a partition's point is reported only for epochs the probe after every sink has
//! passed), backpressure (no more than `max_in_flight` read ahead), the workers of a
//! process finishing together (`--idle-exit`), and records lost to retention.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use timely::dataflow::operators::Probe;
use timely::dataflow::operators::probe::Handle as ProbeHandle;

use super::{Epochs, Incoming, KafkaSourceOptions, LostRecords, PartitionReader, ReadError, kafka_source};
use crate::connectors::Durable;
use crate::metrics::ProcessCounters;
use crate::operators::{AsyncSink, AsyncSinkOptions};

/// Records of partitions 0 and 1, handed out in order; watermarks at their ends.
struct FakeReader {
    queue: Mutex<VecDeque<Incoming>>,
    positions: Mutex<HashMap<i32, i64>>,
    ends: HashMap<i32, i64>,
}

impl FakeReader {
    fn with(records_per_partition: i64) -> Arc<FakeReader> {
        let queue = (0..records_per_partition)
            .flat_map(|offset| [0, 1].map(|partition| Incoming { key: None, payload: Some(b"{}".to_vec()), partition, offset, produced_ms: None, lsn: None, number: 0 }))
            .collect();
        let ends = HashMap::from([(0, records_per_partition), (1, records_per_partition)]);
        Arc::new(FakeReader { queue: Mutex::new(queue), positions: Mutex::default(), ends })
    }
}

impl PartitionReader for FakeReader {
    fn poll(&self) -> Option<Result<Incoming, ReadError>> {
        let incoming = self.queue.lock().unwrap().pop_front()?;
        self.positions.lock().unwrap().insert(incoming.partition, incoming.offset + 1);
        Some(Ok(incoming))
    }
    fn positions(&self) -> Option<HashMap<i32, i64>> {
        Some(self.positions.lock().unwrap().clone())
    }
    fn watermarks(&self, partition: i32, _timeout: Duration) -> Option<(i64, i64)> {
        Some((0, self.ends[&partition]))
    }
    fn assigned(&self) -> Option<Vec<i32>> {
        Some(vec![0, 1])
    }
}

/// A source of 2 partitions with epochs of 10 ms, read by `open`, in a process of `workers`
/// workers; with the receiver of its durable points.
fn options_of(
    runtime: &tokio::runtime::Runtime,
    open: super::OpenReader,
    max_in_flight: usize,
    idle_exit: Option<Duration>,
    workers: usize,
) -> (KafkaSourceOptions, tokio::sync::mpsc::UnboundedReceiver<(i32, Durable, u64)>) {
    let (durable_points, points) = tokio::sync::mpsc::unbounded_channel();
    let options = KafkaSourceOptions {
        partitions: 2,
        start: Arc::default(),
        max_in_flight,
        idle_exit,
        idle_vote: Arc::new(super::IdleVote::new(workers)),
        open,
        runtime: runtime.handle().clone(),
        durable_points,
        counters: Arc::new(ProcessCounters::default()),
        latencies: Default::default(),
        lost_records: LostRecords { skip: true, fatal: Arc::new(|message| panic!("{message}")) },
        epochs: Epochs::new(10),
    };
    (options, points)
}

/// What a test sees of a source that reads `fake` into a sink whose writes wait for `gate`.
struct Run {
    counters: Arc<ProcessCounters>,
    points: tokio::sync::mpsc::UnboundedReceiver<(i32, Durable, u64)>,
    gate: Arc<tokio::sync::Semaphore>,
}

/// Runs the source with `max_in_flight` into a gated sink; `check` drives the worker.
fn run(fake: Arc<FakeReader>, max_in_flight: usize, check: impl FnOnce(&mut dyn FnMut(Duration), &mut Run) + Send + Sync + 'static) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (options, points) = options_of(&runtime, Arc::new(move |_, _| Ok(fake.clone() as Arc<dyn PartitionReader>)), max_in_flight, None, 1);
    let counters = options.counters.clone();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let state = Mutex::new(Run { counters, points, gate: gate.clone() });
    let check = Mutex::new(Some(check));
    timely::execute_directly(move |worker| {
        let durable = ProbeHandle::new();
        let sink_options = AsyncSinkOptions { runtime: options.runtime.clone(), rounds: 1, every: Duration::ZERO };
        let (gate, options, probe) = (gate.clone(), options.clone(), durable.clone());
        let dataflow = worker.next_dataflow_index();
        worker.dataflow::<u64, _, _>(move |scope| {
            kafka_source(scope, options, probe.clone(), 1)
                .async_sink("Gated", sink_options, move |_epoch, updates: Vec<(Incoming, isize)>| {
                    let gate = gate.clone();
                    async move { gate.acquire_many(updates.len() as u32).await.expect("the gate stays").forget() }
                })
                .probe_with(&probe);
        });
        let mut step = |for_how_long: Duration| {
            let until = Instant::now() + for_how_long;
            while Instant::now() < until {
                worker.step_or_park(Some(Duration::from_millis(5)));
            }
        };
        let check = check.lock().unwrap().take().unwrap();
        check(&mut step, &mut state.lock().unwrap());
        // The source reads forever (no idle exit): end the dataflow here.
        worker.drop_dataflow(dataflow);
    });
}

/// Waits (stepping the worker) until `done` holds, for at most 10 s.
fn step_until(step: &mut dyn FnMut(Duration), mut done: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        step(Duration::from_millis(20));
    }
}

#[test]
fn a_point_is_reported_only_once_every_sink_made_its_epoch_durable() {
    run(FakeReader::with(150), 10_000, |step, run| {
        step_until(step, || run.counters.records_in.load(Ordering::Relaxed) == 300, "the source reads all 300 records");
        // Epochs close every 10 ms; none of them is durable while the sink's writes wait.
        step(Duration::from_millis(200));
        assert!(run.points.try_recv().is_err(), "no point is reported while the sink has not acknowledged its epoch");
        assert_eq!(run.counters.durable_epoch.load(Ordering::Relaxed), 0);

        run.gate.add_permits(300);
        let mut last: HashMap<i32, Durable> = HashMap::new();
        step_until(
            step,
            || {
                while let Ok((partition, point, _epoch)) = run.points.try_recv() {
                    last.insert(partition, point);
                }
                last.len() == 2 && last.values().all(|p| p.next_offset == 150)
            },
            "both partitions are reported durable at offset 150 once the sink acknowledged",
        );
        assert_eq!(last[&0], Durable { next_offset: 150, records: 150 });
        assert!(run.counters.durable_epoch.load(Ordering::Relaxed) > 0);
    });
}

#[test]
fn the_source_reads_no_more_than_max_in_flight_ahead_of_the_probe() {
    run(FakeReader::with(500), 100, |step, run| {
        step_until(step, || run.counters.records_in.load(Ordering::Relaxed) >= 100, "the source reads its window");
        step(Duration::from_millis(200));
        assert_eq!(run.counters.records_in.load(Ordering::Relaxed), 100, "it stops at max_in_flight while nothing is durable");

        run.gate.add_permits(1_000);
        step_until(step, || run.counters.records_in.load(Ordering::Relaxed) == 1_000, "it reads on as epochs become durable");
    });
}

/// One partition whose `count` records reach Kafka one every `every` from `from` on: only
/// those already there are read, and the high watermark is where they end.
struct ArrivingReader {
    partition: i32,
    from: Instant,
    every: Duration,
    count: i64,
    read: Mutex<i64>,
}

impl ArrivingReader {
    fn arrived(&self) -> i64 {
        let Some(since) = Instant::now().checked_duration_since(self.from) else { return 0 };
        (since.as_micros() / self.every.as_micros().max(1) + 1).min(self.count as u128) as i64
    }
}

impl PartitionReader for ArrivingReader {
    fn poll(&self) -> Option<Result<Incoming, ReadError>> {
        let mut read = self.read.lock().unwrap();
        if *read >= self.arrived() {
            return None;
        }
        *read += 1;
        Some(Ok(Incoming { key: None, payload: Some(b"{}".to_vec()), partition: self.partition, offset: *read - 1, produced_ms: None, lsn: None, number: 0 }))
    }
    fn positions(&self) -> Option<HashMap<i32, i64>> {
        Some(HashMap::from([(self.partition, *self.read.lock().unwrap())]))
    }
    fn watermarks(&self, _partition: i32, _timeout: Duration) -> Option<(i64, i64)> {
        Some((0, self.arrived()))
    }
    fn assigned(&self) -> Option<Vec<i32>> {
        Some(vec![self.partition])
    }
}

#[test]
fn a_worker_whose_partitions_are_empty_waits_for_the_others_before_it_finishes() {
    // Worker 1's partition gets a record every 10 ms for a second; worker 0's stays empty for
    // 600 ms, three times the idle time, and then gets 20. Deciding alone, worker 0 would have
    // finished before they came.
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let open: super::OpenReader = Arc::new(move |partitions, _| {
        let partition = partitions[0];
        let (from, every, count) = match partition {
            0 => (started + Duration::from_millis(600), Duration::from_millis(1), 20),
            _ => (started, Duration::from_millis(10), 100),
        };
        Ok(Arc::new(ArrivingReader { partition, from, every, count, read: Mutex::new(0) }) as Arc<dyn PartitionReader>)
    });
    let (options, _points) = options_of(&runtime, open, 10_000, Some(Duration::from_millis(200)), 2);
    let counters = options.counters.clone();
    timely::execute(timely::Config::process(2), move |worker| {
        let durable = ProbeHandle::new();
        let sink_options = AsyncSinkOptions { runtime: options.runtime.clone(), rounds: 1, every: Duration::ZERO };
        let (options, probe) = (options.clone(), durable.clone());
        worker.dataflow::<u64, _, _>(move |scope| {
            kafka_source(scope, options, probe.clone(), 1)
                .async_sink("Acknowledging", sink_options, |_epoch, _updates: Vec<(Incoming, isize)>| async {})
                .probe_with(&probe);
        });
        // Every source finishes (idle exit), and with them the dataflow.
        while worker.step_or_park(Some(Duration::from_millis(5))) {
            assert!(started.elapsed() < Duration::from_secs(20), "the sources never finished");
        }
    })
    .unwrap();
    assert_eq!(counters.records_in.load(Ordering::Relaxed), 120, "worker 0 read the records that came after the idle time");
}

/// Partition 0 resumes at offset 10, but retention has deleted everything before 25: the
/// reader says the offset is out of range, and Kafka's earliest offset is 25.
struct RetainedReader {
    from: i64,
    error_given: Mutex<bool>,
    read: Mutex<i64>,
}

impl PartitionReader for RetainedReader {
    fn poll(&self) -> Option<Result<Incoming, ReadError>> {
        let mut read = self.read.lock().unwrap();
        if self.from < 25 {
            let mut given = self.error_given.lock().unwrap();
            // librdkafka says it once, then fetches no more of the partition.
            return (!*given).then(|| {
                *given = true;
                Err(ReadError::OffsetOutOfRange)
            });
        }
        (*read < 30).then(|| {
            *read = (*read).max(self.from) + 1;
            Ok(Incoming { key: None, payload: Some(b"{}".to_vec()), partition: 0, offset: *read - 1, produced_ms: None, lsn: None, number: 0 })
        })
    }
    fn positions(&self) -> Option<HashMap<i32, i64>> {
        Some(HashMap::from([(0, (*self.read.lock().unwrap()).max(self.from))]))
    }
    fn watermarks(&self, _partition: i32, _timeout: Duration) -> Option<(i64, i64)> {
        Some((25, 30))
    }
    fn assigned(&self) -> Option<Vec<i32>> {
        Some(vec![0])
    }
}

/// Runs a source over [`RetainedReader`] with `lost_records` until `done` or 10 s.
fn run_retained(lost_records: LostRecords, done: impl Fn(&ProcessCounters) -> bool + Send + Sync + 'static) -> Arc<ProcessCounters> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let open: super::OpenReader = Arc::new(|_, next_offsets| {
        let from = next_offsets.get(&0).copied().unwrap_or(0);
        Ok(Arc::new(RetainedReader { from, error_given: Mutex::new(false), read: Mutex::new(from) }) as Arc<dyn PartitionReader>)
    });
    let (mut options, _points) = options_of(&runtime, open, 1_000, None, 1);
    options.partitions = 1;
    options.start = Arc::new(HashMap::from([(0, Durable { next_offset: 10, records: 10 })]));
    options.lost_records = lost_records;
    let counters = options.counters.clone();
    timely::execute_directly(move |worker| {
        let durable = ProbeHandle::new();
        let sink_options = AsyncSinkOptions { runtime: options.runtime.clone(), rounds: 1, every: Duration::ZERO };
        let (options, probe) = (options.clone(), durable.clone());
        let counters = options.counters.clone();
        let dataflow = worker.next_dataflow_index();
        worker.dataflow::<u64, _, _>(move |scope| {
            kafka_source(scope, options, probe.clone(), 1)
                .async_sink("Acknowledging", sink_options, |_epoch, _updates: Vec<(Incoming, isize)>| async {})
                .probe_with(&probe);
        });
        let until = Instant::now() + Duration::from_secs(10);
        while !done(&counters) && Instant::now() < until {
            worker.step_or_park(Some(Duration::from_millis(5)));
        }
        worker.drop_dataflow(dataflow);
    });
    counters
}

#[test]
fn records_retention_deleted_before_they_were_durable_stop_the_source_with_where_and_how_to_resume() {
    let said = Arc::new(Mutex::new(None::<String>));
    let heard = said.clone();
    let fatal = Arc::new(move |message: String| *heard.lock().unwrap() = Some(message));
    let waiting = said.clone();
    let counters = run_retained(LostRecords { skip: false, fatal }, move |_| waiting.lock().unwrap().is_some());
    let message = said.lock().unwrap().clone().expect("the source stops on lost records");
    assert!(message.contains("partition 0: durable up to offset 10, the earliest Kafka holds is 25 (15 records lost)"), "{message}");
    assert!(message.contains("--accept-lost-records"), "it says how to go on: {message}");
    assert_eq!(counters.records_in.load(Ordering::Relaxed), 0, "nothing past the gap is read");
}

#[test]
fn with_the_loss_accepted_the_source_goes_on_from_the_earliest_offset_and_counts_what_it_skipped() {
    let counters = run_retained(LostRecords { skip: true, fatal: Arc::new(|message| panic!("{message}")) }, |c| c.records_in.load(Ordering::Relaxed) == 5);
    assert_eq!(counters.records_skipped.load(Ordering::Relaxed), 15);
    assert_eq!(counters.records_in.load(Ordering::Relaxed), 5, "offsets 25..30 are read");
}
