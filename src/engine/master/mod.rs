//! `rtds master`: the Spark-master counterpart. It starts the cluster's worker processes on
//! this machine (`--local`) or waits for workers of other machines to register
//! (`rtds worker --master HOST:PORT`), hands each its index and every process's address, watches them,
//! and when one dies stops the rest and restarts the whole cluster, which resumes from the
//! last durable epoch. Worker processes report their counters every second; the master keeps
//! them for its status page and metrics.
//!
//! The files: `supervise.rs` runs generation after generation of the cluster and decides
//! when one is dead or done; a [`Launcher`] starts and stops one generation's processes,
//! either on this machine (`local.rs`) or through the registered agents (`remote.rs`).
//! With `--cdc` the master also runs the CDC stage as a child it restarts (`cdc.rs`).

mod cdc;
mod local;
mod remote;
mod supervise;

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::cluster::WorkerReport;
use super::control::Assignment;
use super::status::ClusterStatus;

pub use cdc::{CdcStage, run_cdc_stage};
pub use supervise::{RestartBudget, is_permanent, supervise};

/// Where the worker processes run.
#[derive(Debug, Clone)]
pub enum Launch {
    /// Spawn them on this machine, on timely ports the kernel picks (or `base_port + i`).
    Local { program: PathBuf, base_port: Option<u16> },
    /// Wait for `rtds worker --master` agents to register on `listen`, each proving it knows
    /// `token`.
    Remote { listen: SocketAddr, token: super::control::ClusterToken },
}

/// How to run the cluster.
#[derive(Debug, Clone)]
pub struct MasterOptions {
    pub launch: Launch,
    pub processes: usize,
    pub workers: usize,
    /// Pipeline flags handed to every worker.
    pub pipeline_args: Vec<String>,
    /// Give up after this many restarts within `restart_window`.
    pub max_restarts: u32,
    pub restart_window: Duration,
}

/// Why the master stopped.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error("cannot start worker process {index} ({program}): {source}")]
    Spawn { index: usize, program: String, source: std::io::Error },
    #[error("cannot listen for workers on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("worker processes kept failing: gave up after {restarts} restarts within {window}; see the worker errors above (raise --max-restarts or --restart-window to keep trying)", window = humantime::format_duration(*.window))]
    TooManyRestarts { restarts: u32, window: Duration },
    #[error("worker process {index} stopped on a condition a restart cannot mend ({status}); its error is above")]
    Permanent { index: usize, status: String },
}

/// Who an event is about: a local process by index, or a remote agent by id.
#[derive(Debug, Clone, Copy)]
enum Origin {
    Local(usize),
    Agent(u64),
}

/// What the master hears from its worker processes.
enum Event {
    Report { from: Origin, generation: u64, report: WorkerReport },
    Exited { from: Origin, generation: u64, success: bool, status: String },
    /// A remote agent connected and registered.
    Joined { agent: u64, address: String, stream: std::sync::Arc<std::sync::Mutex<TcpStream>> },
    /// A remote agent's connection ended.
    Left { agent: u64 },
    /// A remote agent said something (it is alive).
    Heard { agent: u64 },
}

/// Starts and stops the worker processes of one cluster generation after another.
trait Launcher {
    /// Waits until the cluster's processes can start; returns their timely addresses.
    fn ready(&mut self, processes: usize, events: &Receiver<Event>, status: &Arc<Mutex<ClusterStatus>>) -> Result<Vec<String>, MasterError>;

    /// Starts process i of the generation with `assignments[i]`.
    fn start(&mut self, assignments: Vec<Assignment>, events: &Sender<Event>) -> Result<(), MasterError>;

    /// The process index an event's origin runs in the current generation.
    fn index_of(&self, from: Origin) -> Option<usize>;

    /// Process `index`'s pid, where the master knows it.
    fn pid(&self, _index: usize) -> Option<u32> {
        None
    }

    /// Processes that ended since the last call and that no event reports: (index, success,
    /// status).
    fn poll_exits(&mut self) -> Vec<(usize, bool, String)> {
        Vec::new()
    }

    /// Handles an event about membership (an agent joining, leaving or speaking); returns
    /// the index of a running process that is gone with it.
    fn membership(&mut self, _event: Event) -> Option<usize> {
        None
    }

    /// The index of a running process that has been silent too long.
    fn silent(&self) -> Option<usize> {
        None
    }

    /// Stops every process of `generation`.
    fn stop(&mut self, generation: u64);

    /// Tells whoever waits that the cluster finished.
    fn finish(&mut self) {}
}
