//! The Cassandra side of a pipeline: the keyspace and its tables, and a prepared statement
//! for every write and read the sinks, the offsets and the state scan make.
//!
//! Every write is an upsert or a delete carrying `USING TIMESTAMP` from the data (a row's
//! version, a view's run and epoch, an offset itself; see `sink.rs`), so writes may land in any
//! order and a replay after a crash leaves the same state. The keyspace's `rtds_meta` table
//! holds the number of the last run (claimed with a lightweight transaction) and says that its
//! write times come from the data: a keyspace an older rtds filled, whose write times came
//! from the clock, is refused with how to rebuild it.

use std::sync::Arc;

use scylla::client::session::Session;
use scylla::errors::ExecutionError;
use scylla::response::query_result::QueryResult;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::Consistency;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::unprepared::Statement;
use scylla::value::CqlTimestamp;
use uuid::Uuid;

use super::views::{ViewTable, read_rows};
use super::{DatabaseWarnings, TokenRanges, token_share};
use super::Replication;
use crate::connectors::{Durable, ServiceError};
use crate::model::User;
use crate::sql::{Program, Row, Type};

/// Prepared statements for one keyspace, shared by every worker of a process.
pub struct CassandraTables {
    session: Arc<Session>,
    keyspace: String,
    table: String,
    insert_user: PreparedStatement,
    delete_user: PreparedStatement,
    /// Only for computing a row's token (statements with the same partition key share it).
    select_user: PreparedStatement,
    /// One per view of the dataflow, in its order.
    views: Vec<ViewTable>,
    insert_offset: PreparedStatement,
    select_offsets: PreparedStatement,
    /// Reads back the state row (the columns the views read) of stored rows.
    scan_users: PreparedStatement,
    state_types: Vec<Type>,
    /// Of batches (prepared statements carry their own).
    consistency: Consistency,
    warnings: DatabaseWarnings,
}

/// A CQL identifier we may splice into DDL (keyspace and table names cannot be bound).
pub fn check_identifier(kind: &str, name: &str) -> Result<(), ServiceError> {
    let ok = name.len() <= 48
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok { Ok(()) } else { Err(ServiceError::cassandra(format!("{kind} {name:?} is not a plain identifier (letters, digits, _)"))) }
}

