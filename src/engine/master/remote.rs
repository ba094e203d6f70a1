//! Worker processes on other machines: `rtds worker --master` agents register over TCP, are
//! assigned a process of the next generation, and report for it; an agent that leaves or
//! stays silent for [`SILENCE_LIMIT`] counts as a dead process.

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Event, Launcher, MasterError, Origin};
use crate::engine::control::{self, Assignment, ClusterToken, HANDSHAKE_LIMIT, HEARTBEAT, Messages, SILENCE_LIMIT, ToAgent, ToMaster};
use crate::engine::status::ClusterStatus;

/// Registrations in progress at once; a connection beyond them is closed at once.
const MAX_REGISTERING: usize = 16;

/// A registered remote agent. Dropping it (it left, or was silent too long) closes its
/// connection, so an agent that comes back after a cut link finds out and registers again.
struct Agent {
    id: u64,
    address: String,
    stream: Connection,
    last_heard: Instant,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.stream.lock().expect("agent connection").shutdown(Shutdown::Both);
    }
}

/// The writing side of an agent's connection, shared with the thread that sends it
/// heartbeats (one message at a time).
type Connection = Arc<Mutex<TcpStream>>;

/// Sends one message to an agent; a failure shows up as the agent leaving.
fn tell(stream: &Connection, message: &ToAgent) {
    let _ = control::send(&mut stream.lock().expect("agent connection"), message);
}

/// Runs the processes through registered agents: `agents` wait to be assigned;
/// `assigned[i]` runs process i of the current generation.
#[derive(Default)]
pub(super) struct RemoteLauncher {
    agents: Vec<Agent>,
    assigned: Vec<Agent>,
}

impl Launcher for RemoteLauncher {
    fn ready(&mut self, processes: usize, events: &Receiver<Event>, status: &Arc<Mutex<ClusterStatus>>) -> Result<Vec<String>, MasterError> {
        let agents = &mut self.agents;
        agents.append(&mut self.assigned);
        loop {
            agents.retain(|a| a.last_heard.elapsed() < SILENCE_LIMIT);
            status.lock().expect("status").registered = agents.len();
            if agents.len() >= processes {
                break;
            }
            match events.recv_timeout(Duration::from_millis(500)) {
                Ok(Event::Joined { agent, address, stream }) => {
                    eprintln!("rtds master: worker {address} registered ({} of {processes})", agents.len() + 1);
                    agents.push(Agent { id: agent, address, stream, last_heard: Instant::now() });
                }
                Ok(Event::Left { agent }) => agents.retain(|a| a.id != agent),
                Ok(Event::Heard { agent }) => heard(agents, agent),
                _ => {}
            }
        }
        self.assigned = agents.drain(..processes).collect();
        Ok(self.assigned.iter().map(|a| a.address.clone()).collect())
    }

    fn start(&mut self, assignments: Vec<Assignment>, _events: &Sender<Event>) -> Result<(), MasterError> {
        for (agent, assignment) in self.assigned.iter_mut().zip(assignments) {
            let index = assignment.index;
            // A send that fails shows up as the agent leaving.
            tell(&agent.stream, &ToAgent::Start(assignment));
            agent.last_heard = Instant::now();
            eprintln!("rtds master: worker process {index} starts on {}", agent.address);
        }
        Ok(())
    }

    fn index_of(&self, from: Origin) -> Option<usize> {
        match from {
            Origin::Agent(id) => self.assigned.iter().position(|a| a.id == id),
            Origin::Local(_) => None,
        }
    }

    fn membership(&mut self, event: Event) -> Option<usize> {
        match event {
            Event::Joined { agent, address, stream } => {
                self.agents.push(Agent { id: agent, address, stream, last_heard: Instant::now() });
                None
            }
            Event::Left { agent } => {
                self.agents.retain(|a| a.id != agent);
                self.assigned.iter().position(|a| a.id == agent)
            }
            Event::Heard { agent } => {
                heard(&mut self.agents, agent);
                heard(&mut self.assigned, agent);
                None
            }
            _ => None,
        }
    }

    fn silent(&self) -> Option<usize> {
        self.assigned.iter().position(|a| a.last_heard.elapsed() > SILENCE_LIMIT)
    }

    fn stop(&mut self, generation: u64) {
        for agent in self.assigned.iter_mut() {
            tell(&agent.stream, &ToAgent::Stop { generation });
        }
    }

