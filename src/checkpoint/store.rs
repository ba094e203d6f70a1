//! One worker's checkpoint file ([module docs](super)).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Mark;
use crate::connectors::Durable;
use crate::model::Version;
use crate::operators::{UpsertState, Versioned};
use crate::sql::kept::{Kept, KeptRow};
use crate::sql::{Datum, Row};

/// The block cache of a checkpoint: the data blocks a worker keeps in memory, whatever the
/// number of ids (the rest is read from disk when an id comes again). Its filters and block
/// indexes are pinned instead ([`pinned`]), so a small cache does not evict them: with fjall's
/// default (filters pinned in the first level only) and this cache at 8 MiB, every lookup read
/// filters back from disk (3,000,000 users: about twice the CPU); at 32 MiB the cache filled with
/// data blocks as the ids grew (its 64 MiB for two workers were most of the 300 MB peak).
const CACHE_BYTES: u64 = 8 << 20;

/// The most journal a checkpoint keeps before its memtables are flushed to tables (fjall's
/// least).
const JOURNAL_BYTES: u64 = 64 << 20;

/// The most a keyspace's memtable holds before it is flushed to a table. An opening after a
/// crash reads the journal (fjall starts a new one at 64 MB) and puts back into memtables what
/// no table holds yet, so these bound what a restart re-inserts (and a worker's memtables).
/// `newest` takes most of the bytes; `views` and `meta` take a few entries an epoch, and with
/// fjall's default (64 MiB) they were flushed only when the journal outgrew its bound, so an
/// opening re-inserted every epoch's counts since. Taken when a keyspace is created.
const NEWEST_MEMTABLE_BYTES: u64 = 8 << 20;
const SMALL_MEMTABLE_BYTES: u64 = 1 << 20;

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

/// What a valid checkpoint gives a worker to resume from.
#[derive(Debug)]
pub struct Resumable {
    /// The views' inputs, consolidated: `((view, narrow row or row), count)`.
    pub view_inputs: Vec<((u64, Row), isize)>,
    pub coverage: Coverage,
    /// The newest event time read (dataflows with windows): the watermark resumes from it.
    pub event_time: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
#[error("the checkpoint {path} cannot be used: {reason}; free its disk or point --state-dir elsewhere (a worker without one reads its state back from Cassandra)")]
pub struct CheckpointError {
    pub path: PathBuf,
    pub reason: String,
}

/// A worker's checkpoint, opened: a [fjall](https://docs.rs/fjall) database (an LSM tree:
/// an epoch's writes are appended to its journal, not spread over pages of a B-tree) with
/// three keyspaces:
/// - `newest`: id (16 bytes) → bincode of (version, kept row or none);
/// - `views`: bincode of (view, input) → count (8 bytes, little-endian);
/// - `meta`: `identity` and `coverage` in bincode, `event_time` (with windows: milliseconds,
///   8 bytes little-endian).
pub struct Checkpoint {
    db: Database,
    newest: Keyspace,
    views: Keyspace,
    meta: Keyspace,
    path: PathBuf,
}

impl Checkpoint {
    /// Opens (or creates) the checkpoint in the folder `path`.
    pub fn open(path: &Path) -> Result<Checkpoint, CheckpointError> {
        let error = |reason: String| CheckpointError { path: path.to_path_buf(), reason };
        // What `recreate` moved aside.
        let discarded = discarded(path);
        if discarded.exists() {
            std::fs::remove_dir_all(&discarded).map_err(|e| error(format!("cannot delete {}: {e}", discarded.display())))?;
        }
        std::fs::create_dir_all(path).map_err(|e| error(format!("cannot create it: {e}")))?;
        // One background thread (flushes and compactions) per worker: the machine's cores
        // belong to the dataflow.
        let db = Database::builder(path).cache_size(CACHE_BYTES).worker_threads(1).max_journaling_size(JOURNAL_BYTES).open().map_err(|e| error(e.to_string()))?;
        let keyspace = |name: &str, memtable: u64| db.keyspace(name, || pinned(KeyspaceCreateOptions::default().max_memtable_size(memtable))).map_err(|e| error(e.to_string()));
        let newest = keyspace("newest", NEWEST_MEMTABLE_BYTES)?;
        let (views, meta) = (keyspace("views", SMALL_MEMTABLE_BYTES)?, keyspace("meta", SMALL_MEMTABLE_BYTES)?);
        Ok(Checkpoint { db, newest, views, meta, path: path.to_path_buf() })
    }