impl CassandraTables {
    /// Creates the keyspace (replicated as `replication` says) and tables if missing: the
    /// rows table, the offsets and one table per view of `program`; and prepares every
    /// statement at `replication`'s consistency. A keyspace that exists keeps its replication:
    /// a warning says so when it differs from `replication`'s.
    pub async fn prepare(
        session: Arc<Session>,
        keyspace: &str,
        table: &str,
        program: &Program,
        replication: &Replication,
    ) -> Result<CassandraTables, ServiceError> {
        check_identifier("keyspace", keyspace)?;
        check_identifier("table", table)?;
        let ddl = |cql: String| {
            let session = session.clone();
            async move { session.query_unpaged(cql, &[]).await.map(|_| ()).map_err(ServiceError::cassandra) }
        };
        ddl(format!("CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {}", replication.cql())).await?;
        warn_if_replicated_otherwise(&session, keyspace, replication).await?;
        ddl(format!(
            "CREATE TABLE IF NOT EXISTS {keyspace}.{table} (id uuid PRIMARY KEY, first_name text, last_name text, \
             gender text, address text, post_code text, email text, username text, dob timestamp, \
             registered_date timestamp, phone text, picture text, country text, committed_at timestamp)"
        ))
        .await?;
        ddl(format!(
            "CREATE TABLE IF NOT EXISTS {keyspace}.offsets (topic text, partition int, next_offset bigint, epoch bigint, \
             records bigint, PRIMARY KEY (topic, partition))"
        ))
        .await?;
        // Tables made by an older rtds get the columns added since: the offsets' record count,
        // the rows' commit time. Asked once the nodes agree on the tables just made, so that a
        // process does not miss a column another process's CREATE gave them.
        session.await_schema_agreement().await.map_err(ServiceError::cassandra)?;
        for (owner, column, ty) in [("offsets", "records", "bigint"), (table, "committed_at", "timestamp")] {
            let has = session
                .query_unpaged(
                    "SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ? AND column_name = ?",
                    (keyspace, owner, column),
                )
                .await
                .map_err(ServiceError::cassandra)?
                .into_rows_result()
                .is_ok_and(|rows| rows.rows_num() > 0);
            if !has {
                // Processes starting together may both add it: the one that comes second is
                // told the column "already exists", which is what it wanted.
                match ddl(format!("ALTER TABLE {keyspace}.{owner} ADD {column} {ty}")).await {
                    Err(error) if error.to_string().contains("already exists") => {}
                    added => added?,
                }
            }
        }
        ensure_data_write_times(&session, keyspace, table).await?;
        let mut views = Vec::new();
        for view in &program.views {
            if view.name == table {
                return Err(ServiceError::cassandra(format!("view {} has the rows table's name", view.name)));
            }
            views.push(ViewTable::prepare(&session, keyspace, view, replication.consistency).await?);
        }
        session.await_schema_agreement().await.map_err(ServiceError::cassandra)?;
        let insert_user = prepare(
            &session,
            format!(
                "INSERT INTO {keyspace}.{table} (id, first_name, last_name, gender, address, post_code, email, username, \
                 dob, registered_date, phone, picture, country, committed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"
            ),
            replication.consistency,
        )
        .await?;
        let select_user = prepare(&session, format!("SELECT id FROM {keyspace}.{table} WHERE id = ?"), replication.consistency).await?;
        let delete_user = prepare(&session, format!("DELETE FROM {keyspace}.{table} USING TIMESTAMP ? WHERE id = ?"), replication.consistency).await?;
        let insert_offset = prepare(
            &session,
            format!("INSERT INTO {keyspace}.offsets (topic, partition, next_offset, records, epoch) VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?"),
            replication.consistency,
        )
        .await?;
        let select_offsets =
            prepare(&session, format!("SELECT partition, next_offset, records, epoch FROM {keyspace}.offsets WHERE topic = ?"), replication.consistency).await?;
        let state = program.table.state_names().join(", ");
        let state_types = program.table.state_columns.iter().map(|i| program.table.columns[*i].ty).collect();
        let scan_users = prepare(
            &session,
            format!("SELECT {state} FROM {keyspace}.{table} WHERE token(id) >= ? AND token(id) <= ?"),
            replication.consistency,
        )
        .await?;
        Ok(CassandraTables {
            session,
            keyspace: keyspace.to_string(),
            table: table.to_string(),
            insert_user,
            delete_user,
            select_user,
            views,
            insert_offset,
            select_offsets,
            scan_users,
            state_types,
            consistency: replication.consistency,
            warnings: DatabaseWarnings::default(),
        })
    }

    /// The warnings Cassandra returned with this sink's writes.
    pub fn warnings(&self) -> &DatabaseWarnings {
        &self.warnings
    }

    /// A write's outcome: its warnings counted, its error classed.
    fn acknowledged(&self, result: Result<QueryResult, ExecutionError>) -> Result<(), ServiceError> {
        let result = result.map_err(ServiceError::cassandra_request)?;
        self.warnings.record(result.warnings());
        Ok(())
    }

    /// The keyspace written to.
    pub fn keyspace(&self) -> &str {
        &self.keyspace
    }

    /// The rows' table.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Upserts one row committed at `committed` (UTC milliseconds); `timestamp` is the write
    /// time in microseconds.
    pub async fn write_user(&self, user: &User, committed: Option<i64>, timestamp: i64) -> Result<(), ServiceError> {
        self.acknowledged(self.session.execute_unpaged(&self.insert_user, user_values(user, committed, timestamp)).await)
    }

