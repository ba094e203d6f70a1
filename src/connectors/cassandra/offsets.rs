//! The durable offsets: where each Kafka partition is durable, kept in the keyspace's
//! `offsets` table next to the rows they produced, so a restart resumes exactly where the
//! data is. One task per process writes them: whatever arrived since its last round, the
//! newest point per partition, at most every [`OFFSETS_EVERY`] (epochs are short; offsets
//! only decide where a restart resumes, and a crash makes it read again at most what became
//! durable in that interval).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc::{UnboundedSender, error::TryRecvError};

use super::CassandraTables;
use crate::connectors::{Durable, ServiceError, retry};

/// How often a process records its durable offsets at most.
pub const OFFSETS_EVERY: Duration = Duration::from_millis(100);

/// Where each partition of `topic` is durable, as the last run recorded it.
pub async fn durable_points(tables: &CassandraTables, topic: &str) -> Result<HashMap<i32, Durable>, ServiceError> {
    Ok(tables.offsets(topic).await?.into_iter().map(|(partition, point, _)| (partition, point)).collect())
}

/// Starts the task that records (partition, point, epoch) sent to the returned sender; it
/// ends once every sender is dropped and the last points are written.
pub fn spawn_offsets_writer(
    runtime: &tokio::runtime::Handle,
    tables: Arc<CassandraTables>,
    topic: String,
) -> (UnboundedSender<(i32, Durable, u64)>, tokio::task::JoinHandle<()>) {
    let (sender, mut points) = tokio::sync::mpsc::unbounded_channel::<(i32, Durable, u64)>();
    let writer = runtime.spawn(async move {
        let mut open = true;
        while open {
            let Some((partition, point, epoch)) = points.recv().await else { break };
            let round_started = tokio::time::Instant::now();
            let mut newest: HashMap<i32, (Durable, u64)> = HashMap::from([(partition, (point, epoch))]);
            loop {
                match points.try_recv() {
                    Ok((partition, point, epoch)) => {
                        newest.insert(partition, (point, epoch));
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        open = false;
                        break;
                    }
                }
            }
            futures::stream::iter(newest)
                .for_each_concurrent(None, |(partition, (point, epoch))| {
                    let (tables, topic) = (&tables, &topic);
                    async move {
                        retry::forever("offsets", || tables.write_offset(topic, partition, point, epoch)).await
                    }
                })
                .await;
            if open {
                tokio::time::sleep_until(round_started + OFFSETS_EVERY).await;
            }
        }
    });
    (sender, writer)
}
