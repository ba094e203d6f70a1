//! An operator that writes each epoch's updates with async I/O and holds the epoch open until
//! the writes are acknowledged.
//!
//! Updates are stashed by their epoch. Once the input frontier passes an epoch, its updates
//! are handed to `write` on the tokio runtime, and a capability for the epoch is kept on the
//! (data-less) output until `write` finishes. A probe after every sink therefore sees an
//! epoch pass only when every sink of every worker has made it durable.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::sync::mpsc;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::{Capability, Operator};
use timely::dataflow::{Scope, Stream};

/// Writes the `(data, epoch, diff)` updates of `stream` epoch by epoch with `write`, which
/// must retry until it succeeds. The returned stream carries no data; its frontier is the
/// epoch before which everything is written.
pub fn async_sink<'scope, D, F, Fut>(
    scope: Scope<'scope, u64>,
    stream: Stream<'scope, u64, Vec<(D, u64, isize)>>,
    name: &str,
    runtime: tokio::runtime::Handle,
    write: F,
) -> Stream<'scope, u64, Vec<()>>
where
    D: Clone + 'static,
    F: Fn(u64, Vec<(D, isize)>) -> Fut + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    stream.unary_frontier::<CapacityContainerBuilder<Vec<()>>, _, _, _>(Pipeline, name, move |_capability, info| {
        let activator = Arc::new(scope.worker().sync_activator_for(info.address.to_vec()));
        let (done_tx, done_rx) = mpsc::channel::<u64>();
        let mut stash: BTreeMap<u64, (Capability<u64>, Vec<(D, isize)>)> = BTreeMap::new();
        let mut writing: HashMap<u64, Capability<u64>> = HashMap::new();
        move |(input, frontier), _output| {
            input.for_each(|cap, data| {
                for (datum, epoch, diff) in data.drain(..) {
                    stash.entry(epoch).or_insert_with(|| (cap.delayed(&epoch, 0), Vec::new())).1.push((datum, diff));
                }
            });
            while let Some(entry) = stash.first_entry() {
                if frontier.less_equal(entry.key()) {
                    break;
                }
                let (epoch, (capability, updates)) = entry.remove_entry();
                writing.insert(epoch, capability);
                let (done, activator) = (done_tx.clone(), activator.clone());
                let future = write(epoch, updates);
                runtime.spawn(async move {
                    future.await;
                    let _ = done.send(epoch);
                    let _ = activator.activate();
                });
            }
            while let Ok(epoch) = done_rx.try_recv() {
                writing.remove(&epoch);
            }
        }
    })
}
