//! The stream: changes from the slot, gathered whole transaction by whole transaction, into
//! Kafka transactions; the slot confirmed after each.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt;

use pgwire_replication::{ReplicationClient, ReplicationEvent};

use super::{CdcError, CdcOptions, Counters, PROBE_PREFIX, progress_line};
use crate::connectors::kafka::{ChangeProducer, Outgoing};
use crate::connectors::postgres::pgoutput::{Decoded, Decoder, POSTGRES_EPOCH_MICROS};
use crate::connectors::postgres::replication;
use crate::connectors::{ServiceError, retry};
use crate::metrics::Progress;
use crate::model::Change;

/// How often the slot's lag is read.
const LAG_EVERY: Duration = Duration::from_secs(5);

/// With nothing to send for this long, a transaction with only the resume point is committed:
/// it moves the resume point with the server's position, and it is how a copy of the stage
/// that another copy fenced learns it (and lets go of the slot) even on an idle table.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// One session's stream and what it needs.
pub(super) struct Stream<'a> {
    pub options: &'a CdcOptions,
    pub producer: &'a mut ChangeProducer,
    pub stop: &'a AtomicBool,
    pub counters: &'a Counters,
    pub progress: &'a mut Progress,
    /// An ordinary connection, for probes and the slot's lag.
    pub control: tokio_postgres::Client,
    /// With `--format avro`: where each version of the table's schema is registered.
    pub schemas: Option<&'a mut super::schema::ValueSchemas>,
}

/// Changes received and not yet in Kafka.
struct Pending {
    records: Vec<Outgoing>,
    /// End LSN of the last whole transaction among them.
    lsn: u64,
    /// Commit times of their transactions (µs since 2000-01-01), for the latency.
    commit_times: Vec<i64>,
    since: Option<Instant>,
    /// When the last Kafka transaction committed (the stream's start, before the first).
    last_commit: Instant,
}

impl Pending {
    fn new() -> Pending {
        Pending { records: Vec::new(), lsn: 0, commit_times: Vec::new(), since: None, last_commit: Instant::now() }
    }
}