    fn finish(&mut self) {
        for agent in self.agents.iter_mut().chain(self.assigned.iter_mut()) {
            tell(&agent.stream, &ToAgent::Finish);
        }
    }
}

/// The registration handshake (see the control protocol): the agent's timely address once it
/// proved it knows the token, else `None` (and the agent is told why).
fn register(writer: &mut TcpStream, messages: &mut Messages<ToMaster>, token: &ClusterToken, peer: &str) -> Option<String> {
    let nonce = ClusterToken::nonce();
    control::send(writer, &ToAgent::Challenge { nonce: nonce.clone() }).ok()?;
    // A connection that says nothing is dropped instead of holding a thread forever.
    messages.stream().set_read_timeout(Some(HANDSHAKE_LIMIT)).ok()?;
    let refuse = |writer: &mut TcpStream, reason: &str| {
        eprintln!("rtds master: refused a worker from {peer}: {reason}");
        let _ = control::send(writer, &ToAgent::Refused { reason: reason.to_string() });
        None
    };
    match messages.next() {
        Some(Ok(ToMaster::Register { address, proof, nonce: theirs })) => {
            if !token.verify(&nonce, &proof) {
                return refuse(writer, "wrong cluster token (RTDS_CLUSTER_TOKEN or --token-file must be the master's)");
            }
            messages.stream().set_read_timeout(None).ok()?;
            control::send(writer, &ToAgent::Welcome { proof: token.proof(&theirs) }).ok()?;
            Some(address)
        }
        Some(Ok(_)) => refuse(writer, "it did not register first"),
        Some(Err(e)) => refuse(writer, &format!("unreadable registration ({e})")),
        None => None,
    }
}

/// Says something to the agent every [`HEARTBEAT`] until the connection closes, so an agent
/// cut off from the master finds out within [`SILENCE_LIMIT`].
fn heartbeats(stream: Connection) {
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(HEARTBEAT);
            if control::send(&mut stream.lock().expect("agent connection"), &ToAgent::Heartbeat).is_err() {
                return;
            }
        }
    });
}

fn heard(agents: &mut [Agent], id: u64) {
    for agent in agents.iter_mut().filter(|a| a.id == id) {
        agent.last_heard = Instant::now();
    }
}

/// Listens on `listen` and accepts agents: each must register, proving it knows `token`,
/// within [`HANDSHAKE_LIMIT`], at most [`MAX_REGISTERING`] at once; then its messages become
/// events. Returns the address it
/// listens on (`listen` may name port 0).
pub(super) fn accept_agents(listen: SocketAddr, token: ClusterToken, events: Sender<Event>) -> Result<SocketAddr, MasterError> {
    let listener = TcpListener::bind(listen).map_err(|source| MasterError::Listen { addr: listen, source })?;
    let bound = listener.local_addr().map_err(|source| MasterError::Listen { addr: listen, source })?;
    let registering = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for (id, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            // Each registration holds a thread for up to HANDSHAKE_LIMIT: a flood of strangers
            // gets no more than MAX_REGISTERING of them.
            if registering.load(Ordering::SeqCst) >= MAX_REGISTERING {
                let peer = stream.peer_addr().map_or_else(|_| "?".to_string(), |a| a.to_string());
                eprintln!("rtds master: closed a connection from {peer}: {MAX_REGISTERING} registrations are in progress already");
                continue;
            }
            registering.fetch_add(1, Ordering::SeqCst);
            let (events, token, registering) = (events.clone(), token.clone(), registering.clone());
            let agent = id as u64;
            std::thread::spawn(move || {
                let registered = (|| {
                    let mut writer = stream.try_clone().ok()?;
                    let peer = stream.peer_addr().map_or_else(|_| "?".to_string(), |a| a.to_string());
                    let mut messages = control::messages::<ToMaster>(stream);
                    let address = register(&mut writer, &mut messages, &token, &peer)?;
                    Some((writer, messages, address))
                })();
                registering.fetch_sub(1, Ordering::SeqCst);
                let Some((writer, messages, address)) = registered else { return };
                let stream: Connection = Arc::new(Mutex::new(writer));
                heartbeats(stream.clone());
                let _ = events.send(Event::Joined { agent, address, stream });
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
    Ok(bound)
}
