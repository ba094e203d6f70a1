//! The master's view of the pipeline, served over HTTP:
//!
//! - `/` — the live status page (one self-contained HTML file, refreshing every second);
//! - `/status` — everything the page shows, as JSON;
//! - `/metrics` — Prometheus text format (names in README.md).
//!
//! Progress comes from three places: the worker processes' reports (counters, latency), the
//! durable offsets in Cassandra against Kafka's high watermarks (lag), and the tables and
//! topics the pipeline writes (views, dead letters), polled once a second; and, given
//! `--postgres`, the CDC stage's replication slot; given `--cdc`, the CDC stage's reports;
//! given `--prometheus`, the alerts firing there.

mod alerts;
mod cluster;
mod poll;
mod prometheus;
mod slot;
mod stage;
mod telemetry;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde::Serialize;

pub use alerts::{Alert, AlertsStatus, poll_alerts, without_credentials};
pub use cluster::{ClusterStatus, ProcessStatus};
pub use poll::{DeadLetter, DeadLetters, PartitionStatus, PipelineStatus, VIEW_ROWS_SHOWN, ViewStatus, poll_pipeline};
pub use prometheus::prometheus_text;
pub use slot::{LAG_WARNING_BYTES, SlotStatus, poll_slot};
pub use stage::CdcStageStatus;
pub use telemetry::{LatencySummary, Sample, Telemetry, Totals};

/// Everything `/status` shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub cluster: ClusterStatus,
    pub pipeline: PipelineStatus,
    /// Each view's table, as the dataflow declares it.
    pub views: std::collections::BTreeMap<String, ViewStatus>,
    pub dead_letters: DeadLetters,
    /// Counters over every worker process, restarts included.
    pub totals: Totals,
    /// Produce to acknowledged row, since the master started.
    pub latency_ms: LatencySummary,
    /// One sample a second, oldest first.
    pub history: Vec<Sample>,
    /// The CDC stage's replication slot, when the master was given `--postgres`.
    pub cdc: Option<SlotStatus>,
    /// The CDC stage's process, when the master runs it (`--cdc`).
    pub cdc_stage: Option<CdcStageStatus>,
    /// The alerts firing in Prometheus, when the master was given `--prometheus`.
    pub alerts: Option<AlertsStatus>,
}

/// Shared state of the status server.
#[derive(Clone, Default)]
pub struct StatusState {
    pub cluster: Arc<Mutex<ClusterStatus>>,
    pub pipeline: Arc<Mutex<PipelineStatus>>,
    pub telemetry: Arc<Telemetry>,
    pub slot: Arc<Mutex<Option<SlotStatus>>>,
    pub cdc_stage: Arc<Mutex<Option<CdcStageStatus>>>,
    pub alerts: Arc<Mutex<Option<AlertsStatus>>>,
}

impl StatusState {
    /// The status as of now.
    pub fn snapshot(&self) -> Status {
        let cluster = self.cluster.lock().expect("status").clone();
        let pipeline = self.pipeline.lock().expect("status").clone();
        Status {
            totals: self.telemetry.totals(&cluster.processes),
            latency_ms: self.telemetry.latency(),
            history: self.telemetry.history(),
            views: pipeline.views.clone(),
            dead_letters: pipeline.dead_letters.clone(),
            cdc: self.slot.lock().expect("status").clone(),
            cdc_stage: self.cdc_stage.lock().expect("status").clone(),
            alerts: self.alerts.lock().expect("status").clone(),
            cluster,
            pipeline,
        }
    }
}

/// The status page: no build step, no resources from elsewhere.
const PAGE: &str = include_str!("page.html");

/// Serves `/`, `/status` and `/metrics` on a bound listener.
pub async fn serve(listener: tokio::net::TcpListener, state: StatusState) -> std::io::Result<()> {
    let app = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .with_state(state);
    eprintln!("rtds master: status page on http://{}/ (JSON on /status, Prometheus on /metrics)", listener.local_addr()?);
    axum::serve(listener, app).await
}

async fn status(State(state): State<StatusState>) -> impl IntoResponse {
    axum::Json(state.snapshot())
}

async fn metrics(State(state): State<StatusState>) -> impl IntoResponse {
    let text = prometheus_text(&state.snapshot(), &state.telemetry);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
