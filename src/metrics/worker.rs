//! What a worker process of the cluster counts and times: its operators add to these, the
//! process reports them to its master every second and sums them up when it ends.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use hdrhistogram::Histogram;

/// Counters of one worker process, shared by its workers' operators.
#[derive(Debug, Default)]
pub struct ProcessCounters {
    /// Source: records read from Kafka (replays after a restart included).
    pub records_in: AtomicU64,
    /// Rows sink: rows acknowledged by Cassandra.
    pub rows_written: AtomicU64,
    /// Rows sink: rows deleted (tombstones of the CDC stream).
    pub rows_deleted: AtomicU64,
    /// Aggregate values written.
    pub aggregate_writes: AtomicU64,
    /// Records that failed parsing or checks, and rows Cassandra refused: sent to the DLQ.
    pub rejected: AtomicU64,
    /// Of `rejected`: rows Cassandra refused alone.
    pub refused: AtomicU64,
    /// Records Kafka's retention deleted before they were durable, skipped on purpose
    /// (`--accept-lost-records`).
    pub records_skipped: AtomicU64,
    /// The newest epoch every sink has made durable.
    pub durable_epoch: AtomicU64,
    /// The epoch sources stamp new records with.
    pub epoch: AtomicU64,
    /// Stored rows read back as dedupe state at start.
    pub state_rows_loaded: AtomicU64,
    /// Workers that resumed from their checkpoint at start, without reading rows back.
    pub checkpoints_resumed: AtomicU64,
    /// Expectations: upserts evaluated against them.
    pub expectation_rows: AtomicU64,
    /// Per expectation, in the dataflow's order: rows that failed it.
    pub expectation_failures: Vec<AtomicU64>,
    /// Per view, in the dataflow's order: records late for its window (dead letters).
    pub late_records: Vec<AtomicU64>,
}

impl ProcessCounters {
    /// Counters for a dataflow with `expectations` expectations and `views` views.
    pub fn new(expectations: usize, views: usize) -> ProcessCounters {
        let counters = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect();
        ProcessCounters { expectation_failures: counters(expectations), late_records: counters(views), ..ProcessCounters::default() }
    }

    /// A record was late for view `index`'s window.
    pub fn count_late(&self, index: usize) {
        if let Some(counter) = self.late_records.get(index) {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// One row evaluated; `failed` are the expectations it failed.
    pub fn count_expectations(&self, failed: &[usize]) {
        use std::sync::atomic::Ordering::Relaxed;
        self.expectation_rows.fetch_add(1, Relaxed);
        for index in failed {
            if let Some(counter) = self.expectation_failures.get(*index) {
                counter.fetch_add(1, Relaxed);
            }
        }
    }
}

/// The latencies of one worker process: produce to acknowledged row and produce to the
/// source's read (milliseconds), and Cassandra write requests (microseconds), each since the
/// process started and since the last report. The read latency splits the end-to-end one into
/// its stages: what CDC and Kafka took, and what the dataflow and Cassandra took after.
pub struct Latencies {
    pub end_to_end: Mutex<Histogram<u64>>,
    pub end_to_end_interval: Mutex<Histogram<u64>>,
    pub read: Mutex<Histogram<u64>>,
    pub read_interval: Mutex<Histogram<u64>>,
    pub writes: Mutex<Histogram<u64>>,
    pub writes_interval: Mutex<Histogram<u64>>,
}

impl Default for Latencies {
    fn default() -> Latencies {
        let millis = || Mutex::new(Histogram::new_with_bounds(1, 3_600_000, 3).expect("valid bounds"));
        let micros = || Mutex::new(Histogram::new_with_bounds(1, 600_000_000, 2).expect("valid bounds"));
        Latencies {
            end_to_end: millis(),
            end_to_end_interval: millis(),
            read: millis(),
            read_interval: millis(),
            writes: micros(),
            writes_interval: micros(),
        }
    }
}

impl Latencies {
    /// Records end-to-end latencies, in milliseconds.
    pub fn record_end_to_end<'a>(&self, latencies: impl Iterator<Item = &'a u64> + Clone) {
        for histogram in [&self.end_to_end, &self.end_to_end_interval] {
            let mut histogram = histogram.lock().expect("latency histogram");
            for latency in latencies.clone() {
                histogram.saturating_record(*latency);
            }
        }
    }

    /// Records produce-to-read latencies, in milliseconds.
    pub fn record_read(&self, latencies: &[u64]) {
        for histogram in [&self.read, &self.read_interval] {
            let mut histogram = histogram.lock().expect("read latency histogram");
            for latency in latencies {
                histogram.saturating_record(*latency);
            }
        }
    }

    /// Times one write request (all its retries included).
    pub async fn timed<T>(&self, write: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let outcome = write.await;
        let micros = started.elapsed().as_micros() as u64;
        for histogram in [&self.writes, &self.writes_interval] {
            histogram.lock().expect("write latency histogram").saturating_record(micros);
        }
        outcome
    }
}

/// Takes a histogram's recorded values as (value, count) pairs and empties it.
pub fn drain_histogram(histogram: &mut Histogram<u64>) -> Vec<(u64, u64)> {
    let pairs = histogram.iter_recorded().map(|v| (histogram.highest_equivalent(v.value_iterated_to()), v.count_at_value())).collect();
    histogram.reset();
    pairs
}
