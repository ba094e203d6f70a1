//! The latest version of each key, as a differential collection: the dedupe.
//!
//! Each update says "key K is value V as of version N" (or "is deleted", no value). The
//! operator keeps, per key, only its newest version and value in a hash map, and when an
//! epoch is complete applies the epoch's updates in version order: the key's old value leaves
//! the output (a difference of -1) and its new one enters (+1). This is Materialize's
//! `UPSERT` envelope; it replaces a `reduce` over every version of every key, which kept
//! every version ever read in two arrangements and copied them on each of their merges (a
//! tenth of the dedupe's CPU, and memory that grew with the versions rather than the keys).
//!
//! Semantics and limits:
//! - The input is upserts: updates with a positive difference. A retraction has no meaning
//!   here and is ignored (a delete is an update without a value).
//! - A version older than, or equal to, the key's newest is ignored, whatever the epoch it
//!   arrives in: a replay after a restart changes nothing, and order comes from the versions,
//!   never from arrival.
//! - A delete is kept as the key's newest version (without a value), so an older version
//!   arriving later does not bring the key back.
//! - Updates are exchanged by key: each worker keeps the keys it owns.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::time::Duration;

use differential_dataflow::{AsCollection, Hashable, VecCollection};
use serde::{Serialize, de::DeserializeOwned};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::operator::empty;

/// A key's version and its value (none: deleted).
pub type Versioned<K, N, V> = (K, (N, Option<V>));

/// Where the operator keeps each key's newest version: in memory ([`InMemory`]) or in a
/// checkpoint on disk ([`crate::checkpoint`]).
pub trait UpsertState<K, N, V, M>: 'static {
    /// Applies one complete epoch's `updates`, in version order, calling `changed(key, old,
    /// new)` for each key whose value changed, and records `marks` (what the epoch covered).
    fn apply(&mut self, updates: Vec<Versioned<K, N, V>>, marks: Vec<M>, changed: &mut dyn FnMut(K, Option<V>, Option<V>));

    /// `None` once every epoch applied is as durable as the state gets (always, for state
    /// in memory); else how long until [`sync`](Self::sync) is due.
    fn unsynced(&self) -> Option<Duration> {
        None
    }

    /// Makes every epoch applied durable.
    fn sync(&mut self) {}
}

/// The newest version of each key, in a hash map: the state of a run that does not outlive
/// its process.
pub struct InMemory<K, N, V>(HashMap<K, (N, Option<V>), foldhash::fast::RandomState>);

impl<K, N, V> Default for InMemory<K, N, V> {
    fn default() -> Self {
        InMemory(HashMap::default())
    }
}

impl<K: Hash + Eq + Clone + 'static, N: Ord + 'static, V: Clone + 'static, M> UpsertState<K, N, V, M> for InMemory<K, N, V> {
    fn apply(&mut self, updates: Vec<Versioned<K, N, V>>, _marks: Vec<M>, changed: &mut dyn FnMut(K, Option<V>, Option<V>)) {
        for (key, (version, value)) in updates {
            let old = match self.0.get_mut(&key) {
                Some((seen, _)) if *seen >= version => continue,
                Some(slot) => std::mem::replace(slot, (version, value.clone())).1,
                None => {
                    self.0.insert(key.clone(), (version, value.clone()));
                    None
                }
            };
            changed(key, old, value);
        }
    }
}

/// The latest version of each key ([module docs](self)).
pub trait Upsert<'scope, K, N, V> {
    /// Each key's value at its newest version, as a collection of `(key, value)`, kept in
    /// memory.
    fn upsert(self) -> VecCollection<'scope, u64, (K, V)>;

    /// The same, kept in `state`; `marks` (broadcast to every worker) say what each epoch
    /// covered, and reach the state with the epoch's updates. The second stream carries
    /// nothing and holds each epoch until the state has made it durable: what says an epoch
    /// is durable waits for it, the views downstream do not.
    fn upsert_into<M, S>(self, state: S, marks: Stream<'scope, u64, Vec<(M, u64, isize)>>) -> (VecCollection<'scope, u64, (K, V)>, Stream<'scope, u64, Vec<()>>)
    where
        M: Clone + 'static,
        S: UpsertState<K, N, V, M>;
}

