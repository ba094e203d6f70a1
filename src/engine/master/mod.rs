//! `rtds master`: the Spark-master counterpart. It starts the cluster's worker processes on
//! this machine (`--local`) or waits for workers of other machines to register
//! (`rtds worker --master HOST:PORT`), hands each its index and the hostfile, watches them,
//! and when one dies stops the rest and restarts the whole cluster, which resumes from the
//! last durable epoch. Worker processes report their counters every second; the master keeps
//! them for its status page and metrics.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::cluster::WorkerReport;
use super::control::{self, Assignment, SILENCE_LIMIT, ToAgent, ToMaster};
use super::status::Telemetry;

/// Where the worker processes run.
#[derive(Debug, Clone)]
pub enum Launch {
    /// Spawn them on this machine; process i's timely port is `base_port + i`.
    Local { program: PathBuf, base_port: u16, hostfile: PathBuf },
    /// Wait for `rtds worker --master` agents to register on `listen`.
    Remote { listen: SocketAddr },
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

/// One worker process as the status shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProcessStatus {
    pub index: usize,
    pub pid: Option<u32>,
    pub up: bool,
    /// Its timely address.
    pub address: String,
    /// Seconds since its last report.
    pub report_age_seconds: Option<f64>,
    /// Its last report, without the latency samples.
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

/// Why the master stopped.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error("cannot write the hostfile {path}: {source}")]
    Hostfile { path: String, source: std::io::Error },
    #[error("cannot start worker process {index} ({program}): {source}")]
    Spawn { index: usize, program: String, source: std::io::Error },
    #[error("cannot listen for workers on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("worker processes kept failing: gave up after {restarts} restarts within {window}; see the worker errors above (raise --max-restarts or --restart-window to keep trying)", window = humantime::format_duration(*.window))]
    TooManyRestarts { restarts: u32, window: Duration },
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
    Joined { agent: u64, address: String, stream: TcpStream },
    /// A remote agent's connection ended.
    Left { agent: u64 },
    /// A remote agent said something (it is alive).
    Heard { agent: u64 },
}

