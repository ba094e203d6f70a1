//! An operator that writes each epoch's updates with async I/O and holds the epoch open until
//! the writes are acknowledged.
//!
//! Updates are stashed by their epoch. Once the input frontier passes an epoch it is ready.
//! A write round takes every ready epoch at once (oldest first), and a capability for each is
//! kept on the (data-less) output until the round finishes. A probe after every sink
//! therefore sees an epoch pass only when every sink of every worker has made it durable.
//! Under light load a round is one short epoch, so latency stays low; under heavy load rounds
//! grow, so writes batch up instead of queueing round after round. A few rounds may be in
//! flight at once, so one slow write delays its own rows, not the epochs behind it.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::{Capability, Operator};
use timely::dataflow::Stream;

/// An epoch's capability and its updates, waiting for the frontier to pass it.
type Stashed<D> = (Capability<u64>, Vec<(D, isize)>);

/// How an [`AsyncSink`] writes.
#[derive(Debug, Clone)]
pub struct AsyncSinkOptions {
    /// Where the writes run.
    pub runtime: tokio::runtime::Handle,
    /// Most write rounds in flight at once.
    pub rounds: usize,
    /// Rounds start at most this often (zero: whenever one may).
    pub every: Duration,
}

/// Writes a stream of `(data, epoch, diff)` updates with async I/O.
pub trait AsyncSink<'scope, D> {
    /// Writes the updates with `write(epoch, updates)`, which must retry until it succeeds. A
    /// call may cover several epochs: `epoch` is the newest, and `updates` come in epoch
    /// order. The returned stream carries no data; its frontier is the epoch before which
    /// everything is written.
    fn async_sink<F, Fut>(self, name: &str, options: AsyncSinkOptions, write: F) -> Stream<'scope, u64, Vec<()>>
    where
        F: Fn(u64, Vec<(D, isize)>) -> Fut + 'static,
        Fut: Future<Output = ()> + Send + 'static;
}

