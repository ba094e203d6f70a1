//! Connecting the processes of a cluster through listeners bound before anyone was told an
//! address, so processes can listen on ports the kernel picked (port 0) and no port is
//! probed free and then taken by someone else before the process binds it; and proving on
//! every connection that both ends know the cluster token.
//!
//! timely binds each process's port itself, from the address list, once every process knows
//! every address: the addresses must be fixed before any process starts. Here the supervisor
//! (the master for processes on its machine, an agent for its own) binds the listener first,
//! hands the process its file descriptor, and hands out the address it really got. A process
//! started without one (`rtds worker -n 2 -p 0 -h HOSTFILE`) binds its own line of the
//! hostfile here. The connections follow timely's order (process i connects to every process
//! before it; it accepts the processes after it), and timely's allocators run over the
//! connected sockets unchanged.
//!
//! timely's own handshake is only the connecting process's index: anyone who reaches the port
//! could take a process's slot, and a connection that never says anything would stop the
//! process from starting. Instead, before a socket is handed to timely, both ends prove they
//! know the cluster token (`control/token.rs`), each over a nonce of the other's:
//!
//! ```text
//! connecting process c                     accepting process a
//!   ◄─ a: u64 BE, na: 64 hex ─────────────   a's index and a fresh nonce
//!   ── c: u64 BE, nc: 64 hex, pc: 64 hex ─►  pc = HMAC(token, "rtds-timely connect a na c nc")
//!   ◄─ verdict: 1 byte ───────────────────   0 accepted; 1 wrong proof; 2 no slot for c
//!   ◄─ pa: 64 hex (after 0 only) ─────────   pa = HMAC(token, "rtds-timely accept a na c nc")
//! ```
//!
//! The proofs cover both indexes and both nonces, so one overheard cannot be replayed on
//! another connection nor for another slot, and the two roles' proofs differ, so one cannot be
//! reflected as the other. Only a connection whose proof holds takes its slot, and only once.
//!
//! Bounded in time: each accepted connection is answered on its own thread, within
//! [`HANDSHAKE_LIMIT`] per message, so a stranger that says nothing (or something wrong)
//! neither stops the process from accepting the others nor takes a slot: it is logged and
//! closed. At most [`MAX_HANDSHAKES`] are answered at once; more are closed at once. The
//! connecting side waits as long for each answer and connects again when one is missing (the
//! process may still be starting), but gives up after [`WRONG_ANSWERS`] wrong ones: the
//! process there has another cluster's token, or is not an rtds process at all.
//!
//! Limits: the connections are authenticated, not encrypted: whoever sits on the network path
//! can read the data, or take over a connection once it is made. Keep them on a private
//! network.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use timely_communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely_communication::allocator::{AllocatorBuilder, ProcessBuilder};
use timely_communication::{Hooks, WorkerGuards};

use crate::engine::control::{ClusterToken, HANDSHAKE_LIMIT};

/// Handshakes answered at once on one listener; a connection beyond them is closed at once.
const MAX_HANDSHAKES: usize = 32;
/// Wrong answers (not missing ones) a connecting process takes from one address before it gives up.
const WRONG_ANSWERS: u32 = 3;
/// The pause before connecting again.
const RETRY: Duration = Duration::from_secs(1);
/// A nonce and a proof are 32 bytes, as hex.
const HEX: usize = 64;

/// The accepting process's verdicts.
const ACCEPTED: u8 = 0;
const WRONG_PROOF: u8 = 1;
const NO_SLOT: u8 = 2;

/// Runs `func` on every worker of this process, as `timely::execute` would. With more than one
/// process, the connections to the others are made through `listener` (this process's address
/// in `config`, bound here when `None`) and authenticated with `token`, which they need.
pub fn execute_on<T, F>(listener: Option<TcpListener>, token: Option<ClusterToken>, config: timely::Config, func: F) -> Result<WorkerGuards<T>, String>
where
    T: Send + 'static,
    F: Fn(&mut timely::worker::Worker) -> T + Send + Sync + 'static,
{
    let timely::CommunicationConfig::Cluster { threads, process, addresses, .. } = config.communication else {
        return timely::execute(config, func);
    };
    let token = token.ok_or_else(|| crate::engine::control::TokenError::Missing.to_string())?;
    let listener = match listener {
        Some(listener) => listener,
        None => {
            let address = addresses.get(process).ok_or_else(|| format!("process {process} has no address among {}", addresses.len()))?;
            TcpListener::bind(address.as_str()).map_err(|e| format!("cannot listen for the other processes on {address} (process {process}'s address): {e}"))?
        }
    };
    let sockets = connect(&listener, &addresses, process, &token).map_err(|e| format!("cannot connect the cluster's processes: {e}"))?;
    drop(listener);
    let hooks = Hooks::default();
    let local = ProcessBuilder::new_typed_vector(threads, hooks.refill.clone(), hooks.spill.clone());
    let (builders, guard) = initialize_networking_from_sockets(local, sockets, process, threads, hooks).map_err(|e| e.to_string())?;
    let builders = builders.into_iter().map(AllocatorBuilder::Tcp).collect();
    timely::execute::execute_from(builders, Box::new(guard), config.worker, func)
}