/// Runs the cluster until every worker process finishes cleanly (with `--idle-exit`), or
/// forever, restarting it whenever a process dies.
pub fn supervise(options: &MasterOptions, status: Arc<Mutex<ClusterStatus>>, telemetry: Arc<Telemetry>) -> Result<(), MasterError> {
    let (events_tx, events) = channel();
    let mut launcher = match &options.launch {
        Launch::Local { program, base_port, hostfile } => Launcher::Local {
            program: program.clone(),
            base_port: *base_port,
            hostfile: hostfile.clone(),
            children: Vec::new(),
        },
        Launch::Remote { listen } => {
            let listener = TcpListener::bind(listen).map_err(|source| MasterError::Listen { addr: *listen, source })?;
            eprintln!("rtds master: waiting for {} workers: `rtds worker --master {listen}`", options.processes);
            accept_agents(listener, events_tx.clone());
            Launcher::Remote { agents: Vec::new(), assigned: Vec::new() }
        }
    };
    let mut restarts = 0;
    let mut budget = RestartBudget::new(options.max_restarts, options.restart_window);
    let mut backoff = Duration::from_secs(1);
    for generation in 1.. {
        set_state(&status, "waiting", restarts);
        let addresses = launcher.ready(options, &events, &status);
        let started = Instant::now();
        launcher.start(options, generation, &addresses, &events_tx)?;
        {
            let mut s = status.lock().expect("status");
            s.processes = (0..options.processes)
                .map(|index| ProcessStatus { index, pid: launcher.pid(index), up: true, address: addresses[index].clone(), ..Default::default() })
                .collect();
            s.workers_per_process = options.workers;
        }
        set_state(&status, "running", restarts);
        match watch(&mut launcher, generation, options.processes, &events, &status, &telemetry, started) {
            Outcome::Finished => {
                launcher.finish();
                set_state(&status, "finished", restarts);
                eprintln!("rtds master: every worker process finished");
                return Ok(());
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
    launcher: &mut Launcher,
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
                    process.pid = Some(report.pid);
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

/// A registered remote agent.
struct Agent {
    id: u64,
    address: String,
    stream: TcpStream,
    last_heard: Instant,
}

/// Starts and stops worker processes, here or through remote agents.
enum Launcher {
    Local { program: PathBuf, base_port: u16, hostfile: PathBuf, children: Vec<Option<Child>> },
    /// `agents` wait to be assigned; `assigned[i]` runs process i of the current generation.
    Remote { agents: Vec<Agent>, assigned: Vec<Agent> },
}

impl Launcher {
    /// Waits until the cluster's processes can start; returns their timely addresses.
    fn ready(&mut self, options: &MasterOptions, events: &Receiver<Event>, status: &Arc<Mutex<ClusterStatus>>) -> Vec<String> {
        match self {
            Launcher::Local { base_port, .. } => {
                (0..options.processes).map(|i| format!("127.0.0.1:{}", *base_port as usize + i)).collect()
            }
            Launcher::Remote { agents, assigned } => {
                agents.append(assigned);
                loop {
                    agents.retain(|a| a.last_heard.elapsed() < SILENCE_LIMIT);
                    status.lock().expect("status").registered = agents.len();
                    if agents.len() >= options.processes {
                        break;
                    }
                    match events.recv_timeout(Duration::from_millis(500)) {
                        Ok(Event::Joined { agent, address, stream }) => {
                            eprintln!("rtds master: worker {address} registered ({} of {})", agents.len() + 1, options.processes);
                            agents.push(Agent { id: agent, address, stream, last_heard: Instant::now() });
                        }
                        Ok(Event::Left { agent }) => agents.retain(|a| a.id != agent),
                        Ok(Event::Heard { agent }) => heard(agents, agent),
                        _ => {}
                    }
                }
                *assigned = agents.drain(..options.processes).collect();
                assigned.iter().map(|a| a.address.clone()).collect()
            }
        }
    }

    fn start(&mut self, options: &MasterOptions, generation: u64, addresses: &[String], events: &Sender<Event>) -> Result<(), MasterError> {
        let assignment = |index| Assignment {
            generation,
            index,
            processes: options.processes,
            workers: options.workers,
            hostfile: addresses.to_vec(),
            pipeline_args: options.pipeline_args.clone(),
        };
        match self {
            Launcher::Local { program, hostfile, children, .. } => {
                std::fs::write(&*hostfile, addresses.join("\n") + "\n")
                    .map_err(|source| MasterError::Hostfile { path: hostfile.display().to_string(), source })?;
                children.clear();
                for (index, address) in addresses.iter().enumerate() {
                    let mut child = control::die_with_parent(&mut Command::new(&*program))
                        .args(assignment(index).worker_args(hostfile))
                        .stdin(Stdio::null())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .map_err(|source| MasterError::Spawn { index, program: program.display().to_string(), source })?;
                    relay_reports(child.stdout.take(), index, generation, events.clone());
                    relay_lines(child.stderr.take(), format!("[worker {index}]"));
                    eprintln!("rtds master: started worker process {index} (pid {}) on {address}", child.id());
                    children.push(Some(child));
                }
            }
            Launcher::Remote { assigned, .. } => {
                for (index, agent) in assigned.iter_mut().enumerate() {
                    // A send that fails shows up as the agent leaving.
                    let _ = control::send(&mut agent.stream, &ToAgent::Start(assignment(index)));
                    agent.last_heard = Instant::now();
                    eprintln!("rtds master: worker process {index} starts on {}", agent.address);
                }
            }
        }
        Ok(())
    }

    /// The process index an event's origin runs in the current generation.
    fn index_of(&self, from: Origin) -> Option<usize> {
        match (self, from) {
            (Launcher::Local { children, .. }, Origin::Local(index)) => (index < children.len()).then_some(index),
            (Launcher::Remote { assigned, .. }, Origin::Agent(id)) => assigned.iter().position(|a| a.id == id),
            _ => None,
        }
    }

    fn pid(&self, index: usize) -> Option<u32> {
        match self {
            Launcher::Local { children, .. } => children.get(index)?.as_ref().map(Child::id),
            Launcher::Remote { .. } => None,
        }
    }

    /// Local processes that ended since the last call: (index, success, status).
    fn poll_exits(&mut self) -> Vec<(usize, bool, String)> {
        let Launcher::Local { children, .. } = self else { return Vec::new() };
        let mut exits = Vec::new();
        for (index, slot) in children.iter_mut().enumerate() {
            let Some(child) = slot else { continue };
            match child.try_wait() {
                Ok(None) => {}
                Ok(Some(exit)) => {
                    exits.push((index, exit.success(), exit.to_string()));
                    *slot = None;
                }
                Err(e) => exits.push((index, false, e.to_string())),
            }
        }
        exits
    }

    /// Handles a remote agent joining, leaving or speaking; returns the index of an assigned
    /// process whose agent left.
    fn membership(&mut self, event: Event) -> Option<usize> {
        let Launcher::Remote { agents, assigned } = self else { return None };
        match event {
            Event::Joined { agent, address, stream } => {
                agents.push(Agent { id: agent, address, stream, last_heard: Instant::now() });
                None
            }
            Event::Left { agent } => {
                agents.retain(|a| a.id != agent);
                assigned.iter().position(|a| a.id == agent)
            }
            Event::Heard { agent } => {
                heard(agents, agent);
                heard(assigned, agent);
                None
            }
            _ => None,
        }
    }

    /// The index of an assigned process whose agent has been silent too long.
    fn silent(&self) -> Option<usize> {
        let Launcher::Remote { assigned, .. } = self else { return None };
        assigned.iter().position(|a| a.last_heard.elapsed() > SILENCE_LIMIT)
    }

    fn stop(&mut self, generation: u64) {
        match self {
            Launcher::Local { children, .. } => {
                for child in children.iter_mut().flatten() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
            Launcher::Remote { assigned, .. } => {
                for agent in assigned.iter_mut() {
                    let _ = control::send(&mut agent.stream, &ToAgent::Stop { generation });
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Launcher::Remote { agents, assigned } = self {
            for agent in agents.iter_mut().chain(assigned.iter_mut()) {
                let _ = control::send(&mut agent.stream, &ToAgent::Finish);
            }
        }
    }
}

fn heard(agents: &mut [Agent], id: u64) {
    for agent in agents.iter_mut().filter(|a| a.id == id) {
        agent.last_heard = Instant::now();
    }
}

/// Accepts agents: each registers with its first line, then its messages become events.
fn accept_agents(listener: TcpListener, events: Sender<Event>) {
    std::thread::spawn(move || {
        for (id, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let events = events.clone();
            let agent = id as u64;
            std::thread::spawn(move || {
                let Ok(writer) = stream.try_clone() else { return };
                let mut messages = control::messages::<ToMaster>(stream);
                let Some(Ok(ToMaster::Register { address })) = messages.next() else { return };
                let _ = events.send(Event::Joined { agent, address, stream: writer });
                let from = Origin::Agent(agent);
                for message in messages {
                    let event = match message {
                        Ok(ToMaster::Report { generation, report }) => Event::Report { from, generation, report },
                        Ok(ToMaster::Exited { generation, success, status }) => Event::Exited { from, generation, success, status },
                        Ok(_) => Event::Heard { agent },
                        Err(_) => break,
                    };
                    let _ = events.send(Event::Heard { agent });
                    if events.send(event).is_err() {
                        return;
                    }
                }
                let _ = events.send(Event::Left { agent });
            });
        }
    });
}

/// Reads a local worker process's stdout: report lines become events, the rest is relayed.
fn relay_reports(stream: Option<impl std::io::Read + Send + 'static>, index: usize, generation: u64, events: Sender<Event>) {
    if let Some(stream) = stream {
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                match WorkerReport::parse_line(&line) {
                    Some(report) => {
                        let _ = events.send(Event::Report { from: Origin::Local(index), generation, report });
                    }
                    None => eprintln!("[worker {index}] {line}"),
                }
            }
        });
    }
}

/// Copies a stream to the master's stderr, one prefixed line at a time.
pub fn relay_lines(stream: Option<impl std::io::Read + Send + 'static>, prefix: String) {
    if let Some(stream) = stream {
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                eprintln!("{prefix} {line}");
            }
        });
    }
}
