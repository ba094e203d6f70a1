//! The status in Prometheus text format. docs/metrics.md lists every metric.

use super::{Status, Telemetry};
use crate::metrics::prometheus::{PrometheusText, escape};

/// End-to-end latency bucket bounds, milliseconds.
const LATENCY_BOUNDS_MS: [u64; 14] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000];
/// Cassandra write bucket bounds, microseconds.
const WRITE_BOUNDS_US: [u64; 12] = [250, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000, 5_000_000];

/// Renders every metric of `status` (histograms from `telemetry`).
pub fn prometheus_text(status: &Status, telemetry: &Telemetry) -> String {
    let mut out = PrometheusText::default();
    let cluster = &status.cluster;
    let pipeline = &status.pipeline;
    let per_process = |value: &dyn Fn(&super::ProcessStatus) -> f64| -> Vec<(String, f64)> {
        cluster.processes.iter().map(|p| (format!("process=\"{}\"", p.index), value(p))).collect()
    };
    let per_partition = |value: &dyn Fn(&super::PartitionStatus) -> f64| -> Vec<(String, f64)> {
        pipeline.partitions.iter().map(|p| (format!("partition=\"{}\"", p.partition), value(p))).collect()
    };
    let one = |value: f64| vec![(String::new(), value)];

    out.metric("rtds_process_up", "gauge", "1 while the worker process runs", per_process(&|p| p.up as u8 as f64));
    out.metric("rtds_restarts_total", "counter", "Cluster restarts after a worker process died", one(cluster.restarts as f64));
    out.metric("rtds_records_read_total", "counter", "Source stage: records read from Kafka (replays included)", per_process(&|p| p.report.records_in as f64));
    out.metric("rtds_records_rejected_total", "counter", "Check stage: records that failed parsing or checks, sent to the dead-letter topic", per_process(&|p| p.report.rejected as f64));
    out.metric("rtds_records_skipped_total", "counter", "Source: records Kafka's retention deleted before they were durable, skipped on purpose (--accept-lost-records)", per_process(&|p| p.report.skipped as f64));
    out.metric("rtds_rows_refused_total", "counter", "Rows sink: rows Cassandra refused alone, sent to the dead-letter topic with its message (also in rejected)", per_process(&|p| p.report.refused as f64));
    out.metric("rtds_rows_written_total", "counter", "Rows sink: rows acknowledged by Cassandra", per_process(&|p| p.report.rows_written as f64));
    out.metric("rtds_rows_deleted_total", "counter", "Rows sink: rows deleted (CDC tombstones)", per_process(&|p| p.report.rows_deleted as f64));
    out.metric("rtds_view_writes_total", "counter", "View sinks: view rows written or deleted in Cassandra", per_process(&|p| p.report.aggregate_writes as f64));
    out.metric("rtds_expectation_rows_total", "counter", "Expectations: upserts evaluated against the dataflow's expectations", per_process(&|p| p.report.expectation_rows as f64));
    // Counts per process and per name (an expectation, a kind of warning).
    let per_process_named = |label: &str, counts: &dyn Fn(&super::ProcessStatus) -> &std::collections::BTreeMap<String, u64>| -> Vec<(String, f64)> {
        cluster
            .processes
            .iter()
            .flat_map(|p| counts(p).iter().map(move |(name, n)| (format!("process=\"{}\",{label}=\"{}\"", p.index, escape(name)), *n as f64)))
            .collect()
    };
    let failures = per_process_named("expectation", &|p| &p.report.expectation_failures);
    out.metric("rtds_expectation_failures_total", "counter", "Expectations: rows that failed one (dropped to the dead-letter topic, or counted only when NOT ENFORCED)", failures);
    let late = per_process_named("view", &|p| &p.report.late_records);
    out.metric("rtds_late_records_total", "counter", "Windows: records late for a view's window (behind the watermark by more than its allowed lateness), sent to the dead-letter topic", late);
    let schemas = per_process_named("schema_id", &|p| &p.report.schema_records);
    out.metric("rtds_records_by_schema_total", "counter", "Avro records read per registry schema id (their writer schema)", schemas);
    out.metric("rtds_cassandra_write_errors_total", "counter", "Cassandra write attempts that failed and were retried", per_process(&|p| p.report.cassandra_write_errors as f64));
    let warnings = per_process_named("kind", &|p| &p.report.cassandra_warnings);
    out.metric("rtds_cassandra_warnings_total", "counter", "Warnings Cassandra returned with writes, per kind (e.g. unlogged_batch_across_partitions)", warnings);
    out.metric("rtds_epoch", "gauge", "Epoch the worker process's sources stamp new records with", per_process(&|p| p.report.epoch as f64));
    out.metric("rtds_durable_epoch", "gauge", "Newest epoch the worker process made durable in every sink", per_process(&|p| p.report.durable_epoch as f64));
    out.metric("rtds_epochs_in_flight", "gauge", "Epochs read but not yet durable", per_process(&|p| p.report.epoch.saturating_sub(p.report.durable_epoch) as f64));
    out.metric("rtds_process_resident_memory_bytes", "gauge", "Worker process resident memory", per_process(&|p| p.report.rss_bytes as f64));
    out.metric("rtds_process_cpu_seconds_total", "counter", "Worker process CPU time, user + system", per_process(&|p| p.report.cpu_seconds));
    out.metric("rtds_kafka_high_watermark", "gauge", "Kafka's high watermark of the partition", per_partition(&|p| p.high_watermark as f64));
    out.metric("rtds_durable_offset", "gauge", "Next offset to read after the last durable epoch", per_partition(&|p| p.durable_offset as f64));
    out.metric("rtds_kafka_lag_records", "gauge", "Records of the partition not yet durable in Cassandra", per_partition(&|p| p.lag as f64));
    out.metric("rtds_durable_records", "gauge", "Records durable in Cassandra, all partitions", one(pipeline.durable_records as f64));
    out.metric("rtds_records_per_second", "gauge", "Durable records per second over the last second", one(pipeline.records_per_second));
    out.metric("rtds_dead_letters", "gauge", "Records in the dead-letter topic", one(status.dead_letters.total as f64));
    let nodes = pipeline.nodes.iter().map(|n| (format!("service=\"{}\",address=\"{}\"", n.service, escape(&n.address)), n.up as u8 as f64)).collect();
    out.metric("rtds_node_up", "gauge", "1 while a Kafka broker is in the cluster's metadata, or the driver is connected to a Cassandra node", nodes);
    if let Some(slot) = status.cdc.as_ref().filter(|s| s.exists) {
        let label = format!("slot=\"{}\"", escape(&slot.slot));
        out.metric("rtds_replication_slot_lag_bytes", "gauge", "WAL the CDC stage's replication slot holds back", vec![(label.clone(), slot.lag_bytes as f64)]);
        out.metric("rtds_replication_slot_active", "gauge", "1 while a connection reads the slot", vec![(label, slot.active as u8 as f64)]);
    }
    if let Some(stage) = &status.cdc_stage {
        let r = &stage.report;
        let changes = vec![("op=\"upsert\"".to_string(), r.upserts as f64), ("op=\"delete\"".to_string(), r.deletes as f64)];
        out.metric("rtds_cdc_changes_total", "counter", "Changes the CDC stage produced to Kafka (since its process started)", changes);
        out.metric("rtds_cdc_snapshot_rows_total", "counter", "Rows of the initial snapshot the CDC stage produced", one(r.snapshot_rows as f64));
        out.metric("rtds_cdc_dead_letters_total", "counter", "Changes the CDC stage could not encode", one(r.dead_letters as f64));
        out.metric("rtds_cdc_committed_lsn", "gauge", "End LSN of the last PostgreSQL commit in Kafka", one(r.committed_lsn as f64));
        out.metric("rtds_cdc_changes_per_second", "gauge", "Changes the CDC stage produced per second, over the last second", one(stage.changes_per_second));
        out.metric("rtds_cdc_pending_changes", "gauge", "Changes the CDC stage received from the slot, not yet in Kafka", one(r.pending_changes as f64));
        out.metric("rtds_cdc_lag_seconds", "gauge", "Since the oldest change not yet in Kafka was committed in PostgreSQL", one(r.lag_ms as f64 / 1000.0));
        out.metric("rtds_cdc_schema_id", "gauge", "Registry id of the value schema the CDC stage writes (0: JSON)", one(r.schema_id as f64));
        out.metric("rtds_cdc_schema_version", "gauge", "Version of that schema under its subject", one(r.schema_version as f64));
        out.metric("rtds_cdc_stage_up", "gauge", "1 while the CDC stage runs", one(stage.running as u8 as f64));
        out.metric("rtds_cdc_stage_restarts_total", "counter", "Times the CDC stage exited and was started again", one(stage.restarts as f64));
    }
    // Every numeric column of every view, by key (the key columns' values joined by "/").
    let mut views = Vec::new();
    for (name, view) in &status.views {
        let key_at: Vec<usize> = view.key.iter().filter_map(|k| view.columns.iter().position(|c| c == k)).collect();
        for row in &view.rows {
            let key = key_at.iter().map(|i| row[*i].as_str().map_or_else(|| row[*i].to_string(), str::to_string)).collect::<Vec<_>>().join("/");
            for (i, column) in view.columns.iter().enumerate().filter(|(i, _)| !key_at.contains(i)) {
                if let Some(value) = row[i].as_f64() {
                    views.push((format!("view=\"{name}\",column=\"{column}\",key=\"{}\"", escape(&key)), value));
                }
            }
        }
    }
    out.metric("rtds_view_value", "gauge", "Current value of a numeric column of a view's row (the first 500 rows of each view)", views);

    let (counts, count, sum_ms) = telemetry.buckets(true, &LATENCY_BOUNDS_MS);
    out.histogram(
        "rtds_end_to_end_latency_seconds",
        "Produce to acknowledged row in Cassandra",
        LATENCY_BOUNDS_MS.iter().map(|ms| *ms as f64 / 1e3).zip(counts),
        count,
        sum_ms / 1e3,
    );
    let (counts, count, sum_us) = telemetry.buckets(false, &WRITE_BOUNDS_US);
    out.histogram(
        "rtds_cassandra_write_seconds",
        "Cassandra write requests (a batch of rows or an aggregate value), retries included",
        WRITE_BOUNDS_US.iter().map(|us| *us as f64 / 1e6).zip(counts),
        count,
        sum_us / 1e6,
    );
    out.finish()
}
