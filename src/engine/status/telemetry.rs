//! What the master keeps of its workers' reports: latency histograms merged over every
//! process, counters of cluster generations that ended, and one history sample a second.

use std::collections::VecDeque;
use std::sync::Mutex;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::engine::cluster::WorkerReport;
use super::ProcessStatus;

/// Samples kept: ten minutes at one a second.
pub const HISTORY_SAMPLES: usize = 600;

/// One second of the pipeline, for the page's charts.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub t_ms: i64,
    pub records_per_second: f64,
    pub lag: i64,
    /// None when no row was written in the second.
    pub latency_ms_p50: Option<u64>,
    pub latency_ms_p99: Option<u64>,
    pub rejected_per_second: f64,
}

/// Counters summed over every process the master ran, restarts included.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub records_in: u64,
    pub rows_written: u64,
    pub rows_deleted: u64,
    pub rejected: u64,
    /// Of `rejected`: rows Cassandra refused.
    pub refused: u64,
    /// Records retention deleted before they were durable, skipped (`--accept-lost-records`).
    pub skipped: u64,
    pub aggregate_writes: u64,
    pub cassandra_write_errors: u64,
    /// Warnings Cassandra returned with writes, every kind.
    pub cassandra_warnings: u64,
    /// Upserts evaluated against the dataflow's expectations.
    pub expectation_rows: u64,
    /// Per expectation, by name: rows that failed it.
    pub expectations: std::collections::BTreeMap<String, u64>,
    /// Per window view, by name: records late for its window (dead letters).
    pub late: std::collections::BTreeMap<String, u64>,
    /// Per Avro writer schema, by registry id: records read.
    pub schemas: std::collections::BTreeMap<String, u64>,
}

impl Totals {
    fn add(&mut self, r: &WorkerReport) {
        self.records_in += r.records_in;
        self.rows_written += r.rows_written;
        self.rows_deleted += r.rows_deleted;
        self.rejected += r.rejected;
        self.refused += r.refused;
        self.skipped += r.skipped;
        self.aggregate_writes += r.aggregate_writes;
        self.cassandra_write_errors += r.cassandra_write_errors;
        self.cassandra_warnings += r.cassandra_warnings.values().sum::<u64>();
        self.expectation_rows += r.expectation_rows;
        for (name, failed) in &r.expectation_failures {
            *self.expectations.entry(name.clone()).or_default() += failed;
        }
        for (view, late) in &r.late_records {
            *self.late.entry(view.clone()).or_default() += late;
        }
        for (id, records) in &r.schema_records {
            *self.schemas.entry(id.clone()).or_default() += records;
        }
    }
}

/// Quantiles of a latency histogram.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl LatencySummary {
    fn of(histogram: &Histogram<u64>) -> LatencySummary {
        LatencySummary {
            count: histogram.len(),
            p50: histogram.value_at_quantile(0.5),
            p99: histogram.value_at_quantile(0.99),
            p999: histogram.value_at_quantile(0.999),
            max: histogram.max(),
        }
    }
}

/// The merged view of every report.
pub struct Telemetry {
    inner: Mutex<Inner>,
}

struct Inner {
    /// Produce to acknowledged row, milliseconds, since the master started.
    latency_ms: Histogram<u64>,
    /// The same since the last history sample.
    recent_latency_ms: Histogram<u64>,
    /// Cassandra write requests, microseconds, since the master started.
    write_latency_us: Histogram<u64>,
    /// Counters of processes of earlier generations.
    carried: Totals,
    history: VecDeque<Sample>,
    last_rejected: Option<u64>,
}

impl Default for Telemetry {
    fn default() -> Self {
        let ms = || Histogram::new_with_bounds(1, 3_600_000, 3).expect("valid bounds");
        Telemetry {
            inner: Mutex::new(Inner {
                latency_ms: ms(),
                recent_latency_ms: ms(),
                write_latency_us: Histogram::new_with_bounds(1, 600_000_000, 2).expect("valid bounds"),
                carried: Totals::default(),
                history: VecDeque::with_capacity(HISTORY_SAMPLES),
                last_rejected: None,
            }),
        }
    }
}