    /// Upserts rows, each at its own write time, in one unlogged batch: one request instead of
    /// one per row. The rows sink
    /// batches rows of one token range (see [`CassandraTables::token_ranges`]): they share
    /// their replicas, so the batch is routed to one of them and applies there. Every row is
    /// a partition of its own, and Cassandra warns about an unlogged batch over more than
    /// `unlogged_batch_across_partitions_warn_threshold` (10) partitions: hence at most 10 rows.
    ///
    /// One row goes as a plain statement: a batch of one only adds the batch limits.
    pub async fn write_users<'a>(&self, users: impl ExactSizeIterator<Item = (&'a User, Option<i64>, i64)>) -> Result<(), ServiceError> {
        let values: Vec<_> = users.map(|(user, committed, timestamp)| user_values(user, committed, timestamp)).collect();
        if let [one] = &values[..] {
            return self.acknowledged(self.session.execute_unpaged(&self.insert_user, one).await);
        }
        let mut batch = Batch::new(BatchType::Unlogged);
        batch.set_consistency(self.consistency);
        for _ in 0..values.len() {
            batch.append_statement(self.insert_user.clone());
        }
        self.acknowledged(self.session.batch(&batch, values).await)
    }

    /// Deletes one row as of `timestamp` (a tombstone): only an upsert with a later write
    /// time brings the id back.
    pub async fn delete_user(&self, id: Uuid, timestamp: i64) -> Result<(), ServiceError> {
        self.acknowledged(self.session.execute_unpaged(&self.delete_user, (timestamp, id)).await)
    }

    /// The Murmur3 token of a row id, to group rows by replica.
    pub fn token(&self, id: Uuid) -> i64 {
        self.select_user.calculate_token(&(id,)).ok().flatten().map_or(0, |token| token.value())
    }

    /// Every node of the ring as the driver sees it: its address, and whether the driver holds
    /// a connection to it (a node that is down has none).
    pub fn nodes(&self) -> Vec<(String, bool)> {
        let state = self.session.get_cluster_state();
        let mut nodes: Vec<(String, bool)> = state.get_nodes_info().iter().map(|node| (node.address.to_string(), node.is_connected())).collect();
        nodes.sort();
        nodes
    }

    /// The token ranges of the ring as the driver sees it now: the rows of one range share
    /// their replicas (see [`TokenRanges::parts`]).
    pub fn token_ranges(&self) -> TokenRanges {
        let state = self.session.get_cluster_state();
        TokenRanges::new(state.replica_locator().ring().iter().map(|(token, _)| token.value()).collect())
    }

    /// Upserts a view's row: one partition, so one plain statement (a batch over several keys
    /// spans as many partitions, which Cassandra warns about, and loads one coordinator with
    /// the writes of other replicas).
    pub async fn write_view(&self, view: usize, row: &Row, timestamp: i64) -> Result<(), ServiceError> {
        let table = &self.views[view];
        self.acknowledged(self.session.execute_unpaged(table.insert(), table.insert_values(row, timestamp)).await)
    }

    /// Deletes a view's key (its group is gone) as of `timestamp`.
    pub async fn delete_view(&self, view: usize, key: &Row, timestamp: i64) -> Result<(), ServiceError> {
        let table = &self.views[view];
        self.acknowledged(self.session.execute_unpaged(table.delete(), table.delete_values(key, timestamp)).await)
    }

    /// Claims the next run number: one more than any run of this keyspace before, by a
    /// lightweight transaction (compare-and-set), so two processes never claim the same one
    /// and a later run always claims a higher one. View write times start with it.
    pub async fn claim_run(&self) -> Result<u64, ServiceError> {
        let ks = &self.keyspace;
        let read = format!("SELECT value FROM {ks}.rtds_meta WHERE name = 'run'");
        let first = format!("INSERT INTO {ks}.rtds_meta (name, value) VALUES ('run', 1) IF NOT EXISTS");
        let next = format!("UPDATE {ks}.rtds_meta SET value = ? WHERE name = 'run' IF value = ?");
        for _ in 0..100 {
            let mut select = Statement::new(read.clone());
            select.set_consistency(Consistency::Serial);
            let rows = self.session.query_unpaged(select, &[]).await.map_err(ServiceError::cassandra)?.into_rows_result().map_err(ServiceError::cassandra)?;
            let current = rows.maybe_first_row::<(Option<i64>,)>().map_err(ServiceError::cassandra)?.and_then(|(v,)| v);
            let (claimed, result) = match current {
                None => (1, self.session.query_unpaged(first.clone(), &[]).await),
                Some(run) => (run + 1, self.session.query_unpaged(next.clone(), (run + 1, run)).await),
            };
            let rows = result.map_err(ServiceError::cassandra)?.into_rows_result().map_err(ServiceError::cassandra)?;
            let applied = rows.rows::<scylla::value::Row>().map_err(ServiceError::cassandra)?.next().and_then(Result::ok).and_then(|row| row.columns.first().cloned().flatten()).is_some_and(|v| v.as_boolean() == Some(true));
            if applied {
                return Ok(claimed as u64);
            }
        }
        Err(ServiceError::cassandra("cannot claim a run number: 100 attempts lost to other processes"))
    }

    /// The keyspace's lineage: a number drawn when the keyspace is first used and kept in
    /// `rtds_meta`, so a keyspace dropped and made again under the same name is told apart
    /// (a checkpoint of the old one is not resumed from).
    pub async fn lineage(&self) -> Result<i64, ServiceError> {
        let ks = &self.keyspace;
        let draw = format!("INSERT INTO {ks}.rtds_meta (name, value) VALUES ('lineage', ?) IF NOT EXISTS");
        self.session.query_unpaged(draw, (rand::random::<i64>(),)).await.map_err(ServiceError::cassandra)?;
        let mut read = Statement::new(format!("SELECT value FROM {ks}.rtds_meta WHERE name = 'lineage'"));
        read.set_consistency(Consistency::Serial);
        let rows = self.session.query_unpaged(read, &[]).await.map_err(ServiceError::cassandra)?.into_rows_result().map_err(ServiceError::cassandra)?;
        rows.maybe_first_row::<(Option<i64>,)>()
            .map_err(ServiceError::cassandra)?
            .and_then(|(v,)| v)
            .ok_or_else(|| ServiceError::cassandra("the keyspace's lineage was drawn but reads back empty"))
    }

    /// The table of view `index`.
    pub fn view(&self, index: usize) -> &ViewTable {
        &self.views[index]
    }

    /// Every view's table.
    pub fn views(&self) -> &[ViewTable] {
        &self.views
    }

    /// At most `limit` current rows of every view, sorted.
    pub async fn read_views(&self, limit: usize) -> Result<Vec<Vec<Row>>, ServiceError> {
        let mut all = Vec::with_capacity(self.views.len());
        for view in &self.views {
            all.push(view.read(&self.session, limit).await?);
        }
        Ok(all)
    }

    /// Every view's keys.
    pub async fn read_view_keys(&self) -> Result<Vec<Vec<Row>>, ServiceError> {
        let mut all = Vec::with_capacity(self.views.len());
        for view in &self.views {
            all.push(view.read_keys(&self.session).await?);
        }
        Ok(all)
    }

    /// Records that `partition` is durable at `point` as of `epoch`, written at the offset
    /// itself: a partition's durable point only moves forward, whoever writes it.
    pub async fn write_offset(&self, topic: &str, partition: i32, point: Durable, epoch: u64) -> Result<(), ServiceError> {
        let values = (topic, partition, point.next_offset, point.records, epoch as i64, point.next_offset);
        self.acknowledged(self.session.execute_unpaged(&self.insert_offset, values).await)
    }

    /// The durable points of `topic`: (partition, point, epoch).
    pub async fn offsets(&self, topic: &str) -> Result<Vec<(i32, Durable, i64)>, ServiceError> {
        let result = self.session.execute_unpaged(&self.select_offsets, (topic,)).await.map_err(ServiceError::cassandra)?;
        let rows = result.into_rows_result().map_err(ServiceError::cassandra)?;
        rows.rows::<(i32, i64, Option<i64>, i64)>()
            .map_err(ServiceError::cassandra)?
            .map(|r| {
                // Rows written before the count was kept: every offset was a record then.
                r.map(|(partition, next, records, epoch)| (partition, Durable { next_offset: next, records: records.unwrap_or(next) }, epoch))
                    .map_err(ServiceError::cassandra)
            })
            .collect()
    }

    /// The state rows (the columns the views read) of the stored rows whose token falls in
    /// share `index` of `shares` of the ring.
    pub async fn scan_share(&self, index: usize, shares: usize) -> Result<Vec<Row>, ServiceError> {
        let (low, high) = token_share(index, shares);
        let pager = self.session.execute_iter(self.scan_users.clone(), (low, high)).await.map_err(ServiceError::cassandra)?;
        read_rows(pager, &self.state_types).await
    }
}

