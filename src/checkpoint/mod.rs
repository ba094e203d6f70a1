//! The dedupe's state and the views' inputs, checkpointed on local disk with every epoch, so a
//! restart resumes from them instead of scanning every stored row back from Cassandra.
//!
//! Each worker keeps one [fjall](https://docs.rs/fjall) database (an LSM tree; `--state-dir`,
//! then `KEYSPACE/TOPIC/worker-I`) holding, in one atomic batch per epoch:
//! - `newest`: each id it owns (the upsert's exchange by id) with its newest version and kept
//!   row ([`crate::sql::kept`]), deletes included: the [`Upsert`](crate::operators::Upsert)
//!   operator's state, read and written there rather than held in memory;
//! - `views`: what the views read, consolidated (`(view, group key or row) → count`): for a
//!   view of `COUNT(*)`s this is one entry per group, so a restart hands the views their groups,
//!   not their users;
//! - `meta`: the checkpoint's [`Identity`] and its [`Coverage`] (per Kafka partition, how many
//!   of its records the state includes).
//!
//! A worker's epoch is committed (to the kernel) before the upsert operator releases the epoch,
//! and reaches the disk (fsync) within 100 ms; the operator holds the epoch back from the
//! durable probe until then, so an epoch is durable (and its offsets recorded) only once every
//! worker's checkpoint holds it on disk. The views downstream do not wait for the sync. A
//! checkpoint may be ahead of the recorded offsets (a crash after it and before them): the
//! records replayed from the offsets are then versions the state already has, which the upsert
//! ignores, so resuming from any checkpoint at or past the offsets gives the same result.
//!
//! On start a worker resumes from its checkpoint when it is [valid](Checkpoint::resume): same
//! keyspace lineage (a keyspace dropped and made again is another), same dataflow, same
//! worker index and count, and it covers at least the recorded offsets of every partition.
//! Otherwise (first run, another `-n`/`-w`, a lost or stale disk, another dataflow) it is
//! emptied and the worker falls back to reading the stored rows it owns from Cassandra, as
//! every restart did before; the fallback rebuilds the checkpoint.
//!
//! Limits: a dataflow with windows does not checkpoint (the watermark is not in the state
//! yet) and always reads the stored rows back. Views that read rows (anything but `COUNT(*)`)
//! keep one entry per row they keep, so their restart is not constant.

mod store;

pub use store::{Checkpoint, CheckpointError, CheckpointedState, Coverage, Identity};

/// A mark of what an epoch covered: a partition and how many of its records were read
/// through it ([`crate::connectors::kafka::Incoming::number`]).
pub type Mark = (i32, i64);

/// A digest of what a dataflow's kept rows and views are made of: a checkpoint of another
/// dataflow is not resumed from.
pub fn digest(program: &crate::sql::Program) -> String {
    use sha2::Digest;
    let described = format!("{:?}|{:?}", program.table, program.views);
    format!("{:x}", sha2::Sha256::digest(described.as_bytes()))
}
