//! Timely operators that every pipeline uses, whatever it reads and writes: the connectors
//! build their sources and sinks on them, the engine wires them together.
//!
//! Timestamps are epochs: a logical count of `epoch_ms` slices since the run's processes
//! connected (see [`crate::connectors::kafka::Epochs`]). They pace the work and never order
//! data, so no clock decides a result. An epoch is the unit of durability: a sink holds it open until its writes
//! are acknowledged ([`AsyncSink`]), and a probe after every sink says which epochs are done.

mod async_sink;
mod upsert;
mod watermark;

pub use async_sink::{AsyncSink, AsyncSinkOptions};
pub use upsert::{InMemory, Upsert, UpsertState, Versioned};
pub use watermark::{EventClock, EventTimes, HoldOpenWindows, JudgeLate};
