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
use timely::dataflow::{Scope, Stream};

/// An epoch's capability and its updates, waiting for the frontier to pass it.
type Stashed<D> = (Capability<u64>, Vec<(D, isize)>);

/// Writes the `(data, epoch, diff)` updates of `stream` with `write(epoch, updates)`, which
/// must retry until it succeeds. A call may cover several epochs: `epoch` is the newest, and
/// `updates` come in epoch order. At most `rounds` rounds are in flight, and they start at
/// most every `every` (zero: whenever one may). The returned stream carries no data; its frontier is the epoch before
/// which everything is written.
pub fn async_sink<'scope, D, F, Fut>(
    scope: Scope<'scope, u64>,
    stream: Stream<'scope, u64, Vec<(D, u64, isize)>>,
    name: &str,
    runtime: tokio::runtime::Handle,
    rounds: usize,
    every: Duration,
    write: F,
) -> Stream<'scope, u64, Vec<()>>
where
    D: Clone + 'static,
    F: Fn(u64, Vec<(D, isize)>) -> Fut + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    stream.unary_frontier::<CapacityContainerBuilder<Vec<()>>, _, _, _>(Pipeline, name, move |_capability, info| {
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
