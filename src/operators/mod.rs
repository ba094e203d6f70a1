//! Timely operators that every pipeline uses, whatever it reads and writes: the connectors
//! build their sources and sinks on them, the engine wires them together.
//!
//! Timestamps are epochs: wall-clock slices of `epoch_ms` milliseconds ([`epoch_now`]), so
//! all processes of a cluster agree on them roughly and a restarted cluster continues with
//! later ones. An epoch is the unit of durability: a sink holds it open until its writes
//! are acknowledged ([`AsyncSink`]), and a probe after every sink says which epochs are done.

mod async_sink;

pub use async_sink::{AsyncSink, AsyncSinkOptions};

/// The current epoch: wall-clock milliseconds over the epoch length.
///
/// ```
/// let a = rtds::operators::epoch_now(10);
/// let b = rtds::operators::epoch_now(10);
/// assert!(b >= a);
/// ```
pub fn epoch_now(epoch_ms: u64) -> u64 {
    (chrono::Utc::now().timestamp_millis().max(0) as u64) / epoch_ms.max(1)
}
