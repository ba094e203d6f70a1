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

use differential_dataflow::{AsCollection, Hashable, VecCollection};
use serde::{Serialize, de::DeserializeOwned};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::{Capability, Operator};

/// A key's version and its value (none: deleted).
type Versioned<K, N, V> = (K, (N, Option<V>));

/// The latest version of each key ([module docs](self)).
pub trait Upsert<'scope, K, N, V> {
    /// Each key's value at its newest version, as a collection of `(key, value)`.
    fn upsert(self) -> VecCollection<'scope, u64, (K, V)>;
}

impl<'scope, K, N, V> Upsert<'scope, K, N, V> for Stream<'scope, u64, Vec<(Versioned<K, N, V>, u64, isize)>>
where
    K: Hashable + Hash + Eq + Clone + Serialize + DeserializeOwned + Send + 'static,
    N: Ord + Clone + Serialize + DeserializeOwned + Send + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + 'static,
{
    fn upsert(self) -> VecCollection<'scope, u64, (K, V)> {
        let by_key = Exchange::new(|((key, _), _, _): &(Versioned<K, N, V>, u64, isize)| key.hashed().into());
        self.unary_frontier::<CapacityContainerBuilder<Vec<((K, V), u64, isize)>>, _, _, _>(by_key, "Upsert", |_capability, _info| {
            let mut newest: HashMap<K, (N, Option<V>), foldhash::fast::RandomState> = HashMap::default();
            let mut pending: BTreeMap<u64, (Capability<u64>, Vec<Versioned<K, N, V>>)> = BTreeMap::new();
            move |(input, frontier), output| {
                input.for_each(|cap, data| {
                    for (update, time, diff) in data.drain(..) {
                        if diff > 0 {
                            pending.entry(time).or_insert_with(|| (cap.delayed(&time, 0), Vec::new())).1.push(update);
                        }
                    }
                });
                // A complete epoch's updates, in version order, against each key's newest.
                while let Some(entry) = pending.first_entry().filter(|e| !frontier.less_equal(e.key())) {
                    let (time, (cap, mut updates)) = entry.remove_entry();
                    updates.sort_by(|a, b| a.1.0.cmp(&b.1.0));
                    let mut session = output.session(&cap);
                    for (key, (version, value)) in updates {
                        let old = match newest.get_mut(&key) {
                            Some((seen, _)) if *seen >= version => continue,
                            Some(slot) => std::mem::replace(slot, (version, value.clone())).1,
                            None => {
                                newest.insert(key.clone(), (version, value.clone()));
                                None
                            }
                        };
                        if let Some(old) = old {
                            session.give(((key.clone(), old), time, -1));
                        }
                        if let Some(new) = value {
                            session.give(((key, new), time, 1));
                        }
                    }
                }
            }
        })
        .as_collection()
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
