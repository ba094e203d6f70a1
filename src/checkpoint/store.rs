//! One worker's checkpoint file ([module docs](super)).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Mark;
use crate::connectors::Durable;
use crate::model::Version;
use crate::operators::{UpsertState, Versioned};
use crate::sql::kept::{Kept, KeptRow};
use crate::sql::{Datum, Row};

/// Each id's newest version and kept row (none: deleted).
const NEWEST: TableDefinition<&[u8], &[u8]> = TableDefinition::new("newest");
/// The views' inputs: `(view, group key or row)` → how many times it counts.
const VIEWS: TableDefinition<&[u8], i64> = TableDefinition::new("views");
/// [`Identity`] and [`Coverage`].
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// The page cache of a checkpoint file: what of the state a worker keeps in memory, whatever
/// the number of ids (the rest is read from disk when an id comes again).
const CACHE_BYTES: usize = 64 << 20;

/// Which state a checkpoint is of: one worker's share of one keyspace's data, computed by one
/// dataflow. A checkpoint of another identity is not resumed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The keyspace's lineage ([`crate::connectors::cassandra::CassandraTables::lineage`]).
    pub lineage: i64,
    /// A digest of the dataflow's source table and views (what the kept rows hold).
    pub dataflow: String,
    /// The worker's index and the cluster's worker count: the ids it owns.
    pub index: usize,
    pub peers: usize,
}

/// Per partition, how many of its records the state includes.
pub type Coverage = BTreeMap<i32, i64>;

#[derive(Debug, thiserror::Error)]
#[error("the checkpoint {path} cannot be used: {reason}; free its disk or point --state-dir elsewhere (a worker without one reads its state back from Cassandra)")]
pub struct CheckpointError {
    pub path: PathBuf,
    pub reason: String,
}

/// A worker's checkpoint file, opened.
pub struct Checkpoint {
    db: Database,
    path: PathBuf,
}

