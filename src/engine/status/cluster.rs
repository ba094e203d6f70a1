//! The cluster as the status shows it: its worker processes and the master's state. The
//! master writes it; the status server reads it.

use serde::Serialize;

use crate::engine::cluster::WorkerReport;

/// One worker process as the status shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProcessStatus {
    pub index: usize,
    pub up: bool,
    /// Its timely address.
    pub address: String,
    /// Seconds since its last report.
    pub report_age_seconds: Option<f64>,
    /// Its last report, without the latency samples; its `pid` is the launcher's until the
    /// first report of the generation, and absent where nobody knows it yet (a remote process).
    #[serde(flatten)]
    pub report: WorkerReport,
}

/// The cluster's state, shared with the status server.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterStatus {
    pub processes: Vec<ProcessStatus>,
    pub workers_per_process: usize,
    /// Cluster (re)starts after the first.
    pub restarts: u32,
    /// Seconds since the current cluster generation started.
    pub generation_uptime_seconds: f64,
    /// "waiting" (for workers to register), "running", "restarting" or "finished".
    pub state: String,
    /// Remote workers registered and not yet assigned (remote mode).
    pub registered: usize,
}
