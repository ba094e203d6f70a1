//! The master's control protocol with remote workers (`rtds worker --master HOST:PORT`):
//! JSON lines over one TCP connection per worker machine's agent, each at most
//! [`MAX_FRAME`] long (`frames.rs`). An agent must prove it knows the cluster token before it
//! counts as registered, and the master proves it back (`token.rs`).
//!
//! ```text
//! agent                                   master
//!   ◄─ {"challenge":{"nonce":n1}} ────────    on connect
//!   ── {"register":{address, proof(n1),     the proof is HMAC-SHA256(token, n1); a wrong one
//!        nonce: n2}} ─────────────────────►   is answered {"refused":{reason}} and closed
//!   ◄─ {"welcome":{"proof":proof(n2)}} ───    the agent checks the master knows the token too
//!                                           waits until --processes agents have registered
//!   ◄─ {"start":{generation, index, …}} ──    the index, every process's address and the pipeline flags
//!   ── {"report":{generation, report}} ───►   every second, from the worker process's stdout
//!   ── {"exited":{generation, …}} ────────►   the worker process ended
//!   ◄─ {"stop":{"generation":g}} ─────────    another process died: stop, wait for a new start
//!   ◄─ {"finish":null} ───────────────────    every process finished (--idle-exit): exit
//! ```
//!
//! Either side that hears nothing from the other for [`SILENCE_LIMIT`] counts it as gone: both
//! send a heartbeat every [`HEARTBEAT`] when they have nothing else to say. The master then
//! restarts the cluster without the agent (and closes its connection); the agent stops its
//! worker process and registers again once it reaches the master.

mod frames;
mod token;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cluster::WorkerReport;

pub use frames::{MAX_FRAME, Messages, messages, send};
pub use token::{ClusterToken, TOKEN_ENV, TokenError};

/// How long the master waits for a connecting agent to register.
pub const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// How often an agent speaks when it has nothing else to say.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long the master waits for a word from an agent before it counts it as dead.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(15);

/// What a worker process is told to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// The cluster's (re)start count; messages of older generations are ignored.
    pub generation: u64,
    /// This process's index, timely's `-p`.
    pub index: usize,
    /// Processes in the cluster, timely's `-n`.
    pub processes: usize,
    /// Worker threads per process, timely's `-w`.
    pub workers: usize,
    /// Process i's `host:port` for timely, i = 0..processes.
    pub addresses: Vec<String>,
    /// The pipeline flags (`--kafka`, `--topic`, …) every worker process gets.
    pub pipeline_args: Vec<String>,
}

impl Assignment {
    /// The `rtds worker` arguments for this assignment: timely's configuration goes as
    /// flags (`--peers` carries the addresses, so no hostfile is written anywhere).
    pub fn worker_args(&self) -> Vec<String> {
        let mut args = vec![
            "worker".to_string(),
            "-w".into(),
            self.workers.to_string(),
            "-n".into(),
            self.processes.to_string(),
            "-p".into(),
            self.index.to_string(),
            "--peers".into(),
            self.addresses.join(","),
            "--listen-fd".into(),
            LISTENER_FD.to_string(),
            "--report".into(),
        ];
        args.extend(self.pipeline_args.iter().cloned());
        args
    }
}

/// A message from the master to an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToAgent {
    /// Prove you know the token: answer this nonce.
    Challenge { nonce: String },
    /// Registered; the master's proof for the agent's nonce.
    Welcome { proof: String },
    /// Not registered, and why; the connection closes.
    Refused { reason: String },
    Start(Assignment),
    Stop { generation: u64 },
    Finish,
    /// The master is there (every [`HEARTBEAT`]).
    Heartbeat,
}

/// A message from an agent to the master.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToMaster {
    /// The `host:port` the agent's worker process will listen on for timely, the proof for
    /// the master's nonce, and a nonce for the master to prove itself with.
    Register { address: String, proof: String, nonce: String },
    Report { generation: u64, report: WorkerReport },
    Exited { generation: u64, success: bool, status: String },
    Heartbeat,
}

/// The file descriptor a worker process finds its timely listener at.
pub const LISTENER_FD: i32 = 3;

/// Hands `listener` to the process `command` starts, as file descriptor [`LISTENER_FD`]:
/// the supervisor binds the port (any free one, if it likes), the process listens on it.
pub fn pass_listener<'a>(command: &'a mut std::process::Command, listener: &std::net::TcpListener) -> &'a mut std::process::Command {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let fd = listener.as_raw_fd();
    // SAFETY: dup2 and fcntl are async-signal-safe and touch no memory of the parent.
    unsafe {
        command.pre_exec(move || {
            if fd == LISTENER_FD {
                // Already there: only keep it open across exec.
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, LISTENER_FD) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// Makes a worker process die with the thread that started it (Linux's parent-death
/// signal), so a master or agent that is killed leaves no worker processes behind.
pub fn die_with_parent(command: &mut std::process::Command) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}