impl<'scope, D: Clone + 'static> AsyncSink<'scope, D> for Stream<'scope, u64, Vec<(D, u64, isize)>> {
    fn async_sink<F, Fut>(self, name: &str, options: AsyncSinkOptions, write: F) -> Stream<'scope, u64, Vec<()>>
    where
        F: Fn(u64, Vec<(D, isize)>) -> Fut + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let scope = self.scope();
        let AsyncSinkOptions { runtime, rounds, every } = options;
        self.unary_frontier::<CapacityContainerBuilder<Vec<()>>, _, _, _>(Pipeline, name, move |_capability, info| {
            let activator = Arc::new(scope.worker().sync_activator_for(info.address.to_vec()));
            let timer = scope.activator_for(info.address.clone());
            let mut last_round: Option<Instant> = None;
            let (done_tx, done_rx) = mpsc::channel::<u64>();
            let mut stash: BTreeMap<u64, Stashed<D>> = BTreeMap::new();
            // Capabilities of the epochs of each round in flight, by the round's newest epoch.
            let mut writing: HashMap<u64, Vec<Capability<u64>>> = HashMap::new();
            move |(input, frontier), _output| {
                input.for_each(|cap, data| {
                    for (datum, epoch, diff) in data.drain(..) {
                        stash.entry(epoch).or_insert_with(|| (cap.delayed(&epoch, 0), Vec::new())).1.push((datum, diff));
                    }
                });
                while let Ok(round) = done_rx.try_recv() {
                    writing.remove(&round);
                }
                if writing.len() >= rounds.max(1) {
                    return;
                }
                if let Some(wait) = last_round.map(|at| every.saturating_sub(at.elapsed())).filter(|w| !w.is_zero()) {
                    if !stash.is_empty() {
                        timer.activate_after(wait);
                    }
                    return;
                }
                let mut updates = Vec::new();
                let mut capabilities = Vec::new();
                let mut newest = None;
                while let Some(entry) = stash.first_entry() {
                    if frontier.less_equal(entry.key()) {
                        break;
                    }
                    let (epoch, (capability, mut epoch_updates)) = entry.remove_entry();
                    if updates.is_empty() {
                        updates = epoch_updates;
                    } else {
                        updates.append(&mut epoch_updates);
                    }
                    capabilities.push(capability);
                    newest = Some(epoch);
                }
                if let Some(epoch) = newest {
                    last_round = Some(Instant::now());
                    writing.insert(epoch, capabilities);
                    let (done, activator) = (done_tx.clone(), activator.clone());
                    let future = write(epoch, updates);
                    runtime.spawn(async move {
                        future.await;
                        let _ = done.send(epoch);
                        let _ = activator.activate();
                    });
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use timely::container::CapacityContainerBuilder;
    use timely::dataflow::InputHandle;
    use timely::dataflow::operators::probe::Handle as ProbeHandle;
    use timely::dataflow::operators::{Concatenate, Probe};

    use super::{AsyncSink, AsyncSinkOptions};

    type Updates = Vec<(u32, u64, isize)>;

    /// The durability rule: the probe after every sink, which decides when an epoch's offsets
    /// are recorded, passes an epoch only once every sink's writes of it were acknowledged.
    #[test]
    fn an_epoch_is_durable_only_once_every_sink_acknowledged_it() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let io = runtime.handle().clone();
        // The slow sink's writes each wait for a permit of this gate, which the test gives.
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let slow_gate = gate.clone();
        // What the slow sink was asked to write: (epoch, updates), one entry per write.
        let written: Arc<std::sync::Mutex<Vec<(u64, Vec<(u32, isize)>)>>> = Arc::default();
        let slow_written = written.clone();
        let writes = move || written.lock().unwrap().clone();
        timely::execute_directly(move |worker| {
            let mut input = InputHandle::<u64, CapacityContainerBuilder<Updates>>::new();
            let durable = ProbeHandle::new();
            worker.dataflow::<u64, _, _>(|scope| {
                let stream = input.to_stream(scope);
                let options = AsyncSinkOptions { runtime: io.clone(), rounds: 1, every: Duration::ZERO };
                let fast = stream.clone().async_sink("Fast", options.clone(), |_epoch, _updates: Vec<(u32, isize)>| async {});
                let slow = stream.async_sink("Slow", options, move |epoch, updates: Vec<(u32, isize)>| {
                    slow_written.lock().unwrap().push((epoch, updates));
                    let gate = slow_gate.clone();
                    async move { gate.acquire().await.expect("the gate stays open").forget() }
                });
                scope.concatenate(vec![fast, slow]).probe_with(&durable);
            });
            let step_for = |worker: &mut timely::worker::Worker, time: Duration| {
                let until = Instant::now() + time;
                while Instant::now() < until {
                    worker.step_or_park(Some(Duration::from_millis(10)));
                }
            };
            input.advance_to(1);
            input.send((7, 1, 1));
            input.advance_to(2);
            // Epoch 1 is complete: the fast sink acknowledges it at once, the slow one cannot.
            step_for(worker, Duration::from_millis(300));
            assert!(durable.less_equal(&1), "epoch 1 is not durable while one sink has not acknowledged it");
            assert_eq!(writes(), [(1, vec![(7, 1)])], "the slow sink was asked to write epoch 1's update, once");
            // Epoch 2 completes too, but waits: one write round in flight at a time.
            input.send((8, 2, 1));
            input.advance_to(3);
            step_for(worker, Duration::from_millis(300));
            assert_eq!(writes().len(), 1, "epoch 2's round waits for epoch 1's to finish");
            gate.add_permits(1);
            let deadline = Instant::now() + Duration::from_secs(10);
            while durable.less_equal(&1) {
                assert!(Instant::now() < deadline, "epoch 1 becomes durable once every sink acknowledged it");
                worker.step_or_park(Some(Duration::from_millis(10)));
            }
            // Epoch 2's write has begun but has no permit: epoch 2 stays held.
            while writes().len() < 2 {
                assert!(Instant::now() < deadline, "epoch 2's round starts once epoch 1's finished: {:?}", writes());
                worker.step_or_park(Some(Duration::from_millis(10)));
            }
            step_for(worker, Duration::from_millis(300));
            assert!(durable.less_equal(&2), "epoch 2 is not durable before its write is acknowledged");
            gate.add_permits(1);
            while durable.less_equal(&2) {
                assert!(Instant::now() < deadline, "epoch 2 becomes durable once its write is acknowledged");
                worker.step_or_park(Some(Duration::from_millis(10)));
            }
            assert_eq!(writes(), [(1, vec![(7, 1)]), (2, vec![(8, 1)])], "each epoch written once, with its own updates");
            drop(input);
        });
    }
}
