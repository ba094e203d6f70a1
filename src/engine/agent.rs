//! `rtds worker --master HOST:PORT`: a worker machine's agent, the Spark-worker counterpart.
//!
//! It registers with the master, and for every assignment the master hands out it runs one
//! `rtds worker -w N -n P -p I --peers ADDRESSES --report …` process, forwards the process's
//! reports and its exit, and stops it when the master says so. When the master goes away
//! it stops the process and registers again once the master is back.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::cluster::WorkerReport;
use super::control::{self, ClusterToken, HEARTBEAT, Messages, SILENCE_LIMIT, ToAgent, ToMaster};

/// How to run an agent.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// The master's control address, `host:port`.
    pub master: String,
    /// The `host:port` this machine's worker process listens on for timely, as the other
    /// processes reach it; `None`: the address this machine reaches the master from, and a
    /// free port.
    pub advertise: Option<String>,
    /// The `rtds` binary to start the worker process with.
    pub program: PathBuf,
    /// The cluster token, to prove to the master (and to have it proven back).
    pub token: ClusterToken,
}

/// Why an agent stopped.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot start the worker process ({program}): {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("the master {master} refused this worker: {reason}")]
    Refused { master: String, reason: String },
    #[error("{master} does not prove it knows the cluster token: it is not this cluster's master (check --master and RTDS_CLUSTER_TOKEN)")]
    Impostor { master: String },
    #[error("cannot listen for the other worker processes on {address}: {source} (--advertise must be an address of this machine)")]
    Listen { address: String, source: std::io::Error },
}

/// The worker process of the current assignment.
type Current = Arc<Mutex<Option<(u64, Child)>>>;

