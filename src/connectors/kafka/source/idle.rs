//! The workers of a process finish together.
//!
//! With `idle_exit`, each worker's source knows only its own partitions. Deciding alone, a
//! worker whose partitions stayed empty for the idle time finished while the others still
//! read, and records that came to its partitions later were left unread by the run (a
//! benchmark that started its workers early counted half its records, and said nothing). Now a
//! quiet worker votes, and finishes only once every worker of the process is quiet at once.
//!
//! Limits: the vote is per process; the processes of a cluster still finish each on its own.
//! A record that arrives after the vote is left for the next run, as one arriving after the
//! process exited would be.

use std::collections::HashMap;
use std::sync::Mutex;

/// The quiet workers of one process, by global worker index.
///
/// ```
/// let vote = rtds::connectors::kafka::IdleVote::new(2);
/// assert!(!vote.quiet(0, true), "worker 1 has not said it is quiet");
/// assert!(!vote.quiet(1, false));
/// assert!(vote.quiet(1, true), "both are quiet now");
/// assert!(vote.quiet(0, true));
/// ```
#[derive(Debug)]
pub struct IdleVote {
    workers: usize,
    quiet: Mutex<HashMap<usize, bool>>,
}

impl IdleVote {
    /// A vote among the `workers` worker threads of this process.
    pub fn new(workers: usize) -> IdleVote {
        IdleVote { workers, quiet: Mutex::new(HashMap::new()) }
    }

    /// Records whether worker `index` is quiet (nothing arrived for the idle time, everything
    /// durable, nothing left in Kafka); true when every worker of the process is.
    pub fn quiet(&self, index: usize, quiet: bool) -> bool {
        let mut votes = self.quiet.lock().expect("idle vote");
        votes.insert(index, quiet);
        votes.len() >= self.workers && votes.values().all(|q| *q)
    }
}