impl Stream<'_> {
    /// Streams until stopped (or idle, with `idle_exit`); an error ends the session, and the
    /// caller resumes from the last point in Kafka.
    pub async fn run(mut self, mut client: ReplicationClient) -> Result<(), CdcError> {
        let mut decoder = if self.schemas.is_some() { Decoder::avro() } else { Decoder::default() };
        // The transaction being received: its changes wait for its commit.
        let mut open: Vec<Outgoing> = Vec::new();
        let mut in_transaction = false;
        let mut pending = Pending::new();
        let committed = self.counters.committed_lsn.load(Ordering::Relaxed);
        let mut last_change = Instant::now();
        let mut probe: Option<(u64, bool)> = None;
        let mut last_lag = None::<Instant>;
        loop {
            self.counters.pending_changes.store((pending.records.len() + open.len()) as u64, Ordering::Relaxed);
            let stopping = self.stop.load(Ordering::Relaxed);
            let due = pending.since.is_some_and(|since| since.elapsed() >= self.options.linger);
            if !pending.records.is_empty() && (stopping || due || pending.records.len() >= self.options.max_batch) {
                self.flush(&mut pending, &client).await?;
            } else if pending.records.is_empty() && pending.lsn > 0 {
                // Only transactions without a change of ours: nothing to send, but confirmed.
                client.update_applied_lsn(pgwire_replication::Lsn::from_u64(pending.lsn));
            }
            if stopping {
                return Ok(());
            }
            if pending.records.is_empty() && !in_transaction && pending.last_commit.elapsed() >= HEARTBEAT_EVERY {
                pending.lsn = pending.lsn.max(self.counters.committed_lsn.load(Ordering::Relaxed));
                self.flush(&mut pending, &client).await?;
            }
            if self.options.progress {
                let counters = self.counters;
                self.progress.tick(|seconds| progress_line(counters, seconds));
            }
            if last_lag.is_none_or(|at| at.elapsed() >= LAG_EVERY) {
                last_lag = Some(Instant::now());
                match replication::slot_lag_bytes(&self.control, &self.options.slot).await {
                    Ok(Some(lag)) => self.counters.slot_lag_bytes.store(lag, Ordering::Relaxed),
                    Ok(None) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            // With --idle-exit: once nothing changed for that long, write a probe into the log;
            // when it comes back with nothing pending, every earlier commit is in Kafka.
            if let Some(idle) = self.options.idle_exit {
                let quiet = pending.records.is_empty() && !in_transaction && last_change.elapsed() >= idle;
                match probe {
                    Some((_, true)) if quiet => return Ok(()),
                    None if quiet => probe = Some((replication::emit_probe(&self.control, PROBE_PREFIX).await?, false)),
                    _ => {}
                }
            }

            // Group commit: once the stream has nothing more ready, the pending transactions go
            // as soon as the last Kafka transaction is `linger` old: at once at a moderate rate,
            // while under a stream that keeps the stage busy Kafka transactions start at least
            // `linger` apart and grow with the load. Under a steady stream `linger` after the
            // first pending change is the bound (the top of the loop).
            let received = match ready_event(&mut client).await {
                Some(received) => received,
                None => {
                    let wait = if pending.records.is_empty() {
                        Duration::from_millis(200) // nothing to send: wake for heartbeats, lag and probes
                    } else {
                        self.options.linger.saturating_sub(pending.last_commit.elapsed())
                    };
                    match tokio::time::timeout(wait, client.recv()).await {
                        Ok(received) => received,
                        Err(_) if pending.records.is_empty() => continue,
                        Err(_) => {
                            self.flush(&mut pending, &client).await?;
                            continue;
                        }
                    }
                }
            };
            let event = match received {
                Ok(Some(event)) => event,
                Ok(None) => return Err(ServiceError::postgres("the replication stream ended").into()),
                Err(e) => return Err(replication::replication_error(e).into()),
            };
            match event {
                ReplicationEvent::Begin { .. } => {
                    in_transaction = true;
                    open.clear();
                }
                ReplicationEvent::XLogData { data, .. } => match decoder.decode(&data)? {
                    Decoded::Change(change, encoded) => open.push(Outgoing::Change { change, lsn: 0, committed_ms: None, encoded }),
                    Decoded::Relation(columns) => {
                        if let Some(schemas) = self.schemas.as_deref_mut() {
                            decoder.set_avro(schemas.register(columns, self.counters).await?);
                        }
                    }
                    Decoded::Refused { id, reason } => {
                        let raw = String::from_utf8_lossy(&data[..data.len().min(64 * 1024)]).into_owned();
                        open.push(Outgoing::Dead { id, raw, reason, lsn: 0 });
                    }
                    Decoded::Nothing => {}
                },
                ReplicationEvent::Commit { end_lsn, commit_time_micros, .. } => {
                    in_transaction = false;
                    let end = end_lsn.as_u64();
                    if end <= committed || open.is_empty() {
                        // Already in Kafka (a crash came between its commit there and the slot's
                        // confirmation), or nothing of ours.
                        open.clear();
                        pending.lsn = pending.lsn.max(end);
                        continue;
                    }
                    last_change = Instant::now();
                    probe = None;
                    last_change_per_row(&mut open);
                    let committed = (commit_time_micros + POSTGRES_EPOCH_MICROS) / 1000;
                    for record in &mut open {
                        match record {
                            Outgoing::Change { lsn, committed_ms, .. } => {
                                *lsn = end;
                                *committed_ms = Some(committed);
                            }
                            Outgoing::Dead { lsn, .. } => *lsn = end,
                        }
                    }
                    pending.records.append(&mut open);
                    pending.lsn = end;
                    pending.commit_times.push(commit_time_micros);
                    self.counters.oldest_pending_commit.store(pending.commit_times[0], Ordering::Relaxed);
                    pending.since.get_or_insert_with(Instant::now);
                }
                ReplicationEvent::Message { prefix, lsn, .. } if prefix == PROBE_PREFIX => {
                    if let Some((probe_lsn, reached)) = probe.as_mut() {
                        *reached |= lsn.as_u64() >= *probe_lsn;
                    }
                }
                ReplicationEvent::KeepAlive { wal_end, .. } if pending.records.is_empty() && !in_transaction => {
                    // Everything before wal_end has been sent, and all of it is in Kafka: the
                    // next transaction (a heartbeat, if nothing else) may record it.
                    pending.lsn = pending.lsn.max(wal_end.as_u64());
                    client.update_applied_lsn(wal_end);
                }
                ReplicationEvent::StoppedAt { .. } => return Ok(()),
                _ => {}
            }
        }
    }

    /// Commits the pending changes in one Kafka transaction (retried until it succeeds), then
    /// confirms the slot up to them.
    async fn flush(&mut self, pending: &mut Pending, client: &ReplicationClient) -> Result<(), CdcError> {
        let mut waits = backon::BackoffBuilder::build(retry::backoff());
        loop {
            match self.producer.commit(&pending.records, pending.lsn).await {
                Ok(()) => break,
                Err(e) if e.is_transient() => {
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    let wait = waits.next().unwrap_or(Duration::from_secs(5));
                    tracing::warn!(error = %e, ?wait, changes = pending.records.len(), "Kafka transaction failed; sending it again");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        client.update_applied_lsn(pgwire_replication::Lsn::from_u64(pending.lsn));
        let now = crate::clock::now().timestamp_micros() - POSTGRES_EPOCH_MICROS;
        self.counters.record_latency(pending.commit_times.iter().map(|t| ((now - t) / 1000).max(0) as u64));
        let counters = self.counters;
        for record in &pending.records {
            let counter = match record {
                Outgoing::Change { change: Change::Upsert(_), .. } => &counters.upserts,
                Outgoing::Change { change: Change::Delete(_), .. } => &counters.deletes,
                Outgoing::Dead { .. } => &counters.dead_letters,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        counters.transactions.fetch_add(1, Ordering::Relaxed);
        counters.committed_lsn.fetch_max(pending.lsn, Ordering::Relaxed);
        counters.oldest_pending_commit.store(0, Ordering::Relaxed);
        pending.records.clear();
        pending.commit_times.clear();
        pending.since = None;
        pending.last_commit = Instant::now();
        Ok(())
    }
}

/// The stream's next event if one is ready now, without waiting for one.
///
/// tokio's cooperative budget makes a channel look empty after 128 receives in one poll of the
/// task, which would commit a backlog in slices of 128 events: the probe runs unconstrained.
/// The replication reader then gets one turn (a yield) before the stream counts as drained.
async fn ready_event(client: &mut ReplicationClient) -> Option<pgwire_replication::Result<Option<ReplicationEvent>>> {
    if let Some(received) = tokio::task::unconstrained(client.recv()).now_or_never() {
        return Some(received);
    }
    tokio::task::yield_now().await;
    tokio::task::unconstrained(client.recv()).now_or_never()
}

/// Keeps a transaction's last change of each row (and every dead letter), in order: no
/// reader of PostgreSQL ever saw the changes before it, and with one change per row and
/// commit, the commit's LSN is the row's version downstream (see [`crate::model::Version`]).
fn last_change_per_row(changes: &mut Vec<Outgoing>) {
    if changes.len() < 2 {
        return;
    }
    let mut seen = std::collections::HashSet::with_capacity(changes.len());
    let mut kept: Vec<Outgoing> = changes
        .drain(..)
        .rev()
        .filter(|record| match record {
            Outgoing::Change { change, .. } => seen.insert(change.id()),
            Outgoing::Dead { .. } => true,
        })
        .collect();
    kept.reverse();
    *changes = kept;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Change;

    #[test]
    fn a_transaction_sends_the_last_change_of_each_row() {
        let id = |n: u128| uuid::Uuid::from_u128(n);
        let delete = |n| Outgoing::Change { change: Change::Delete(id(n)), lsn: 0, committed_ms: None, encoded: None };
        let upsert = |n: u128, name: &str| {
            let user: crate::model::User = serde_json::from_value(serde_json::json!({ "id": id(n), "first_name": name })).unwrap();
            Outgoing::Change { change: Change::Upsert(Box::new(user)), lsn: 0, committed_ms: None, encoded: None }
        };
        let mut changes = vec![upsert(1, "first"), upsert(2, "other"), upsert(1, "second"), delete(2), upsert(3, "only")];
        last_change_per_row(&mut changes);
        let kept: Vec<String> = changes
            .iter()
            .map(|c| match c {
                Outgoing::Change { change: Change::Upsert(user), .. } => user.first_name.as_deref().unwrap().to_string(),
                Outgoing::Change { change: Change::Delete(id), .. } => format!("delete {}", id.as_u128()),
                Outgoing::Dead { .. } => "dead".into(),
            })
            .collect();
        assert_eq!(kept, ["second", "delete 2", "only"]);
    }
}
