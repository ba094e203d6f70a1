//! `rtds master`: the Spark-master counterpart. It starts the cluster's worker processes on
//! this machine, hands each its index and the hostfile, watches them, and when one dies
//! stops the rest and restarts the whole cluster, which resumes from the last durable epoch.
//! It serves the cluster's status as JSON and Prometheus metrics.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

/// How to run the cluster.
#[derive(Debug, Clone)]
pub struct MasterOptions {
    /// The `rtds` binary to start workers with.
    pub program: PathBuf,
    pub processes: usize,
    pub workers: usize,
    /// First timely port; process i listens on base_port + i.
    pub base_port: u16,
    /// Pipeline flags handed to every worker.
    pub pipeline_args: Vec<String>,
    /// Give up after this many restarts.
    pub max_restarts: u32,
    /// Where the hostfile is written.
    pub hostfile: PathBuf,
}

/// One worker process as the status shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessStatus {
    pub index: usize,
    pub pid: Option<u32>,
    pub up: bool,
    pub address: String,
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
    pub state: String,
}

/// Why the master stopped.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error("cannot write the hostfile {path}: {source}")]
    Hostfile { path: String, source: std::io::Error },
    #[error("cannot start worker process {index} ({program}): {source}")]
    Spawn { index: usize, program: String, source: std::io::Error },
    #[error("worker processes kept failing: gave up after {0} restarts")]
    TooManyRestarts(u32),
}

/// Runs the cluster until every worker process finishes cleanly (with `--idle-exit`), or
/// forever, restarting it whenever a process dies.
pub fn supervise(options: &MasterOptions, status: Arc<Mutex<ClusterStatus>>) -> Result<(), MasterError> {
    let addresses: Vec<String> = (0..options.processes).map(|i| format!("127.0.0.1:{}", options.base_port as usize + i)).collect();
    std::fs::write(&options.hostfile, addresses.join("\n") + "\n")
        .map_err(|source| MasterError::Hostfile { path: options.hostfile.display().to_string(), source })?;
    let mut restarts = 0;
    let mut backoff = Duration::from_secs(1);
    loop {
        let started = Instant::now();
        let mut children = start_cluster(options, &addresses)?;
        update(&status, &children, &addresses, options, restarts, started, "running");
        let outcome = watch(&mut children, &status, &addresses, options, restarts, started);
        match outcome {
            Outcome::Finished => {
                update(&status, &children, &addresses, options, restarts, started, "finished");
                eprintln!("rtds master: every worker process finished");
                return Ok(());
            }
            Outcome::Died { index, status: exit } => {
                eprintln!("rtds master: worker process {index} died ({exit}); stopping the cluster to restart it");
                stop_all(&mut children);
                update(&status, &children, &addresses, options, restarts, started, "restarting");
                if restarts >= options.max_restarts {
                    return Err(MasterError::TooManyRestarts(restarts));
                }
                restarts += 1;
                // A cluster that ran a while restarts at once; one that keeps dying waits longer.
                if started.elapsed() > Duration::from_secs(60) {
                    backoff = Duration::from_secs(1);
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(30));
                eprintln!("rtds master: restarting the cluster from the last durable epoch (restart {restarts})");
            }
        }
    }
}

enum Outcome {
    Finished,
    Died { index: usize, status: String },
}

fn start_cluster(options: &MasterOptions, addresses: &[String]) -> Result<Vec<Option<Child>>, MasterError> {
    let mut children = Vec::new();
    for index in 0..options.processes {
        let mut command = Command::new(&options.program);
        command
            .arg("worker")
            .args(["-w", &options.workers.to_string(), "-n", &options.processes.to_string(), "-p", &index.to_string()])
            .arg("-h")
            .arg(&options.hostfile)
            .args(&options.pipeline_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|source| MasterError::Spawn {
            index,
            program: options.program.display().to_string(),
            source,
        })?;
        relay(child.stdout.take(), index);
        relay(child.stderr.take(), index);
        eprintln!("rtds master: started worker process {index} (pid {}) on {}", child.id(), addresses[index]);
        children.push(Some(child));
    }
    Ok(children)
}

/// Copies a worker's output to the master's stderr, one prefixed line at a time.
fn relay(stream: Option<impl std::io::Read + Send + 'static>, index: usize) {
    if let Some(stream) = stream {
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                eprintln!("[worker {index}] {line}");
            }
        });
    }
}

fn watch(
    children: &mut [Option<Child>],
    status: &Arc<Mutex<ClusterStatus>>,
    addresses: &[String],
    options: &MasterOptions,
    restarts: u32,
    started: Instant,
) -> Outcome {
    loop {
        let mut running = 0;
        for (index, slot) in children.iter_mut().enumerate() {
            let Some(child) = slot else { continue };
            match child.try_wait() {
                Ok(None) => running += 1,
                Ok(Some(exit)) if exit.success() => *slot = None,
                Ok(Some(exit)) => return Outcome::Died { index, status: exit.to_string() },
                Err(e) => return Outcome::Died { index, status: e.to_string() },
            }
        }
        if running == 0 {
            return Outcome::Finished;
        }
        update(status, children, addresses, options, restarts, started, "running");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stop_all(children: &mut [Option<Child>]) {
    for child in children.iter_mut().flatten() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[allow(clippy::too_many_arguments)]
fn update(
    status: &Arc<Mutex<ClusterStatus>>,
    children: &[Option<Child>],
    addresses: &[String],
    options: &MasterOptions,
    restarts: u32,
    started: Instant,
    state: &str,
) {
    let mut status = status.lock().expect("status lock");
    status.processes = children
        .iter()
        .enumerate()
        .map(|(index, child)| ProcessStatus {
            index,
            pid: child.as_ref().map(Child::id),
            up: child.is_some() && state == "running",
            address: addresses[index].clone(),
        })
        .collect();
    status.workers_per_process = options.workers;
    status.restarts = restarts;
    status.generation_uptime_seconds = started.elapsed().as_secs_f64();
    status.state = state.to_string();
}