/// About how many bytes a row adds to a batch, as Cassandra sizes batches (the data of its
/// cells, plus a little per cell): what `batch_bytes` bounds.
pub fn row_size(user: &User) -> usize {
    let text: usize = user.text_fields().iter().map(|(_, t)| t.as_deref().map_or(0, str::len)).sum();
    // The id, three timestamps (dob, registered_date, committed_at), the texts, and 14 cells'
    // overhead (measured: at 12 bytes a cell, batches of 4,000 estimated bytes came to 5,030-5,090
    // in Cassandra's count, over its 5 KiB warning).
    16 + 3 * 8 + text + 14 * 14
}

/// A row's values for the insert statement, `timestamp` last.
#[allow(clippy::type_complexity)]
fn user_values(
    user: &User,
    committed: Option<i64>,
    timestamp: i64,
) -> (
    Uuid,
    Option<&str>,
    Option<&str>,
    Option<&str>,
    Option<&str>,
    Option<&str>,
    Option<&str>,
    Option<&str>,
    Option<CqlTimestamp>,
    Option<CqlTimestamp>,
    Option<&str>,
    Option<&str>,
    Option<&str>,
    Option<CqlTimestamp>,
    i64,
) {
    let date = |date: &Option<crate::model::date::Date>| date.map(|t| CqlTimestamp(t.timestamp_millis()));
    (
        user.id,
        user.first_name.as_deref(),
        user.last_name.as_deref(),
        user.gender.as_deref(),
        user.address.as_deref(),
        user.post_code.as_deref(),
        user.email.as_deref(),
        user.username.as_deref(),
        date(&user.dob),
        date(&user.registered_date),
        user.phone.as_deref(),
        user.picture.as_deref(),
        user.country.as_deref(),
        committed.map(CqlTimestamp),
        timestamp,
    )
}

