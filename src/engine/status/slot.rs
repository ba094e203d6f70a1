//! The CDC stage's replication slot as PostgreSQL sees it, for the status page: how much WAL
//! it holds back, and a warning when that grows (an unread slot keeps WAL forever).

use std::time::Duration;

use serde::Serialize;
use tokio_postgres::types::PgLsn;

use super::StatusState;

/// WAL held back by the slot above which the page warns.
pub const LAG_WARNING_BYTES: i64 = 1 << 30;

/// The slot, polled every few seconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SlotStatus {
    pub slot: String,
    /// Whether the slot exists in the database.
    pub exists: bool,
    /// Whether a connection (`rtds cdc`) is reading it now.
    pub active: bool,
    /// Commits up to here are in Kafka and confirmed.
    pub confirmed_lsn: String,
    /// WAL from the confirmed position to the server's current one.
    pub lag_bytes: i64,
    /// PostgreSQL's `wal_status`: reserved, extended, unreserved or lost.
    pub wal_status: String,
    /// What to do, when something is wrong.
    pub warning: Option<String>,
}

/// Polls the slot into `state` until the process ends; a PostgreSQL that does not answer is
/// shown as the warning.
pub async fn poll_slot(state: StatusState, url: String, slot: String) {
    let mut client = None;
    loop {
        if client.is_none() {
            client = crate::connectors::postgres::connect(&url).await.ok();
        }
        let status = match &client {
            Some(c) => match read(c, &slot).await {
                Ok(status) => status,
                Err(e) => {
                    client = None;
                    SlotStatus { slot: slot.clone(), warning: Some(format!("cannot read the slot: {e}")), ..Default::default() }
                }
            },
            None => SlotStatus { slot: slot.clone(), warning: Some("PostgreSQL is not reachable".into()), ..Default::default() },
        };
        *state.slot.lock().expect("status") = Some(status);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

async fn read(client: &tokio_postgres::Client, slot: &str) -> Result<SlotStatus, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "select active, confirmed_flush_lsn, (pg_current_wal_lsn() - confirmed_flush_lsn)::int8, coalesce(wal_status, '') \
             from pg_replication_slots where slot_name = $1 and database = current_database()",
            &[&slot],
        )
        .await?;
    let Some(row) = row else {
        return Ok(SlotStatus { slot: slot.to_string(), warning: Some(format!("no replication slot {slot}: is `rtds cdc` started?")), ..Default::default() });
    };
    let lag_bytes: i64 = row.get::<_, Option<i64>>(2).unwrap_or(0);
    let active: bool = row.get(0);
    let wal_status: String = row.get(3);
    let warning = if wal_status == "lost" {
        Some(format!("slot {slot} lost WAL it needed (max_slot_wal_keep_size): drop it and let `rtds cdc` take a new snapshot"))
    } else if lag_bytes > LAG_WARNING_BYTES {
        Some(format!(
            "slot {slot} holds {:.1} GB of WAL{}: start `rtds cdc`, or drop the slot if unused: select pg_drop_replication_slot('{slot}')",
            lag_bytes as f64 / 1e9,
            if active { "" } else { " and nobody reads it" }
        ))
    } else {
        None
    };
    Ok(SlotStatus {
        slot: slot.to_string(),
        exists: true,
        active,
        confirmed_lsn: row.get::<_, Option<PgLsn>>(1).map(|l| l.to_string()).unwrap_or_default(),
        lag_bytes,
        wal_status,
        warning,
    })
}