    /// What to resume from, when the checkpoint is of `identity` and covers every partition's
    /// `durable` point; else why not.
    pub fn resume(&self, identity: &Identity, durable: &HashMap<i32, Durable>) -> Result<Resumable, String> {
        let (stored, coverage, event_time) = self.meta().map_err(|e| e.reason)?;
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
        Ok(Resumable { view_inputs: self.view_inputs().map_err(|e| e.reason)?, coverage, event_time })
    }

    /// An empty checkpoint in this one's place, to be rebuilt from the stored rows. The folder
    /// is renamed away (one atomic step: a crash leaves either this checkpoint or none), and the
    /// opening of a new one deletes it. Not fjall's `clear`: a clear is written to the journal,
    /// and an opening after a crash replays it, dropping the tables flushed since and putting
    /// every entry after it back into memtables (a restart soon after a fallback took 3-5 times
    /// longer).
    pub fn recreate(self) -> Result<Checkpoint, CheckpointError> {
        let path = self.path.clone();
        let error = |reason: String| CheckpointError { path: path.clone(), reason };
        drop(self);
        let discarded = discarded(&path);
        std::fs::rename(&path, &discarded).map_err(|e| error(format!("cannot move it aside to {}: {e}", discarded.display())))?;
        sync_parent(&path).map_err(|e| error(format!("cannot sync its folder: {e}")))?;
        Checkpoint::open(&path)
    }

    /// The state to give the upsert operator: it writes `identity` with its first epoch, and
    /// counts from `coverage` and `event_time` on.
    pub fn into_state(self, identity: Identity, coverage: Coverage, event_time: Option<i64>, kept: Arc<Kept>) -> CheckpointedState {
        CheckpointedState { checkpoint: self, identity, coverage, event_time, kept, written: false, synced: None, dirty: false }
    }

    /// How many ids the checkpoint holds (a scan: for tests).
    pub fn ids(&self) -> Result<usize, CheckpointError> {
        self.newest.len().map_err(|e| self.error(e))
    }

    fn meta(&self) -> Result<(Option<Identity>, Coverage, Option<i64>), CheckpointError> {
        let read = |name: &str| self.meta.get(name).map_err(|e| self.error(e));
        let identity = read("identity")?.and_then(|v| bincode::deserialize(&v).ok());
        let coverage = read("coverage")?.and_then(|v| bincode::deserialize(&v).ok()).unwrap_or_default();
        let event_time = read("event_time")?.and_then(|v| Some(i64::from_le_bytes(v.as_ref().try_into().ok()?)));
        Ok((identity, coverage, event_time))
    }

    fn view_inputs(&self) -> Result<Vec<((u64, Row), isize)>, CheckpointError> {
        let mut inputs = Vec::new();
        for entry in self.views.iter() {
            let (key, count) = entry.into_inner().map_err(|e| self.error(e))?;
            let (view, input): (u64, Vec<Datum>) = bincode::deserialize(&key).map_err(|e| self.error(e))?;
            inputs.push(((view, Row::from_vec(input)), count_of(&count) as isize));
        }
        Ok(inputs)
    }

    fn error(&self, error: impl std::fmt::Display) -> CheckpointError {
        CheckpointError { path: self.path.clone(), reason: error.to_string() }
    }
}

/// Every level's filters and block indexes held in memory, outside the block cache: a lookup of
/// a new id (most of them) is answered by the filters without touching the cache or the disk.
/// They grow with the ids, by about 1.5 bytes an id (a bloom filter's 10 bits and an index entry
/// per 4 KiB block), the one part of a worker's memory that does.
fn pinned(options: KeyspaceCreateOptions) -> KeyspaceCreateOptions {
    use fjall::config::PinningPolicy;
    options.filter_block_pinning_policy(PinningPolicy::all(true)).index_block_pinning_policy(PinningPolicy::all(true))
}

/// Where [`Checkpoint::recreate`] moves a checkpoint before deleting it.
fn discarded(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".discarded");
    path.with_file_name(name)
}

/// Makes a rename in `path`'s folder durable.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(parent) => std::fs::File::open(parent)?.sync_all(),
        None => Ok(()),
    }
}

