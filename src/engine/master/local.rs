//! Worker processes on this machine: spawned as children that die with the master, their
//! report lines read from stdout and their logs relayed to the master's stderr. They share a
//! cluster token for their timely connections, which the master makes when it has none.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};

use super::{Event, Launcher, MasterError, Origin};
use crate::engine::cluster::WorkerReport;
use crate::engine::control::{self, Assignment, ClusterToken};
use crate::engine::status::ClusterStatus;

/// Spawns the processes here. Their timely listeners are bound here first, on ports the
/// kernel picks (or `base_port + i`), and handed to them (see `cluster/network.rs`).
pub(super) struct LocalLauncher {
    pub program: PathBuf,
    pub base_port: Option<u16>,
    pub children: Vec<Option<Child>>,
    /// The next generation's listeners, bound by `ready`, handed over by `start`.
    pub listeners: Vec<TcpListener>,
}

impl Launcher for LocalLauncher {
    fn ready(&mut self, processes: usize, _events: &Receiver<Event>, _status: &Arc<Mutex<ClusterStatus>>) -> Result<Vec<String>, MasterError> {
        self.listeners = (0..processes)
            .map(|i| {
                let port = self.base_port.map_or(0, |base| base + i as u16);
                TcpListener::bind(("127.0.0.1", port)).map_err(|source| MasterError::Listen { addr: ([127, 0, 0, 1], port).into(), source })
            })
            .collect::<Result<_, _>>()?;
        self.listeners.iter().map(|l| l.local_addr().map(|a| a.to_string()).map_err(|source| MasterError::Listen { addr: ([127, 0, 0, 1], 0).into(), source })).collect()
    }

    fn start(&mut self, assignments: Vec<Assignment>, events: &Sender<Event>) -> Result<(), MasterError> {
        self.children.clear();
        let listeners = std::mem::take(&mut self.listeners);
        for (assignment, listener) in assignments.into_iter().zip(&listeners) {
            let (index, generation) = (assignment.index, assignment.generation);
            let mut command = Command::new(&self.program);
            control::pass_listener(control::die_with_parent(&mut command), listener);
            local_token().pass_to(&mut command);
            let mut child = command
                .args(assignment.worker_args())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|source| MasterError::Spawn { index, program: self.program.display().to_string(), source })?;
            relay_reports(child.stdout.take(), index, generation, events.clone());
            relay_lines(child.stderr.take(), format!("[worker {index}]"));
            eprintln!("rtds master: started worker process {index} (pid {}) on {}", child.id(), assignment.addresses[index]);
            self.children.push(Some(child));
        }
        Ok(())
    }

    fn index_of(&self, from: Origin) -> Option<usize> {
        match from {
            Origin::Local(index) => (index < self.children.len()).then_some(index),
            Origin::Agent(_) => None,
        }
    }

    fn pid(&self, index: usize) -> Option<u32> {
        self.children.get(index)?.as_ref().map(Child::id)
    }

    fn poll_exits(&mut self) -> Vec<(usize, bool, String)> {
        let mut exits = Vec::new();
        for (index, slot) in self.children.iter_mut().enumerate() {
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

    fn stop(&mut self, _generation: u64) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The token this master's processes prove to each other on their timely connections
/// (`cluster/network.rs`): RTDS_CLUSTER_TOKEN's when it holds a usable one, else a random one
/// made once, handed to them in their environment (never on a command line).
fn local_token() -> &'static ClusterToken {
    static TOKEN: OnceLock<ClusterToken> = OnceLock::new();
    TOKEN.get_or_init(|| ClusterToken::from_file_or_env(None).unwrap_or_else(|_| ClusterToken::random()))
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
pub(super) fn relay_lines(stream: Option<impl std::io::Read + Send + 'static>, prefix: String) {
    if let Some(stream) = stream {
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                eprintln!("{prefix} {line}");
            }
        });
    }
}
