//! Generation after generation of the cluster: start every process, follow their reports
//! and exits, and when one dies stop the rest and start the next generation, which resumes
//! from the last durable epoch, within a restart budget.

use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::local::LocalLauncher;
use super::remote::{RemoteLauncher, accept_agents};
use super::{Event, Launch, Launcher, MasterError, MasterOptions};
use crate::engine::cluster::WorkerReport;
use crate::engine::control::{Assignment, SILENCE_LIMIT};
use crate::engine::status::{ClusterStatus, ProcessStatus, Telemetry};

/// Runs the cluster until every worker process finishes cleanly (with `--idle-exit`), or
/// forever, restarting it whenever a process dies.
pub fn supervise(options: &MasterOptions, status: Arc<Mutex<ClusterStatus>>, telemetry: Arc<Telemetry>) -> Result<(), MasterError> {
    let (events_tx, events) = channel();
    let mut launcher: Box<dyn Launcher> = match &options.launch {
        Launch::Local { program, base_port } => {
            Box::new(LocalLauncher { program: program.clone(), base_port: *base_port, children: Vec::new(), listeners: Vec::new() })
        }
        Launch::Remote { listen, token } => {
            let bound = accept_agents(*listen, token.clone(), events_tx.clone())?;
            eprintln!("rtds master: waiting for {} workers: `rtds worker --master {bound}`", options.processes);
            Box::new(RemoteLauncher::default())
        }
    };
    let mut restarts = 0;
    let mut budget = RestartBudget::new(options.max_restarts, options.restart_window);
    let mut backoff = Duration::from_secs(1);
    for generation in 1.. {
        set_state(&status, "waiting", restarts);
        let addresses = launcher.ready(options.processes, &events, &status)?;
        let started = Instant::now();
        let assignments = (0..options.processes)
            .map(|index| Assignment {
                generation,
                index,
                processes: options.processes,
                workers: options.workers,
                addresses: addresses.clone(),
                pipeline_args: options.pipeline_args.clone(),
            })
            .collect();
        launcher.start(assignments, &events_tx)?;
        {
            let mut s = status.lock().expect("status");
            s.processes = (0..options.processes)
                .map(|index| ProcessStatus {
                    index,
                    up: true,
                    address: addresses[index].clone(),
                    report: WorkerReport { pid: launcher.pid(index).unwrap_or(0), ..Default::default() },
                    ..Default::default()
                })
                .collect();
            s.workers_per_process = options.workers;
        }
        set_state(&status, "running", restarts);
        match watch(launcher.as_mut(), generation, options.processes, &events, &status, &telemetry, started) {
            Outcome::Finished => {
                launcher.finish();
                set_state(&status, "finished", restarts);
                eprintln!("rtds master: every worker process finished");
                return Ok(());
            }
            Outcome::Died { index, status: exit } if is_permanent(&exit) => {
                launcher.stop(generation);
                set_state(&status, "failed", restarts);
                return Err(MasterError::Permanent { index, status: exit });
            }
            Outcome::Died { index, status: exit } => {
                eprintln!("rtds master: worker process {index} died ({exit}); stopping the cluster to restart it");
                launcher.stop(generation);
                telemetry.carry_over(&status.lock().expect("status").processes);
                for process in &mut status.lock().expect("status").processes {
                    process.up = false;
                }
                set_state(&status, "restarting", restarts);
                if !budget.allow(Instant::now()) {
                    return Err(MasterError::TooManyRestarts { restarts: options.max_restarts, window: options.restart_window });
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
    unreachable!("generations never run out")
}

/// Whether a worker process's exit status says a restart cannot help (see
/// [`EXIT_PERMANENT`](crate::engine::cluster::EXIT_PERMANENT)).
///
/// ```
/// assert!(rtds::engine::master::is_permanent("exit status: 3"));
/// assert!(!rtds::engine::master::is_permanent("exit status: 1"));
/// ```
pub fn is_permanent(status: &str) -> bool {
    status.trim_end().ends_with(&format!("exit status: {}", crate::engine::cluster::EXIT_PERMANENT))
}

/// At most `max` restarts within any `window`: restarts older than the window no longer
/// count, so a long-lived cluster that fails now and then keeps its budget.
///
/// ```
/// use std::time::{Duration, Instant};
/// let mut budget = rtds::engine::master::RestartBudget::new(2, Duration::from_secs(60));
/// let t0 = Instant::now();
/// assert!(budget.allow(t0));
/// assert!(budget.allow(t0 + Duration::from_secs(1)));
/// assert!(!budget.allow(t0 + Duration::from_secs(2)), "a third restart within the minute");
/// assert!(budget.allow(t0 + Duration::from_secs(61)), "the first has left the window");
/// ```
#[derive(Debug)]
pub struct RestartBudget {
    max: u32,
    window: Duration,
    recent: std::collections::VecDeque<Instant>,
}

impl RestartBudget {
    pub fn new(max: u32, window: Duration) -> RestartBudget {
        RestartBudget { max, window, recent: std::collections::VecDeque::new() }
    }

    /// Counts a restart at `now` if the budget allows it.
    pub fn allow(&mut self, now: Instant) -> bool {
        while self.recent.front().is_some_and(|at| now.saturating_duration_since(*at) >= self.window) {
            self.recent.pop_front();
        }
        if self.recent.len() >= self.max as usize {
            return false;
        }
        self.recent.push_back(now);
        true
    }
}

enum Outcome {
    Finished,
    Died { index: usize, status: String },
}

/// Follows one generation until it finishes or a process dies.
fn watch(
    launcher: &mut dyn Launcher,
    generation: u64,
    processes: usize,
    events: &Receiver<Event>,
    status: &Arc<Mutex<ClusterStatus>>,
    telemetry: &Telemetry,
    started: Instant,
) -> Outcome {
    let mut finished = vec![false; processes];
    let mut last_report: Vec<Option<Instant>> = vec![None; processes];
    loop {
        let event = match events.recv_timeout(Duration::from_millis(100)) {
            Ok(event) => Some(event),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => unreachable!("the master holds a sender"),
        };
        let mut exits = launcher.poll_exits();
        match event {
            Some(Event::Report { from, generation: g, mut report }) if g == generation => {
                if let Some(index) = launcher.index_of(from) {
                    telemetry.record(&mut report);
                    last_report[index] = Some(Instant::now());
                    let process = &mut status.lock().expect("status").processes[index];
                    process.report = report;
                }
            }
            Some(Event::Exited { from, generation: g, success, status }) if g == generation => {
                if let Some(index) = launcher.index_of(from) {
                    exits.push((index, success, status));
                }
            }
            Some(event) => {
                if let Some(index) = launcher.membership(event) {
                    return Outcome::Died { index, status: "its worker machine left the cluster".into() };
                }
            }
            None => {}
        }
        for (index, success, exit) in exits {
            if !success {
                return Outcome::Died { index, status: exit };
            }
            finished[index] = true;
            status.lock().expect("status").processes[index].up = false;
        }
        if let Some(index) = launcher.silent() {
            return Outcome::Died { index, status: format!("its agent said nothing for {}s", SILENCE_LIMIT.as_secs()) };
        }
        if finished.iter().all(|f| *f) {
            return Outcome::Finished;
        }
        let mut s = status.lock().expect("status");
        s.generation_uptime_seconds = started.elapsed().as_secs_f64();
        for (process, at) in s.processes.iter_mut().zip(&last_report) {
            process.report_age_seconds = at.map(|at| at.elapsed().as_secs_f64());
        }
    }
}

fn set_state(status: &Arc<Mutex<ClusterStatus>>, state: &str, restarts: u32) {
    let mut status = status.lock().expect("status");
    status.state = state.to_string();
    status.restarts = restarts;
}
