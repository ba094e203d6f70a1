//! PostgreSQL's logical replication, as the CDC stage uses it: the publication, the slot,
//! the replication connection and the snapshot a new slot exports.
//!
//! Why the replication protocol (through `pgwire-replication`) rather than the slot SQL
//! functions (`pg_logical_slot_peek_changes` with wal2json or `test_decoding`): a peek decodes
//! again from the slot's restart point on every call, and that point moves only with the
//! server's running-transactions records (every 15 s), so at tens of thousands of rows a
//! second each poll would decode seconds of WAL again. A replication connection decodes each
//! record once and streams it; it also exports a snapshot consistent with the new slot's
//! starting point (`CREATE_REPLICATION_SLOT … SNAPSHOT 'export'`), and needs no output plugin
//! beyond the built-in `pgoutput`, which managed PostgreSQL services all offer.

use pgwire_replication::{Lsn, ReplicationClient, ReplicationConfig};
use tokio_postgres::Client;
use tokio_postgres::types::PgLsn;

use super::{PgConfig, ServiceError};

/// The slot as `pg_replication_slots` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotState {
    /// Commits before this LSN are confirmed: the slot will not send them again.
    pub confirmed_flush: u64,
    /// Whether a connection is reading it now.
    pub active: bool,
}

/// A slot or publication name rtds may splice into a replication command (they cannot be
/// bound as parameters): lowercase letters, digits and `_`, at most 63 characters, as
/// PostgreSQL requires of slot names.
pub fn check_name(kind: &str, name: &str) -> Result<(), ServiceError> {
    let ok = !name.is_empty() && name.len() <= 63 && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ServiceError::Refused { service: "PostgreSQL", message: format!("{kind} {name:?} must be 1-63 lowercase letters, digits or _") })
    }
}

/// The default slot name for a database: `rtds_` and the database name, made a valid slot
/// name, so pipelines of two databases on one server do not share a slot.
///
/// ```
/// assert_eq!(rtds::connectors::postgres::default_slot("postgres://u@h/Users-2024"), "rtds_users_2024");
/// ```
pub fn default_slot(url: &str) -> String {
    let database = PgConfig::parse(url).ok().and_then(|c| c.tokio_config().get_dbname().map(str::to_string)).unwrap_or_default();
    let cleaned: String = database.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    format!("rtds_{cleaned}").chars().take(63).collect()
}

/// Fails with the fix when the server cannot decode its log.
pub async fn check_wal_level(client: &Client) -> Result<(), ServiceError> {
    let level: String = client.query_one("select current_setting('wal_level')", &[]).await?.get(0);
    if level == "logical" {
        return Ok(());
    }
    Err(ServiceError::Refused {
        service: "PostgreSQL",
        message: format!(
            "wal_level is {level}; change data capture needs wal_level=logical \
             (ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL)"
        ),
    })
}

/// Creates the publication of `table` (inserts, updates and deletes) unless it exists.
pub async fn ensure_publication(client: &Client, name: &str, table: &str) -> Result<(), ServiceError> {
    check_name("publication", name)?;
    let exists = client.query_opt("select 1 from pg_publication where pubname = $1", &[&name]).await?.is_some();
    if !exists {
        // A concurrent creation makes this fail with a duplicate, which is as good.
        let create = format!("create publication {name} for table {table} with (publish = 'insert, update, delete')");
        if let Err(e) = client.batch_execute(&create).await {
            if e.code() != Some(&tokio_postgres::error::SqlState::DUPLICATE_OBJECT) {
                return Err(e.into());
            }
        }
    }
    Ok(())
}

/// Fails with the fix when a slot named `slot` belongs to another database: slots are the
/// server's, and creating this database's would fail on the name for as long as it exists.
pub async fn check_slot_is_ours(client: &Client, slot: &str) -> Result<(), ServiceError> {
    let row = client
        .query_opt("select database from pg_replication_slots where slot_name = $1 and database is distinct from current_database()", &[&slot])
        .await?;
    match row {
        None => Ok(()),
        Some(row) => Err(ServiceError::Refused {
            service: "PostgreSQL",
            message: format!(
                "the replication slot {slot} belongs to database {}: give this database's stage a slot of its own with --slot \
                 (or drop that one: select pg_drop_replication_slot('{slot}'))",
                row.get::<_, Option<String>>(0).unwrap_or_else(|| "(none: a physical slot)".into())
            ),
        }),
    }
}

