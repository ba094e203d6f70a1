//! The dataflow engine: timely dataflow workers running a [`Dataflow`](crate::dataflow::Dataflow).
//!
//! - [`checks`]: row checks and aggregate dimensions, shared by every pipeline;
//! - [`embedded`]: the whole pipeline in one process, with no services.

pub mod checks;
pub mod embedded;