impl Checkpoint {
    /// Opens (or creates) the checkpoint at `path`.
    pub fn open(path: &Path) -> Result<Checkpoint, CheckpointError> {
        let error = |reason: String| CheckpointError { path: path.to_path_buf(), reason };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| error(format!("cannot create {}: {e}", dir.display())))?;
        }
        let db = Database::builder().set_cache_size(CACHE_BYTES).create(path).map_err(|e| error(e.to_string()))?;
        let checkpoint = Checkpoint { db, path: path.to_path_buf() };
        // Every table exists from the start, so reads need not ask.
        checkpoint.write(|txn| {
            txn.open_table(NEWEST)?;
            txn.open_table(VIEWS)?;
            txn.open_table(META)?;
            Ok(())
        })?;
        Ok(checkpoint)
    }

    /// The views' inputs to resume from, when the checkpoint is of `identity` and covers every
    /// partition's `durable` point; else why not.
    pub fn resume(&self, identity: &Identity, durable: &HashMap<i32, Durable>) -> Result<(Vec<((u64, Row), isize)>, Coverage), String> {
        let (stored, coverage) = self.meta().map_err(|e| e.reason)?;
        let Some(stored) = stored else { return Err("it holds no complete epoch".into()) };
        if stored.lineage != identity.lineage {
            return Err("it is of another keyspace of the same name (dropped and made again since)".into());
        }
        if stored.dataflow != identity.dataflow {
            return Err("the dataflow's table or views changed".into());
        }
        if (stored.index, stored.peers) != (identity.index, identity.peers) {
            return Err(format!("it was worker {} of {}, this is worker {} of {}", stored.index, stored.peers, identity.index, identity.peers));
        }
        for (partition, point) in durable {
            let covered = coverage.get(partition).copied().unwrap_or(0);
            if covered < point.records {
                return Err(format!("partition {partition} is durable through record {}, the checkpoint only through {covered} (a later run went on without it)", point.records));
            }
        }
        Ok((self.view_inputs().map_err(|e| e.reason)?, coverage))
    }

    /// Empties the checkpoint, to be rebuilt from the stored rows.
    pub fn clear(&self) -> Result<(), CheckpointError> {
        self.write(|txn| {
            txn.delete_table(NEWEST)?;
            txn.open_table(NEWEST)?;
            txn.delete_table(VIEWS)?;
            txn.open_table(VIEWS)?;
            txn.delete_table(META)?;
            txn.open_table(META)?;
            Ok(())
        })
    }

    /// The state to give the upsert operator: it writes `identity` with its first epoch, and
    /// counts from `coverage` on.
    pub fn into_state(self, identity: Identity, coverage: Coverage, kept: Arc<Kept>) -> CheckpointedState {
        CheckpointedState { checkpoint: self, identity, coverage, kept, written: false, synced: None, dirty: false }
    }

    /// How many ids the checkpoint holds.
    pub fn ids(&self) -> Result<u64, CheckpointError> {
        let read = || -> Result<u64, redb::Error> { Ok(self.db.begin_read()?.open_table(NEWEST)?.len()?) };
        read().map_err(|e| self.error(e))
    }

    fn meta(&self) -> Result<(Option<Identity>, Coverage), CheckpointError> {
        let read = || -> Result<(Option<Identity>, Coverage), redb::Error> {
            let txn = self.db.begin_read()?;
            let table = txn.open_table(META)?;
            let identity = table.get("identity")?.and_then(|v| bincode::deserialize(v.value()).ok());
            let coverage = table.get("coverage")?.and_then(|v| bincode::deserialize(v.value()).ok()).unwrap_or_default();
            Ok((identity, coverage))
        };
        read().map_err(|e| self.error(e))
    }

    fn view_inputs(&self) -> Result<Vec<((u64, Row), isize)>, CheckpointError> {
        let read = || -> Result<Vec<((u64, Row), isize)>, redb::Error> {
            let txn = self.db.begin_read()?;
            let mut inputs = Vec::new();
            for entry in txn.open_table(VIEWS)?.iter()? {
                let (key, count) = entry?;
                let input: (u64, Vec<Datum>) = bincode::deserialize(key.value()).map_err(|e| redb::Error::Corrupted(e.to_string()))?;
                inputs.push(((input.0, Row::from_vec(input.1)), count.value() as isize));
            }
            Ok(inputs)
        };
        read().map_err(|e| self.error(e))
    }

    fn write(&self, work: impl FnOnce(&redb::WriteTransaction) -> Result<(), redb::Error>) -> Result<(), CheckpointError> {
        let run = || -> Result<(), redb::Error> {
            let txn = self.db.begin_write()?;
            work(&txn)?;
            txn.commit()?;
            Ok(())
        };
        run().map_err(|e| self.error(e))
    }

    fn error(&self, error: impl std::fmt::Display) -> CheckpointError {
        CheckpointError { path: self.path.clone(), reason: error.to_string() }
    }
}

/// The upsert operator's state in a checkpoint: each complete epoch is one transaction, committed
/// (to disk) before the operator lets the epoch go on.
pub struct CheckpointedState {
    checkpoint: Checkpoint,
    identity: Identity,
    coverage: Coverage,
    kept: Arc<Kept>,
    /// Whether the identity is written: with the first epoch, so that a checkpoint emptied for a
    /// fallback claims nothing until it holds the stored rows.
    written: bool,
    /// When an epoch was last committed to disk (fsync), and whether any has been committed
    /// since without one; see [`SYNC_EVERY`].
    synced: Option<std::time::Instant>,
    dirty: bool,
}

/// How often the epochs committed reach the disk (fsync). An epoch is committed to the file
/// without a sync and is durable at the next one: the [`Upsert`](crate::operators::Upsert)
/// operator holds the epoch back from the durable probe until then, so offsets are never
/// recorded past what the checkpoint has on disk. Epochs are short (10 ms by default): a
/// sync each would cost more than the epoch's work; one every 100 ms bounds what an epoch
/// waits, as the offsets writer already does.
const SYNC_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