impl Telemetry {
    /// Merges a report's latency samples and removes them from it (the report is kept as the
    /// process's status without them).
    pub fn record(&self, report: &mut WorkerReport) {
        let mut inner = self.inner.lock().expect("telemetry");
        for (value, count) in std::mem::take(&mut report.latency_ms) {
            let _ = inner.latency_ms.record_n(value, count);
            let _ = inner.recent_latency_ms.record_n(value, count);
        }
        for (value, count) in std::mem::take(&mut report.write_latency_us) {
            let _ = inner.write_latency_us.record_n(value, count);
        }
    }

    /// Keeps the counters of a generation's processes before they restart from zero.
    pub fn carry_over(&self, processes: &[ProcessStatus]) {
        let mut inner = self.inner.lock().expect("telemetry");
        for process in processes {
            inner.carried.add(&process.report);
        }
    }

    /// Counters over every generation: the carried ones plus the running processes'.
    pub fn totals(&self, processes: &[ProcessStatus]) -> Totals {
        let mut totals = self.inner.lock().expect("telemetry").carried.clone();
        for process in processes {
            totals.add(&process.report);
        }
        totals
    }

    /// End-to-end latency since the master started.
    pub fn latency(&self) -> LatencySummary {
        LatencySummary::of(&self.inner.lock().expect("telemetry").latency_ms)
    }

    /// Adds a history sample and starts the next second's latency.
    pub fn sample(&self, t_ms: i64, records_per_second: f64, lag: i64, rejected_total: u64) {
        let mut inner = self.inner.lock().expect("telemetry");
        let recent = (!inner.recent_latency_ms.is_empty()).then(|| LatencySummary::of(&inner.recent_latency_ms));
        inner.recent_latency_ms.reset();
        let rejected_per_second = inner.last_rejected.map_or(0.0, |last| rejected_total.saturating_sub(last) as f64);
        inner.last_rejected = Some(rejected_total);
        if inner.history.len() == HISTORY_SAMPLES {
            inner.history.pop_front();
        }
        inner.history.push_back(Sample {
            t_ms,
            records_per_second,
            lag,
            latency_ms_p50: recent.map(|r| r.p50),
            latency_ms_p99: recent.map(|r| r.p99),
            rejected_per_second,
        });
    }

    /// The history, oldest first.
    pub fn history(&self) -> Vec<Sample> {
        self.inner.lock().expect("telemetry").history.iter().cloned().collect()
    }

    /// Cumulative counts at each bound (in the histogram's unit), then the total count and
    /// the sum: what a Prometheus histogram needs. `end_to_end` picks the row latency (ms),
    /// otherwise the Cassandra write latency (µs).
    pub fn buckets(&self, end_to_end: bool, bounds: &[u64]) -> (Vec<u64>, u64, f64) {
        let inner = self.inner.lock().expect("telemetry");
        let histogram = if end_to_end { &inner.latency_ms } else { &inner.write_latency_us };
        let cumulative = bounds.iter().map(|bound| histogram.count_between(0, *bound)).collect();
        let sum = histogram.iter_recorded().map(|v| v.value_iterated_to() as f64 * v.count_at_value() as f64).sum();
        (cumulative, histogram.len(), sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_survive_a_restart_and_latency_merges() {
        let telemetry = Telemetry::default();
        let mut report = WorkerReport { records_in: 10, rejected: 1, latency_ms: vec![(5, 3), (40, 1)], ..Default::default() };
        telemetry.record(&mut report);
        assert!(report.latency_ms.is_empty());
        let running = [ProcessStatus { report: report.clone(), ..Default::default() }];
        telemetry.carry_over(&running);
        let after = [ProcessStatus { report: WorkerReport { records_in: 4, ..Default::default() }, ..Default::default() }];
        assert_eq!(telemetry.totals(&after).records_in, 14);
        assert_eq!(telemetry.latency().count, 4);
        assert_eq!(telemetry.latency().p50, 5);
        let (cumulative, count, _) = telemetry.buckets(true, &[10, 50]);
        assert_eq!((cumulative, count), (vec![3, 4], 4));
        telemetry.sample(0, 1.0, 0, 1);
        telemetry.sample(1000, 1.0, 0, 3);
        let history = telemetry.history();
        assert_eq!(history[0].latency_ms_p99, Some(40));
        assert_eq!(history[1].latency_ms_p99, None);
        assert_eq!(history[1].rejected_per_second, 2.0);
    }
}