/// Serves the master until it says the cluster finished.
pub fn run_agent(options: &AgentOptions) -> Result<(), AgentError> {
    let mut wait = Duration::from_millis(200);
    let mut said_waiting = false;
    loop {
        match TcpStream::connect(&options.master) {
            Ok(stream) => {
                wait = Duration::from_millis(200);
                said_waiting = false;
                // The worker process's timely listener, bound now so the address handed to the
                // master is one this machine really holds.
                let listener = timely_listener(options.advertise.as_deref(), &stream)?;
                let advertise = listener.local_addr().map_err(|source| AgentError::Listen { address: "?".into(), source })?.to_string();
                eprintln!("rtds worker: registering with master {} as {advertise}", options.master);
                let finished = serve(stream, &advertise, &listener, options)?;
                if finished {
                    eprintln!("rtds worker: the master says the cluster finished");
                    return Ok(());
                }
                eprintln!("rtds worker: lost the master {}; registering again when it is back", options.master);
            }
            Err(e) => {
                if !said_waiting {
                    eprintln!("rtds worker: master {} not reachable ({e}); retrying", options.master);
                    said_waiting = true;
                }
            }
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

/// One connection to the master; true when the master said the cluster finished.
fn serve(stream: TcpStream, advertise: &str, listener: &TcpListener, options: &AgentOptions) -> Result<bool, AgentError> {
    let Ok(writer) = stream.try_clone() else { return Ok(false) };
    let writer = Arc::new(Mutex::new(writer));
    let say = {
        let writer = writer.clone();
        move |message: &ToMaster| control::send(&mut writer.lock().expect("master connection"), message).is_ok()
    };
    let mut messages = control::messages::<ToAgent>(stream);
    if !register(&mut messages, &say, advertise, options)? {
        return Ok(false);
    }
    // The master speaks at least every HEARTBEAT: silence this long means it is gone (or the
    // link to it is), and the read fails.
    if messages.stream().set_read_timeout(Some(SILENCE_LIMIT)).is_err() {
        return Ok(false);
    }
    let current: Current = Arc::default();
    let connected = Arc::new(AtomicBool::new(true));
    watch_process(current.clone(), connected.clone(), say.clone());

    let mut finished = false;
    for message in messages {
        match message {
            Ok(ToAgent::Start(assignment)) => {
                stop(&current);
                let mut command = Command::new(&options.program);
                control::pass_listener(control::die_with_parent(&mut command), listener);
                // The process proves the token to the other processes of the cluster: it gets
                // the agent's in its environment, wherever the agent read it from.
                options.token.pass_to(&mut command);
                let mut child = command
                    .args(assignment.worker_args())
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .map_err(|source| AgentError::Spawn { program: options.program.display().to_string(), source })?;
                eprintln!(
                    "rtds worker: running process {} of {} (pid {}, generation {})",
                    assignment.index,
                    assignment.processes,
                    child.id(),
                    assignment.generation
                );
                forward_reports(child.stdout.take(), assignment.generation, say.clone());
                *current.lock().expect("current process") = Some((assignment.generation, child));
            }
            Ok(ToAgent::Stop { generation }) => {
                let mut current = current.lock().expect("current process");
                if current.as_ref().is_some_and(|(g, _)| *g <= generation) {
                    if let Some((_, mut child)) = current.take() {
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                }
            }
            Ok(ToAgent::Finish) => {
                finished = true;
                break;
            }
            Ok(ToAgent::Heartbeat | ToAgent::Challenge { .. } | ToAgent::Welcome { .. } | ToAgent::Refused { .. }) => {}
            Err(_) => break,
        }
    }
    connected.store(false, Ordering::Relaxed);
    stop(&current);
    Ok(finished)
}

/// The registration handshake (see the control protocol): answers the master's challenge and
/// checks the master's proof. False when the connection ended before it was done.
fn register(messages: &mut Messages<ToAgent>, say: &impl Fn(&ToMaster) -> bool, advertise: &str, options: &AgentOptions) -> Result<bool, AgentError> {
    let Some(Ok(ToAgent::Challenge { nonce })) = messages.next() else { return Ok(false) };
    let ours = ClusterToken::nonce();
    if !say(&ToMaster::Register { address: advertise.to_string(), proof: options.token.proof(&nonce), nonce: ours.clone() }) {
        return Ok(false);
    }
    match messages.next() {
        Some(Ok(ToAgent::Welcome { proof })) if options.token.verify(&ours, &proof) => Ok(true),
        Some(Ok(ToAgent::Welcome { .. })) => Err(AgentError::Impostor { master: options.master.clone() }),
        Some(Ok(ToAgent::Refused { reason })) => Err(AgentError::Refused { master: options.master.clone(), reason }),
        _ => Ok(false),
    }
}

/// The listener of this machine's worker processes for timely: on `advertise`, or on the
/// address this machine reaches the master from (so the master's network reaches it there
/// too) and a port the kernel picks.
fn timely_listener(advertise: Option<&str>, master: &TcpStream) -> Result<TcpListener, AgentError> {
    let address = match advertise {
        Some(address) => address.to_string(),
        None => std::net::SocketAddr::new(master.local_addr().map_err(|source| AgentError::Listen { address: "?".into(), source })?.ip(), 0).to_string(),
    };
    TcpListener::bind(&address).map_err(|source| AgentError::Listen { address, source })
}

fn stop(current: &Current) {
    if let Some((_, mut child)) = current.lock().expect("current process").take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Tells the master when the process ends, and that the agent lives, until disconnected.
fn watch_process(current: Current, connected: Arc<AtomicBool>, say: impl Fn(&ToMaster) -> bool + Send + 'static) {
    std::thread::spawn(move || {
        let mut last_said = Instant::now();
        while connected.load(Ordering::Relaxed) {
            let exited = {
                let mut current = current.lock().expect("current process");
                let exit = current.as_mut().and_then(|(generation, child)| match child.try_wait() {
                    Ok(Some(exit)) => Some((*generation, exit.success(), exit.to_string())),
                    Ok(None) => None,
                    Err(e) => Some((*generation, false, e.to_string())),
                });
                if exit.is_some() {
                    *current = None;
                }
                exit
            };
            if let Some((generation, success, status)) = exited {
                say(&ToMaster::Exited { generation, success, status });
                last_said = Instant::now();
            }
            if last_said.elapsed() >= HEARTBEAT {
                say(&ToMaster::Heartbeat);
                last_said = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
}

/// Sends the process's report lines to the master and prints its other output.
fn forward_reports(stream: Option<impl std::io::Read + Send + 'static>, generation: u64, say: impl Fn(&ToMaster) -> bool + Send + 'static) {
    if let Some(stream) = stream {
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                match WorkerReport::parse_line(&line) {
                    Some(report) => {
                        say(&ToMaster::Report { generation, report });
                    }
                    None => println!("{line}"),
                }
            }
        });
    }
}
