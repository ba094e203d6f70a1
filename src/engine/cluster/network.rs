//! Connecting the processes of a cluster through listeners bound before anyone was told an
//! address, so processes can listen on ports the kernel picked (port 0) and no port is
//! probed free and then taken by someone else before the process binds it.
//!
//! timely binds each process's port itself, from the address list, once every process knows
//! every address: the addresses must be fixed before any process starts. Here the supervisor
//! (the master for processes on its machine, an agent for its own) binds the listener first,
//! hands the process its file descriptor, and hands out the address it really got. The
//! connections then follow timely's own protocol (process i connects to every process before
//! it and sends its index as a big-endian u64; it accepts the processes after it), so a
//! process started by timely's own `-h HOSTFILE` can join the same cluster, and timely's
//! allocators run over the connected sockets unchanged.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use timely_communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely_communication::allocator::{AllocatorBuilder, ProcessBuilder};
use timely_communication::{Hooks, WorkerGuards};

/// Runs `func` on every worker of this process, as `timely::execute` would, with the
/// connections to the other processes made through `listener` (this process's address in
/// `config`).
pub fn execute_on<T, F>(listener: TcpListener, config: timely::Config, func: F) -> Result<WorkerGuards<T>, String>
where
    T: Send + 'static,
    F: Fn(&mut timely::worker::Worker) -> T + Send + Sync + 'static,
{
    let timely::CommunicationConfig::Cluster { threads, process, addresses, .. } = config.communication else {
        return timely::execute(config, func);
    };
    let sockets = connect(&listener, &addresses, process).map_err(|e| format!("cannot connect the cluster's processes: {e}"))?;
    drop(listener);
    let hooks = Hooks::default();
    let local = ProcessBuilder::new_typed_vector(threads, hooks.refill.clone(), hooks.spill.clone());
    let (builders, guard) = initialize_networking_from_sockets(local, sockets, process, threads, hooks).map_err(|e| e.to_string())?;
    let builders = builders.into_iter().map(AllocatorBuilder::Tcp).collect();
    timely::execute::execute_from(builders, Box::new(guard), config.worker, func)
}

/// One socket per other process, in process order (`None` for this one): connected to each
/// process before `me` (retrying while it starts), accepted from each after it.
fn connect(listener: &TcpListener, addresses: &[String], me: usize) -> std::io::Result<Vec<Option<TcpStream>>> {
    let mut sockets = Vec::with_capacity(addresses.len());
    for (index, address) in addresses.iter().enumerate().take(me) {
        let mut stream = loop {
            match TcpStream::connect(address) {
                Ok(stream) => break stream,
                Err(e) => {
                    tracing::info!(process = index, %address, error = %e, "process not reachable yet; retrying");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        };
        stream.set_nodelay(true)?;
        stream.write_all(&(me as u64).to_be_bytes())?;
        sockets.push(Some(stream));
    }
    sockets.push(None);
    let mut later: Vec<Option<TcpStream>> = (me + 1..addresses.len()).map(|_| None).collect();
    while later.iter().any(Option::is_none) {
        let (mut stream, peer) = listener.accept()?;
        stream.set_nodelay(true)?;
        let mut index = [0u8; 8];
        stream.read_exact(&mut index)?;
        let index = u64::from_be_bytes(index) as usize;
        match later.get_mut(index.wrapping_sub(me + 1)) {
            Some(slot @ None) => *slot = Some(stream),
            _ => tracing::warn!(%peer, index, "a connection that is no process after this one; closing it"),
        }
    }
    sockets.extend(later);
    Ok(sockets)
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    /// Three processes connect through listeners bound to port 0, each with every other.
    #[test]
    fn processes_connect_through_listeners_bound_first() {
        let listeners: Vec<TcpListener> = (0..3).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
        let addresses: Vec<String> = listeners.iter().map(|l| l.local_addr().unwrap().to_string()).collect();
        let handles: Vec<_> = listeners
            .into_iter()
            .enumerate()
            .map(|(me, listener)| {
                let addresses = addresses.clone();
                std::thread::spawn(move || super::connect(&listener, &addresses, me).unwrap())
            })
            .collect();
        for (me, handle) in handles.into_iter().enumerate() {
            let sockets = handle.join().unwrap();
            assert_eq!(sockets.len(), 3);
            for (index, socket) in sockets.iter().enumerate() {
                assert_eq!(socket.is_none(), index == me, "process {me}: socket to {index}");
            }
        }
    }
}