impl CheckpointedState {
    fn apply_epoch(&mut self, updates: Vec<Versioned<Uuid, Version, KeptRow>>, marks: Vec<Mark>, changed: &mut dyn FnMut(Uuid, Option<KeptRow>, Option<KeptRow>)) -> Result<(), redb::Error> {
        let mut txn = self.checkpoint.db.begin_write()?;
        let sync = self.synced.is_none_or(|at| at.elapsed() >= SYNC_EVERY);
        if !sync {
            txn.set_durability(redb::Durability::None)?;
        }
        {
            let mut newest = txn.open_table(NEWEST)?;
            let mut inputs: HashMap<(u64, Row), i64> = HashMap::new();
            let mut bytes = Vec::new();
            for (id, (version, value)) in updates {
                let old = match newest.get(id.as_bytes().as_slice())? {
                    Some(stored) => {
                        let (seen, row): (Version, Option<Vec<Datum>>) = bincode::deserialize(stored.value()).map_err(|e| redb::Error::Corrupted(e.to_string()))?;
                        if seen >= version {
                            continue;
                        }
                        row.map(KeptRow::from)
                    }
                    None => None,
                };
                bytes.clear();
                bincode::serialize_into(&mut bytes, &(version, value.as_deref())).expect("a kept row serializes");
                newest.insert(id.as_bytes().as_slice(), bytes.as_slice())?;
                for (row, diff) in [(&old, -1), (&value, 1)] {
                    if let Some(row) = row {
                        for input in self.kept.view_inputs(row) {
                            *inputs.entry(input).or_default() += diff;
                        }
                    }
                }
                changed(id, old, value);
            }
            let mut views = txn.open_table(VIEWS)?;
            for ((view, input), diff) in inputs {
                if diff == 0 {
                    continue;
                }
                bytes.clear();
                bincode::serialize_into(&mut bytes, &(view, input.as_slice())).expect("a view input serializes");
                let count = views.get(bytes.as_slice())?.map(|c| c.value()).unwrap_or(0) + diff;
                if count == 0 {
                    views.remove(bytes.as_slice())?;
                } else {
                    views.insert(bytes.as_slice(), count)?;
                }
            }
            for (partition, records) in marks {
                let covered = self.coverage.entry(partition).or_default();
                *covered = (*covered).max(records);
            }
            let mut meta = txn.open_table(META)?;
            meta.insert("coverage", bincode::serialize(&self.coverage).expect("coverage serializes").as_slice())?;
            if !self.written {
                meta.insert("identity", bincode::serialize(&self.identity).expect("identity serializes").as_slice())?;
            }
        }
        txn.commit()?;
        self.written = true;
        if sync {
            self.synced = Some(std::time::Instant::now());
        }
        self.dirty = !sync;
        Ok(())
    }
}

impl CheckpointedState {
    /// Ends the process on a checkpoint that cannot be written: nothing of the epoch is
    /// durable, and its master starts it again from the last synced epoch.
    fn fail(&self, error: redb::Error) -> ! {
        let error = self.checkpoint.error(error);
        tracing::error!("{error}");
        eprintln!("rtds worker: {error}");
        std::process::exit(1);
    }
}

impl UpsertState<Uuid, Version, KeptRow, Mark> for CheckpointedState {
    fn apply(&mut self, updates: Vec<Versioned<Uuid, Version, KeptRow>>, marks: Vec<Mark>, changed: &mut dyn FnMut(Uuid, Option<KeptRow>, Option<KeptRow>)) {
        if let Err(error) = self.apply_epoch(updates, marks, changed) {
            self.fail(error);
        }
    }

    fn unsynced(&self) -> Option<std::time::Duration> {
        let since = self.synced.map(|at| at.elapsed()).unwrap_or(SYNC_EVERY);
        self.dirty.then(|| SYNC_EVERY.saturating_sub(since))
    }

    fn sync(&mut self) {
        // An empty commit that waits for the disk makes the ones before it durable.
        let sync = || -> Result<(), redb::Error> { Ok(self.checkpoint.db.begin_write()?.commit()?) };
        if let Err(error) = sync() {
            self.fail(error);
        }
        self.synced = Some(std::time::Instant::now());
        self.dirty = false;
    }
}

#[cfg(test)]
mod tests;
