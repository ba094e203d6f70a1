//! The CDC stage as the master runs it (`rtds master --cdc`): whether it runs, how often it
//! was started again, and its latest report.

use serde::Serialize;

use crate::cdc::CdcReport;

/// The CDC stage's process, as its supervisor sees it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CdcStageStatus {
    /// Whether the `rtds cdc` process runs now.
    pub running: bool,
    /// Its pid, while it runs.
    pub pid: Option<u32>,
    /// Times it exited and was started again.
    pub restarts: u64,
    /// How it last exited.
    pub last_exit: Option<String>,
    /// Its latest report (counters since that process started).
    pub report: CdcReport,
    /// `report.committed_lsn` as PostgreSQL writes an LSN.
    pub committed_lsn: String,
    /// Changes produced per second, between its last two reports.
    pub changes_per_second: f64,
}

impl CdcStageStatus {
    /// Takes a new report, `seconds` after the previous one.
    pub fn update(&mut self, report: CdcReport, seconds: f64) {
        let before = if self.report.pid == report.pid { self.report.changes() } else { 0 };
        self.changes_per_second = report.changes().saturating_sub(before) as f64 / seconds.max(1e-3);
        self.committed_lsn = crate::connectors::postgres::replication::lsn_text(report.committed_lsn);
        self.report = report;
    }
}