/// A view input's count, as stored.
fn count_of(bytes: &[u8]) -> i64 {
    bytes.try_into().map(i64::from_le_bytes).unwrap_or(0)
}

/// The upsert operator's state in a checkpoint: each complete epoch is one transaction, committed
/// (to disk) before the operator lets the epoch go on.
pub struct CheckpointedState {
    checkpoint: Checkpoint,
    identity: Identity,
    coverage: Coverage,
    /// The newest event time read (dataflows with windows).
    event_time: Option<i64>,
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
    fn apply_epoch(&mut self, updates: Vec<Versioned<Uuid, Version, KeptRow>>, marks: Vec<Mark>, changed: &mut dyn FnMut(Uuid, Option<KeptRow>, Option<KeptRow>)) -> fjall::Result<()> {
        let Checkpoint { db, newest, views, meta, .. } = &self.checkpoint;
        let mut batch = db.batch();
        // What this epoch wrote, read back before the batch is committed.
        let mut written: HashMap<Uuid, (Version, Option<KeptRow>), foldhash::fast::RandomState> = HashMap::default();
        let mut inputs: HashMap<(u64, Row), i64, foldhash::fast::RandomState> = HashMap::default();
        let mut bytes = Vec::new();
        for (id, (version, value)) in updates {
            let (seen, old) = match written.get(&id) {
                Some((seen, row)) => (Some(*seen), row.clone()),
                None => match newest.get(id.as_bytes())? {
                    Some(stored) => {
                        let (seen, row): (Version, Option<Vec<Datum>>) = bincode::deserialize(&stored).map_err(|e| fjall::Error::from(std::io::Error::other(e)))?;
                        (Some(seen), row.map(KeptRow::from))
                    }
                    None => (None, None),
                },
            };
            if seen.is_some_and(|seen| seen >= version) {
                continue;
            }
            bytes.clear();
            bincode::serialize_into(&mut bytes, &(version, value.as_deref())).expect("a kept row serializes");
            batch.insert(newest, id.as_bytes().as_slice(), bytes.as_slice());
            written.insert(id, (version, value.clone()));
            for (row, diff) in [(&old, -1), (&value, 1)] {
                if let Some(row) = row {
                    for input in self.kept.view_inputs(row) {
                        *inputs.entry(input).or_default() += diff;
                    }
                }
            }
            changed(id, old, value);
        }
        for ((view, input), diff) in inputs {
            if diff == 0 {
                continue;
            }
            bytes.clear();
            bincode::serialize_into(&mut bytes, &(view, input.as_slice())).expect("a view input serializes");
            let count = views.get(&bytes)?.map(|c| count_of(&c)).unwrap_or(0) + diff;
            if count == 0 {
                batch.remove(views, bytes.as_slice());
            } else {
                batch.insert(views, bytes.as_slice(), count.to_le_bytes().as_slice());
            }
        }
        let mut newest_time = self.event_time;
        for mark in marks {
            match mark {
                Mark::Read { partition, records } => {
                    let covered = self.coverage.entry(partition).or_default();
                    *covered = (*covered).max(records);
                }
                Mark::EventTime(time) => newest_time = newest_time.max(Some(time)),
            }
        }
        batch.insert(meta, "coverage", bincode::serialize(&self.coverage).expect("coverage serializes"));
        if let Some(time) = newest_time.filter(|_| newest_time != self.event_time || !self.written) {
            batch.insert(meta, "event_time", time.to_le_bytes().as_slice());
        }
        self.event_time = newest_time;
        if !self.written {
            batch.insert(meta, "identity", bincode::serialize(&self.identity).expect("identity serializes"));
        }
        let sync = self.synced.is_none_or(|at| at.elapsed() >= SYNC_EVERY);
        // Without a sync, the batch still reaches the kernel (a process that dies keeps it).
        batch.durability(Some(if sync { PersistMode::SyncAll } else { PersistMode::Buffer })).commit()?;
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
    fn fail(&self, error: fjall::Error) -> ! {
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
        if let Err(error) = self.checkpoint.db.persist(PersistMode::SyncAll) {
            self.fail(error);
        }
        self.synced = Some(std::time::Instant::now());
        self.dirty = false;
    }
}

#[cfg(test)]
mod tests;