/// One authenticated socket per other process, in process order (`None` for this one):
/// connected to each process before `me` (retrying while it starts), accepted from each after it.
fn connect(listener: &TcpListener, addresses: &[String], me: usize, token: &ClusterToken) -> std::io::Result<Vec<Option<TcpStream>>> {
    let mut sockets = Vec::with_capacity(addresses.len());
    for (index, address) in addresses.iter().enumerate().take(me) {
        sockets.push(Some(connect_to(address, index, me, token)?));
    }
    sockets.push(None);
    sockets.extend(accept_from(listener, addresses.len().saturating_sub(me + 1), me, token)?);
    Ok(sockets)
}

/// Why a handshake failed, as the connecting side sees it.
enum Failure {
    /// No (complete) answer: the process may still be starting; connect again.
    Missing(std::io::Error),
    /// A wrong answer: counts towards giving up.
    Wrong(String),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::Missing(e)
    }
}

/// The socket to process `index` at `address`, once it accepted this process's proof and
/// proved it knows the token too.
fn connect_to(address: &str, index: usize, me: usize, token: &ClusterToken) -> std::io::Result<TcpStream> {
    let mut wrong = 0;
    loop {
        match TcpStream::connect(address) {
            Err(e) => tracing::info!(process = index, %address, error = %e, "process not reachable yet; retrying"),
            Ok(stream) => match introduce(stream, index, me, token) {
                Ok(stream) => return Ok(stream),
                Err(Failure::Missing(e)) => tracing::warn!(process = index, %address, error = %e, "no answer to the handshake; connecting again"),
                Err(Failure::Wrong(reason)) => {
                    wrong += 1;
                    tracing::warn!(process = index, %address, %reason, attempt = wrong, "the handshake failed");
                    if wrong >= WRONG_ANSWERS {
                        return Err(std::io::Error::other(format!("process {index} at {address}: {reason}")));
                    }
                }
            },
        }
        std::thread::sleep(RETRY);
    }
}

/// The connecting side of the handshake (see the module docs).
fn introduce(mut stream: TcpStream, expected: usize, me: usize, token: &ClusterToken) -> Result<TcpStream, Failure> {
    bound(&stream, Some(HANDSHAKE_LIMIT))?;
    let mut hello = [0u8; 8 + HEX];
    stream.read_exact(&mut hello)?;
    let accepter = index_of(&hello[..8]);
    let Some(accepter_nonce) = hex_text(&hello[8..]) else {
        return Err(Failure::Wrong("it does not speak rtds's handshake: it is not an rtds worker process".into()));
    };
    if accepter != expected {
        return Err(Failure::Wrong(format!("the process there is process {accepter}, not {expected}: check the addresses (hostfile)")));
    }
    let ours = ClusterToken::nonce();
    let transcript = |role: &str| transcript(role, accepter, accepter_nonce, me, &ours);
    let mut answer = Vec::with_capacity(8 + 2 * HEX);
    answer.extend_from_slice(&(me as u64).to_be_bytes());
    answer.extend_from_slice(ours.as_bytes());
    answer.extend_from_slice(token.proof(&transcript("connect")).as_bytes());
    stream.write_all(&answer)?;
    let mut verdict = [0u8; 1];
    stream.read_exact(&mut verdict)?;
    match verdict[0] {
        ACCEPTED => {}
        WRONG_PROOF => {
            return Err(Failure::Wrong(
                "it refused this process's proof: the two processes have different cluster tokens (RTDS_CLUSTER_TOKEN or --token-file)".into(),
            ));
        }
        NO_SLOT => return Err(Failure::Wrong(format!("it has no slot for process {me}: check -n and the addresses, or another process {me} is connected already"))),
        _ => return Err(Failure::Wrong("it answered with an unknown verdict: it is not an rtds worker process".into())),
    }
    let mut proof = [0u8; HEX];
    stream.read_exact(&mut proof)?;
    if !token.verify(&transcript("accept"), std::str::from_utf8(&proof).unwrap_or_default()) {
        return Err(Failure::Wrong("it does not prove it knows the cluster token: it has another cluster's token, or is not an rtds worker process".into()));
    }
    bound(&stream, None)?;
    Ok(stream)
}