/// The slot of this database named `slot`, if there is one.
pub async fn slot_state(client: &Client, slot: &str) -> Result<Option<SlotState>, ServiceError> {
    let row = client
        .query_opt(
            "select confirmed_flush_lsn, active from pg_replication_slots where slot_name = $1 and database = current_database()",
            &[&slot],
        )
        .await?;
    Ok(row.map(|row| SlotState {
        confirmed_flush: row.get::<_, Option<PgLsn>>(0).map_or(0, u64::from),
        active: row.get(1),
    }))
}

/// Bytes of WAL the slot holds back (from its confirmed position to the server's current
/// one): what an unread slot costs the server's disk.
pub async fn slot_lag_bytes(client: &Client, slot: &str) -> Result<Option<i64>, ServiceError> {
    let row = client
        .query_opt(
            "select (pg_current_wal_lsn() - confirmed_flush_lsn)::int8 from pg_replication_slots where slot_name = $1",
            &[&slot],
        )
        .await?;
    Ok(row.and_then(|row| row.get(0)))
}

/// Drops the slot (it must not be active).
pub async fn drop_slot(client: &Client, slot: &str) -> Result<(), ServiceError> {
    client.execute("select pg_drop_replication_slot($1)", &[&slot]).await?;
    Ok(())
}

/// Writes a logical decoding message (not in a transaction) and returns its LSN: once the
/// stream delivers it, every commit before it has been delivered.
pub async fn emit_probe(client: &Client, prefix: &str) -> Result<u64, ServiceError> {
    let lsn: PgLsn = client.query_one("select pg_logical_emit_message(false, $1, '')", &[&prefix]).await?.get(0);
    Ok(lsn.into())
}

/// The replication connection's settings for `url` (host, port, user, password, database).
pub fn replication_config(url: &str, slot: &str, publication: &str) -> Result<ReplicationConfig, ServiceError> {
    let parsed = PgConfig::parse(url)?;
    let config = parsed.tokio_config();
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "127.0.0.1".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres").to_string();
    let password = config.get_password().map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default();
    let database = config.get_dbname().unwrap_or(&user).to_string();
    let tls = parsed.replication_tls(&host);
    Ok(ReplicationConfig::new(host, user, password, database, slot, publication)
        .with_port(port)
        .with_tls(tls)
        .with_binary(true)
        .with_application_name("rtds cdc")
        .with_status_interval(std::time::Duration::from_secs(1))
        .with_wakeup_interval(std::time::Duration::from_secs(1)))
}

/// Streams the slot from `resume` (the slot's confirmed position when that is later),
/// reporting `resume` as confirmed until told more.
pub async fn start_stream(config: ReplicationConfig, resume: u64) -> Result<ReplicationClient, ServiceError> {
    let config = config.with_start_lsn(Lsn::from_u64(resume)).with_ack_lsn(Lsn::from_u64(resume));
    let mut client = ReplicationClient::connect(config).await.map_err(replication_error)?;
    client.wait_started().await.map_err(replication_error)?;
    Ok(client)
}

/// A new slot, the stream not yet started, and the name of the snapshot it exported: the
/// table as of the slot's starting point. The snapshot is readable (`SET TRANSACTION
/// SNAPSHOT`) until the stream starts; start it with [`ReplicationClient::start`].
pub async fn create_slot(config: ReplicationConfig) -> Result<(ReplicationClient, u64, String), ServiceError> {
    let slot = config.slot.clone();
    check_name("slot", &slot)?;
    let mut client = ReplicationClient::connect_gated(config).await.map_err(replication_error)?;
    let rows = client
        .simple_query(&format!("CREATE_REPLICATION_SLOT {slot} LOGICAL pgoutput (SNAPSHOT 'export')"))
        .await
        .map_err(replication_error)?;
    let column = |index: usize| {
        rows.first().and_then(|row| row.get(index).cloned().flatten()).map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    let (Some(point), Some(snapshot)) = (column(1), column(2)) else {
        return Err(ServiceError::postgres("CREATE_REPLICATION_SLOT answered without a consistent point and snapshot"));
    };
    let point = Lsn::parse(&point).map_err(|e| ServiceError::postgres(format!("consistent point {point:?}: {e}")))?;
    Ok((client, point.as_u64(), snapshot))
}

/// A replication error, classed: a server that went away or a slot in use by another
/// connection pass; anything else is the setup at fault.
pub fn replication_error(error: pgwire_replication::PgWireError) -> ServiceError {
    ServiceError::postgres(format!("replication: {error}"))
}

/// An LSN as PostgreSQL writes it (`16/B374D848`).
pub fn lsn_text(lsn: u64) -> String {
    Lsn::from_u64(lsn).to_string()
}