impl<'scope, K, N, V> Upsert<'scope, K, N, V> for Stream<'scope, u64, Vec<(Versioned<K, N, V>, u64, isize)>>
where
    K: Hashable + Hash + Eq + Clone + Serialize + DeserializeOwned + Send + 'static,
    N: Ord + Clone + Serialize + DeserializeOwned + Send + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + 'static,
{
    fn upsert(self) -> VecCollection<'scope, u64, (K, V)> {
        let marks = empty::<u64, Vec<((), u64, isize)>>(self.scope());
        self.upsert_into(InMemory::default(), marks).0
    }

    fn upsert_into<M, S>(self, mut state: S, marks: Stream<'scope, u64, Vec<(M, u64, isize)>>) -> (VecCollection<'scope, u64, (K, V)>, Stream<'scope, u64, Vec<()>>)
    where
        M: Clone + 'static,
        S: UpsertState<K, N, V, M>,
    {
        let scope = self.scope();
        let mut builder = OperatorBuilder::new("Upsert".to_owned(), scope);
        let activator = scope.activator_for(builder.operator_info().address);
        let by_key = Exchange::new(|((key, _), _, _): &(Versioned<K, N, V>, u64, isize)| key.hashed().into());
        let mut updates = builder.new_input(self, by_key);
        let mut marks = builder.new_input(marks, Pipeline);
        let (output, rows) = builder.new_output::<Vec<((K, V), u64, isize)>>();
        let (_synced, synced) = builder.new_output::<Vec<()>>();
        let mut output = OutputBuilder::<_, CapacityContainerBuilder<Vec<((K, V), u64, isize)>>>::from(output);

        builder.build(move |_capabilities| {
            // Per epoch not yet complete: its capabilities (rows, synced), updates and marks.
            type Epoch<K, N, V, M> = ([Capability<u64>; 2], Vec<Versioned<K, N, V>>, Vec<M>);
            let mut pending: BTreeMap<u64, Epoch<K, N, V, M>> = BTreeMap::new();
            // The earliest epoch applied but not yet durable.
            let mut unsynced: Option<Capability<u64>> = None;
            move |frontiers| {
                let mut output = output.activate();
                let new = |cap: &timely::dataflow::operators::InputCapability<u64>, time: &u64| [cap.delayed(time, 0), cap.delayed(time, 1)];
                updates.for_each(|cap, data| {
                    for (update, time, diff) in data.drain(..) {
                        if diff > 0 {
                            pending.entry(time).or_insert_with(|| (new(&cap, &time), Vec::new(), Vec::new())).1.push(update);
                        }
                    }
                });
                marks.for_each(|cap, data| {
                    for (mark, time, _) in data.drain(..) {
                        pending.entry(time).or_insert_with(|| (new(&cap, &time), Vec::new(), Vec::new())).2.push(mark);
                    }
                });
                // A complete epoch's updates, in version order, against each key's newest.
                let complete = |time: &u64| frontiers.iter().all(|f| !f.less_equal(time));
                while let Some(entry) = pending.first_entry().filter(|e| complete(e.key())) {
                    let (time, ([cap, synced], mut updates, marks)) = entry.remove_entry();
                    updates.sort_by(|a, b| a.1.0.cmp(&b.1.0));
                    let mut session = output.session(&cap);
                    state.apply(updates, marks, &mut |key, old, new| {
                        if let Some(old) = old {
                            session.give(((key.clone(), old), time, -1));
                        }
                        if let Some(new) = new {
                            session.give(((key, new), time, 1));
                        }
                    });
                    unsynced.get_or_insert(synced);
                }
                if unsynced.is_some() {
                    match state.unsynced() {
                        None => unsynced = None,
                        Some(due) if due.is_zero() => {
                            state.sync();
                            unsynced = None;
                        }
                        Some(due) => activator.activate_after(due),
                    }
                }
            }
        });
        (rows.as_collection(), synced)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use differential_dataflow::input::InputSession;
    use timely::dataflow::operators::probe::Handle;

    use super::*;

    /// Feeds epochs of (key, version, value) and returns the output's net contents after each.
    fn run(epochs: Vec<Vec<(u32, u64, Option<&'static str>)>>) -> Vec<Vec<(u32, String)>> {
        timely::execute_directly(move |worker| {
            let mut input: InputSession<u64, (u32, (u64, Option<String>)), isize> = InputSession::new();
            let seen: Arc<Mutex<BTreeMap<(u32, String), isize>>> = Arc::default();
            let probe = Handle::new();
            let sink = seen.clone();
            worker.dataflow::<u64, _, _>(|scope| {
                input
                    .to_collection(scope)
                    .inner
                    .upsert()
                    .inspect(move |(data, _, diff)| *sink.lock().unwrap().entry(data.clone()).or_default() += diff)
                    .probe_with(&probe);
            });
            let mut after = Vec::new();
            for (epoch, updates) in epochs.into_iter().enumerate() {
                for (key, version, value) in updates {
                    input.insert((key, (version, value.map(String::from))));
                }
                input.advance_to(epoch as u64 + 1);
                input.flush();
                while probe.less_than(input.time()) {
                    worker.step();
                }
                let now = seen.lock().unwrap();
                assert!(now.values().all(|d| *d == 0 || *d == 1), "each row once: {now:?}");
                after.push(now.iter().filter(|(_, d)| **d == 1).map(|(k, _)| k.clone()).collect());
            }
            after
        })
    }

    #[test]
    fn the_newest_version_wins_whatever_the_order_it_arrives_in() {
        let after = run(vec![
            // Two versions of 1 in one epoch, the newer first.
            vec![(1, 5, Some("b")), (1, 3, Some("a")), (2, 1, Some("x"))],
            // An older version of 1 later: ignored; 2 moves on.
            vec![(1, 4, Some("old")), (2, 2, Some("y"))],
            // A replay of the same version: nothing changes.
            vec![(2, 2, Some("y"))],
        ]);
        assert_eq!(after[0], vec![(1, "b".into()), (2, "x".into())]);
        assert_eq!(after[1], vec![(1, "b".into()), (2, "y".into())]);
        assert_eq!(after[2], after[1]);
    }

    #[test]
    fn a_delete_removes_the_key_and_keeps_older_versions_out() {
        let after = run(vec![
            vec![(1, 1, Some("a")), (2, 1, Some("b"))],
            vec![(1, 2, None)],
            // Older than the delete: stays deleted. Newer: back.
            vec![(1, 1, Some("a"))],
            vec![(1, 3, Some("c")), (3, 1, None)],
        ]);
        assert_eq!(after[0], vec![(1, "a".into()), (2, "b".into())]);
        assert_eq!(after[1], vec![(2, "b".into())]);
        assert_eq!(after[2], vec![(2, "b".into())]);
        assert_eq!(after[3], vec![(1, "c".into()), (2, "b".into())]);
    }
}