/// The keyspace's `rtds_meta` table, and its mark that write times come from the data. A
/// keyspace with rows but without the mark was written by an rtds whose write times came from
/// the clock (microseconds since 1970, far above any LSN): writes of this one would lose to
/// them, silently. That is refused, naming the fix.
async fn ensure_data_write_times(session: &Session, keyspace: &str, table: &str) -> Result<(), ServiceError> {
    let query = |cql: String| async move { session.query_unpaged(cql, &[]).await.map_err(ServiceError::cassandra) };
    query(format!("CREATE TABLE IF NOT EXISTS {keyspace}.rtds_meta (name text PRIMARY KEY, value bigint)")).await?;
    // Every node must know the new table before it is read: a node that does not yet answers
    // INCOMPATIBLE_SCHEMA (seen on a three-node cluster).
    session.await_schema_agreement().await.map_err(ServiceError::cassandra)?;
    let marked = query(format!("SELECT value FROM {keyspace}.rtds_meta WHERE name = 'write_times_from_data'"))
        .await?
        .into_rows_result()
        .is_ok_and(|rows| rows.rows_num() > 0);
    if marked {
        return Ok(());
    }
    let holds = |cql: String| async move { query(cql).await.map(|result| result.into_rows_result().is_ok_and(|rows| rows.rows_num() > 0)) };
    let written = holds(format!("SELECT id FROM {keyspace}.{table} LIMIT 1")).await? || holds(format!("SELECT topic FROM {keyspace}.offsets LIMIT 1")).await?;
    if written {
        return Err(ServiceError::Refused {
            service: "Cassandra",
            message: format!(
                "keyspace {keyspace} was written by an older rtds, whose write times came from the clock; this one orders writes by \
                 the data (PostgreSQL's commit LSN), and its writes would lose to the old ones. Rebuild it: `DROP KEYSPACE {keyspace}` \
                 (the workers fill it again from the topic), or give the pipeline another --keyspace"
            ),
        });
    }
    query(format!("INSERT INTO {keyspace}.rtds_meta (name, value) VALUES ('write_times_from_data', 1)")).await?;
    Ok(())
}

async fn prepare(session: &Session, cql: String, consistency: Consistency) -> Result<PreparedStatement, ServiceError> {
    let mut statement = session.prepare(cql).await.map_err(ServiceError::cassandra)?;
    statement.set_consistency(consistency);
    Ok(statement)
}

/// Logs a warning when `keyspace` exists with another replication than `wanted`: rtds does
/// not change a keyspace's replication (that takes an ALTER and a repair, an operator's call).
async fn warn_if_replicated_otherwise(session: &Session, keyspace: &str, wanted: &Replication) -> Result<(), ServiceError> {
    let rows = session
        .query_unpaged("SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?", (keyspace,))
        .await
        .map_err(ServiceError::cassandra)?
        .into_rows_result()
        .map_err(ServiceError::cassandra)?;
    let Some((existing,)) = rows.maybe_first_row::<(std::collections::HashMap<String, String>,)>().map_err(ServiceError::cassandra)? else {
        return Ok(());
    };
    let factor = |key: &str| existing.get(key).and_then(|f| f.parse::<u32>().ok());
    let matches = match &wanted.datacenter {
        Some(dc) => existing.get("class").is_some_and(|c| c.ends_with("NetworkTopologyStrategy")) && factor(dc) == Some(wanted.factor),
        None => existing.get("class").is_some_and(|c| c.ends_with("SimpleStrategy")) && factor("replication_factor") == Some(wanted.factor),
    };
    if !matches {
        tracing::warn!(keyspace, ?existing, wanted = %wanted.cql(), "the keyspace exists with another replication; rtds leaves it as it is \
            (change it with ALTER KEYSPACE, then run nodetool repair)");
    }
    Ok(())
}
