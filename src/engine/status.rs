//! The master's view of the pipeline: per-partition lag from the durable offsets in
//! Cassandra and Kafka's high watermarks, served as JSON (`/status`) and Prometheus text
//! (`/metrics`).

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde::Serialize;

use super::master::ClusterStatus;
use crate::connectors::cassandra::CassandraSink;

/// One partition's progress.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionStatus {
    pub partition: i32,
    /// Records of the partition durable in Cassandra (the next offset to read).
    pub durable_offset: i64,
    /// Kafka's high watermark: the offset the next produced record gets.
    pub high_watermark: i64,
    pub lag: i64,
    /// The epoch the durable offset belongs to.
    pub epoch: i64,
}

/// The pipeline's progress as the master last saw it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PipelineStatus {
    pub topic: String,
    pub keyspace: String,
    pub partitions: Vec<PartitionStatus>,
    pub durable_records: i64,
    pub total_lag: i64,
    /// Durable records per second over the last poll interval.
    pub records_per_second: f64,
    /// The oldest partition's durable epoch.
    pub durable_epoch: i64,
    /// Why the last poll failed, if it did.
    pub error: Option<String>,
}

/// Everything `/status` shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub cluster: ClusterStatus,
    pub pipeline: PipelineStatus,
}

/// Shared state of the status server.
#[derive(Clone)]
pub struct StatusState {
    pub cluster: Arc<Mutex<ClusterStatus>>,
    pub pipeline: Arc<Mutex<PipelineStatus>>,
}

/// Polls offsets and watermarks every second into `state.pipeline`.
pub async fn poll_pipeline(state: StatusState, sink: Arc<CassandraSink>, brokers: String, topic: String) {
    let consumer: BaseConsumer = match crate::connectors::kafka::client_config(&brokers).create() {
        Ok(consumer) => consumer,
        Err(e) => {
            state.pipeline.lock().expect("status").error = Some(e.to_string());
            return;
        }
    };
    let consumer = Arc::new(consumer);
    let mut last: Option<(Instant, i64)> = None;
    loop {
        let offsets = sink.offsets(&topic).await;
        let partitions = crate::connectors::kafka::partition_count(&brokers, &topic, Duration::from_secs(5));
        let mut next = PipelineStatus { topic: topic.clone(), keyspace: sink.keyspace().to_string(), ..Default::default() };
        match (offsets, partitions) {
            (Ok(offsets), Ok(Some(count))) => {
                let consumer = consumer.clone();
                let topic = topic.clone();
                let watermarks = tokio::task::spawn_blocking(move || {
                    (0..count as i32)
                        .map(|p| consumer.fetch_watermarks(&topic, p, Duration::from_secs(5)).map(|(_, high)| high).unwrap_or(-1))
                        .collect::<Vec<i64>>()
                })
                .await
                .unwrap_or_default();
                for (partition, high_watermark) in watermarks.into_iter().enumerate() {
                    let (durable_offset, epoch) = offsets
                        .iter()
                        .find(|(p, _, _)| *p == partition as i32)
                        .map_or((0, 0), |(_, offset, epoch)| (*offset, *epoch));
                    next.partitions.push(PartitionStatus {
                        partition: partition as i32,
                        durable_offset,
                        high_watermark,
                        lag: (high_watermark - durable_offset).max(0),
                        epoch,
                    });
                }
                next.durable_records = next.partitions.iter().map(|p| p.durable_offset).sum();
                next.total_lag = next.partitions.iter().map(|p| p.lag).sum();
                next.durable_epoch = next.partitions.iter().map(|p| p.epoch).min().unwrap_or(0);
                let now = Instant::now();
                if let Some((at, records)) = last {
                    next.records_per_second = (next.durable_records - records) as f64 / now.duration_since(at).as_secs_f64().max(1e-3);
                }
                last = Some((now, next.durable_records));
            }
            (Err(e), _) => next.error = Some(e.to_string()),
            (_, Err(e)) => next.error = Some(e.to_string()),
            (_, Ok(None)) => next.error = Some(format!("topic {topic} does not exist yet")),
        }
        *state.pipeline.lock().expect("status") = next;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Serves `/status` and `/metrics` on a bound listener.
pub async fn serve(listener: tokio::net::TcpListener, state: StatusState) -> std::io::Result<()> {
    let app = Router::new().route("/status", get(status)).route("/metrics", get(metrics)).with_state(state);
    eprintln!("rtds master: status on http://{}/status, metrics on /metrics", listener.local_addr()?);
    axum::serve(listener, app).await
}

fn snapshot(state: &StatusState) -> Status {
    Status {
        cluster: state.cluster.lock().expect("status").clone(),
        pipeline: state.pipeline.lock().expect("status").clone(),
    }
}

async fn status(State(state): State<StatusState>) -> impl IntoResponse {
    axum::Json(snapshot(&state))
}

async fn metrics(State(state): State<StatusState>) -> impl IntoResponse {
    let status = snapshot(&state);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], prometheus_text(&status))
}

/// The status in Prometheus text format.
pub fn prometheus_text(status: &Status) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let cluster = &status.cluster;
    let pipeline = &status.pipeline;
    let up: Vec<(String, f64)> =
        cluster.processes.iter().map(|p| (format!("{{process=\"{}\"}}", p.index), if p.up { 1.0 } else { 0.0 })).collect();
    metric("rtds_process_up", "gauge", "1 when the worker process runs", &up);
    metric("rtds_restarts_total", "counter", "Cluster restarts after a worker process died", &[(String::new(), cluster.restarts as f64)]);
    let lag: Vec<(String, f64)> = pipeline.partitions.iter().map(|p| (format!("{{partition=\"{}\"}}", p.partition), p.lag as f64)).collect();
    metric("rtds_kafka_lag_records", "gauge", "Records of the partition not yet durable in Cassandra", &lag);
    let durable: Vec<(String, f64)> =
        pipeline.partitions.iter().map(|p| (format!("{{partition=\"{}\"}}", p.partition), p.durable_offset as f64)).collect();
    metric("rtds_durable_offset", "gauge", "Next offset to read after the last durable epoch", &durable);
    metric("rtds_durable_records", "gauge", "Records durable in Cassandra, all partitions", &[(String::new(), pipeline.durable_records as f64)]);
    metric("rtds_durable_epoch", "gauge", "Oldest partition's durable epoch", &[(String::new(), pipeline.durable_epoch as f64)]);
    metric("rtds_records_per_second", "gauge", "Durable records per second", &[(String::new(), pipeline.records_per_second)]);
    out
}