/// The sockets of the `count` processes after `me`, in order: each connection is answered on
/// its own thread and takes its slot only once its proof holds.
fn accept_from(listener: &TcpListener, count: usize, me: usize, token: &ClusterToken) -> std::io::Result<Vec<Option<TcpStream>>> {
    let slots: Arc<Mutex<Vec<Option<TcpStream>>>> = Arc::new(Mutex::new((0..count).map(|_| None).collect()));
    let answering = Arc::new(AtomicUsize::new(0));
    // Not blocking, so this loop sees the slots fill up without waiting for another connection.
    listener.set_nonblocking(true)?;
    let accepted = loop {
        if slots.lock().expect("slots").iter().all(Option::is_some) {
            break Ok(());
        }
        match listener.accept() {
            Ok((stream, peer)) => {
                if answering.load(Ordering::SeqCst) >= MAX_HANDSHAKES {
                    tracing::warn!(%peer, "too many handshakes in progress on the cluster's port; closing this connection");
                    continue;
                }
                answering.fetch_add(1, Ordering::SeqCst);
                let (slots, answering, token) = (slots.clone(), answering.clone(), token.clone());
                std::thread::spawn(move || {
                    match answer(stream, me, &token, &slots) {
                        Ok(index) => tracing::info!(process = index, %peer, "process connected"),
                        Err(reason) => tracing::warn!(%peer, %reason, "refused a connection to the cluster's port; closing it"),
                    }
                    answering.fetch_sub(1, Ordering::SeqCst);
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(20)),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::Interrupted | std::io::ErrorKind::ConnectionAborted) => {}
            Err(e) => break Err(e),
        }
    };
    let _ = listener.set_nonblocking(false);
    accepted?;
    // Handshakes still in progress find no slot left.
    Ok(std::mem::take(&mut *slots.lock().expect("slots")))
}

/// The accepting side of the handshake (see the module docs): the index of the process that
/// took its slot, or why the connection was refused.
fn answer(mut stream: TcpStream, me: usize, token: &ClusterToken, slots: &Mutex<Vec<Option<TcpStream>>>) -> Result<usize, String> {
    let io = |e: std::io::Error| format!("no complete handshake within {}s ({e})", HANDSHAKE_LIMIT.as_secs());
    stream.set_nonblocking(false).map_err(io)?;
    bound(&stream, Some(HANDSHAKE_LIMIT)).map_err(io)?;
    let ours = ClusterToken::nonce();
    let mut hello = Vec::with_capacity(8 + HEX);
    hello.extend_from_slice(&(me as u64).to_be_bytes());
    hello.extend_from_slice(ours.as_bytes());
    stream.write_all(&hello).map_err(io)?;
    let mut reply = [0u8; 8 + 2 * HEX];
    stream.read_exact(&mut reply).map_err(io)?;
    let index = index_of(&reply[..8]);
    let proven = hex_text(&reply[8..8 + HEX])
        .is_some_and(|theirs| token.verify(&transcript("connect", me, &ours, index, theirs), std::str::from_utf8(&reply[8 + HEX..]).unwrap_or_default()));
    if !proven {
        let _ = stream.write_all(&[WRONG_PROOF]);
        return Err(format!("a wrong proof for process {index}: not a process of this cluster (another cluster's token?)"));
    }
    let theirs = hex_text(&reply[8..8 + HEX]).expect("checked above");
    let mut slots = slots.lock().expect("slots");
    let Some(slot @ None) = slots.get_mut(index.wrapping_sub(me + 1)) else {
        let _ = stream.write_all(&[NO_SLOT]);
        return Err(format!("process {index} is no process after this one, or is connected already"));
    };
    let mut welcome = vec![ACCEPTED];
    welcome.extend_from_slice(token.proof(&transcript("accept", me, &ours, index, theirs)).as_bytes());
    stream.write_all(&welcome).map_err(io)?;
    bound(&stream, None).map_err(io)?;
    *slot = Some(stream);
    Ok(index)
}

/// What a proof covers: the role that makes it, both indexes and both nonces.
fn transcript(role: &str, accepter: usize, accepter_nonce: &str, connecter: usize, connecter_nonce: &str) -> String {
    format!("rtds-timely {role} {accepter} {accepter_nonce} {connecter} {connecter_nonce}")
}

/// Sets (or lifts) the handshake's time limit on a socket; timely's own reads wait forever.
fn bound(stream: &TcpStream, limit: Option<Duration>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(limit)?;
    stream.set_write_timeout(limit)
}

fn index_of(bytes: &[u8]) -> usize {
    u64::from_be_bytes(bytes.try_into().expect("8 bytes")) as usize
}

/// A nonce as text, if it is hex.
fn hex_text(bytes: &[u8]) -> Option<&str> {
    bytes.iter().all(u8::is_ascii_hexdigit).then(|| std::str::from_utf8(bytes).expect("ASCII"))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc::channel;
    use std::time::{Duration, Instant};

    use super::{ACCEPTED, HEX, WRONG_PROOF, connect, transcript};
    use crate::engine::control::ClusterToken;

    type Sockets = std::io::Result<Vec<Option<TcpStream>>>;

    fn token() -> ClusterToken {
        ClusterToken::new("the cluster's own long secret").unwrap()
    }

    fn another() -> ClusterToken {
        ClusterToken::new("another cluster's long secret").unwrap()
    }

    fn listeners(count: usize) -> (Vec<TcpListener>, Vec<String>) {
        let listeners: Vec<TcpListener> = (0..count).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
        let addresses = listeners.iter().map(|l| l.local_addr().unwrap().to_string()).collect();
        (listeners, addresses)
    }

    /// Starts process `me`; its result arrives on the channel.
    fn start(listener: TcpListener, addresses: &[String], me: usize, token: ClusterToken, results: &std::sync::mpsc::Sender<(usize, Sockets)>) {
        let (addresses, results) = (addresses.to_vec(), results.clone());
        std::thread::spawn(move || {
            let _ = results.send((me, connect(&listener, &addresses, me, &token)));
        });
    }

    /// The results of `count` processes, each within `limit` (else the test fails: a process
    /// is blocked).
    fn results(results: &std::sync::mpsc::Receiver<(usize, Sockets)>, count: usize, limit: Duration) -> Vec<Sockets> {
        let deadline = Instant::now() + limit;
        let mut all: Vec<Option<Sockets>> = (0..count).map(|_| None).collect();
        for _ in 0..count {
            let left = deadline.saturating_duration_since(Instant::now());
            let (me, result) = results.recv_timeout(left).unwrap_or_else(|_| panic!("not every process was done within {limit:?}"));
            all[me] = Some(result);
        }
        all.into_iter().map(Option::unwrap).collect()
    }

    /// Every process holds a socket to every other, and each reaches the process it says.
    fn assert_connected(all: Vec<Sockets>) {
        let mut all: Vec<Vec<Option<TcpStream>>> = all.into_iter().map(|s| s.expect("the process connected")).collect();
        for (me, sockets) in all.iter().enumerate() {
            assert_eq!(sockets.len(), all.len());
            for (index, socket) in sockets.iter().enumerate() {
                assert_eq!(socket.is_none(), index == me, "process {me}: socket to {index}");
            }
        }
        for i in 0..all.len() {
            for j in 0..all.len() {
                if i != j {
                    all[i][j].as_mut().unwrap().write_all(&[i as u8]).unwrap();
                    let mut byte = [0u8];
                    all[j][i].as_mut().unwrap().read_exact(&mut byte).unwrap();
                    assert_eq!(byte[0] as usize, i, "process {j}'s socket for {i} reaches {i}");
                }
            }
        }
    }

    /// Three processes connect through listeners bound to port 0, each with every other.
    #[test]
    fn processes_connect_through_listeners_bound_first() {
        let (listeners, addresses) = listeners(3);
        let (tx, rx) = channel();
        for (me, listener) in listeners.into_iter().enumerate() {
            start(listener, &addresses, me, token(), &tx);
        }
        assert_connected(results(&rx, 3, Duration::from_secs(10)));
    }

    /// A connection that is accepted first and never says anything holds up nobody and takes
    /// no slot.
    #[test]
    fn a_silent_stranger_neither_blocks_the_cluster_nor_takes_a_slot() {
        let (listeners, addresses) = listeners(3);
        let mut silent = TcpStream::connect(&addresses[0]).unwrap();
        let (tx, rx) = channel();
        for (me, listener) in listeners.into_iter().enumerate() {
            start(listener, &addresses, me, token(), &tx);
        }
        assert_connected(results(&rx, 3, Duration::from_secs(5)));
        // The stranger heard only a challenge: it got no socket of the cluster.
        silent.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut heard = Vec::new();
        let _ = silent.read_to_end(&mut heard);
        assert_eq!(heard.len(), 8 + HEX, "the stranger was sent the challenge and then closed");
    }

    /// A stranger that claims process 1's slot with a proof under another token is refused,
    /// and the real process 1 still takes its slot.
    #[test]
    fn a_stranger_with_a_wrong_proof_is_refused() {
        let (mut listeners, addresses) = listeners(3);
        let (tx, rx) = channel();
        let rest = listeners.split_off(1);
        start(listeners.pop().unwrap(), &addresses, 0, token(), &tx);

        let mut stranger = TcpStream::connect(&addresses[0]).unwrap();
        stranger.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut hello = [0u8; 8 + HEX];
        stranger.read_exact(&mut hello).unwrap();
        assert_eq!(u64::from_be_bytes(hello[..8].try_into().unwrap()), 0);
        let nonce = std::str::from_utf8(&hello[8..]).unwrap();
        let ours = ClusterToken::nonce();
        let mut claim = 1u64.to_be_bytes().to_vec();
        claim.extend_from_slice(ours.as_bytes());
        claim.extend_from_slice(another().proof(&transcript("connect", 0, nonce, 1, &ours)).as_bytes());
        stranger.write_all(&claim).unwrap();
        let mut rest_of_it = Vec::new();
        stranger.read_to_end(&mut rest_of_it).unwrap();
        assert_eq!(rest_of_it, [WRONG_PROOF], "refused for its proof, and closed");

        for (me, listener) in rest.into_iter().enumerate() {
            start(listener, &addresses, me + 1, token(), &tx);
        }
        assert_connected(results(&rx, 3, Duration::from_secs(10)));
    }

    /// A process with another cluster's token is refused by the process it connects to: it
    /// fails, naming the cause, instead of joining or waiting forever.
    #[test]
    fn a_process_with_another_token_is_refused() {
        let (mut listeners, addresses) = listeners(2);
        let (tx, rx) = channel();
        let second = listeners.pop().unwrap();
        start(listeners.pop().unwrap(), &addresses, 0, token(), &tx);
        start(second, &addresses, 1, another(), &tx);
        let (me, result) = rx.recv_timeout(Duration::from_secs(10)).expect("the process with another token gives up");
        assert_eq!(me, 1);
        let error = result.expect_err("another token does not join").to_string();
        assert!(error.contains("different cluster tokens"), "{error}");
        assert!(rx.try_recv().is_err(), "process 0 still waits for its process 1");
    }

    /// A process that reaches a listener that does not know the token (another cluster's, at
    /// the address it was given) fails instead of joining it.
    #[test]
    fn a_process_answered_without_the_token_fails() {
        let (mut listeners, addresses) = listeners(2);
        let impostor = listeners.remove(0);
        std::thread::spawn(move || {
            for stream in impostor.incoming() {
                let mut stream = stream.unwrap();
                let nonce = ClusterToken::nonce();
                let mut hello = 0u64.to_be_bytes().to_vec();
                hello.extend_from_slice(nonce.as_bytes());
                stream.write_all(&hello).unwrap();
                let mut reply = [0u8; 8 + 2 * HEX];
                if stream.read_exact(&mut reply).is_err() {
                    continue;
                }
                let theirs = std::str::from_utf8(&reply[8..8 + HEX]).unwrap();
                let mut welcome = vec![ACCEPTED];
                welcome.extend_from_slice(another().proof(&transcript("accept", 0, &nonce, 1, theirs)).as_bytes());
                let _ = stream.write_all(&welcome);
            }
        });
        let (tx, rx) = channel();
        start(listeners.pop().unwrap(), &addresses, 1, token(), &tx);
        let (_, result) = rx.recv_timeout(Duration::from_secs(10)).expect("the process gives up");
        let error = result.expect_err("it does not join the impostor").to_string();
        assert!(error.contains("does not prove it knows the cluster token"), "{error}");
    }
}
