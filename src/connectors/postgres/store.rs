//! The ingest tables and the idempotent batch load.
//!
//! Each batch is COPYed (binary) straight into the tables in one transaction. When some id is
//! already stored, that transaction fails whole and the batch is COPYed into session-local
//! staging tables instead, then moved into the real tables with
//! `INSERT … SELECT … ON CONFLICT (id) DO UPDATE` (the latest version of an id wins; an
//! unchanged row is left alone), again in one transaction: a batch is stored whole or not at
//! all, and storing it again changes nothing.

use bytes::{BufMut, Bytes, BytesMut};
use chrono::{DateTime, Utc};
use futures::{SinkExt, pin_mut};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{IsNull, ToSql, Type};
use tokio_postgres::{Client, Transaction};
use uuid::Uuid;

use super::ServiceError;
use crate::model::{Rejected, User};

/// The tables, created if missing. `raw_users.raw` is `json`: the record's text exactly as the
/// API sent it, still queryable with `->` and `->>`. `jsonb` would parse every record on
/// the way in, which cost PostgreSQL 10 CPU s per million users (measured: 1.48 s against
/// 0.46 s for 100,000 records), and it rewrites the text. Tables made before keep their `jsonb`
/// column ([`RawType`]). In one transaction under an advisory lock: two sessions
/// running `create table if not exists` at once (ingest and `rtds cdc` starting together) can
/// both miss the table, and the second then fails on PostgreSQL's catalog (duplicate key in
/// `pg_type`).
pub const SCHEMA: &str = "
begin;
select pg_advisory_xact_lock(hashtext('rtds schema'));
create table if not exists raw_users (
    id uuid primary key,
    raw json not null,
    api_version text,
    ingested_at timestamptz not null default now()
);
create table if not exists created_users (
    id uuid primary key,
    first_name text,
    last_name text,
    gender text,
    address text,
    post_code text,
    email text,
    username text,
    dob timestamptz,
    registered_date timestamptz,
    phone text,
    picture text,
    country text,
    ingested_at timestamptz not null default now()
);
create table if not exists rejected_users (
    id uuid primary key,
    raw text not null,
    reason text not null,
    source text not null,
    rejected_at timestamptz not null default now()
);
create temporary table if not exists stage_created_users
    (id uuid, first_name text, last_name text, gender text, address text, post_code text, email text,
     username text, dob timestamptz, registered_date timestamptz, phone text, picture text, country text)
    on commit delete rows;
create temporary table if not exists stage_rejected_users
    (id uuid, raw text, reason text, source text) on commit delete rows;
commit;
";

/// Namespace of rejected rows' ids: UUIDv5 of reason and raw text, so a retried batch
/// adds no second copy.
const REJECTED_NAMESPACE: Uuid = Uuid::from_u128(0x0b7e_41a9_53c2_4d6f_8a10_f2c4_9e3b_7d51);

/// One batch to store: good users with their raw record text, and rejected records.
#[derive(Debug, Default)]
pub struct Batch {
    pub users: Vec<(User, String)>,
    pub rejected: Vec<Rejected>,
    /// The API version of the response (`info.version`), when it said.
    pub api_version: Option<String>,
}

/// What storing a batch changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// Users new to `created_users` or changed there (an unchanged stored row counts nothing).
    pub users: u64,
    /// Rejected records new to `rejected_users`.
    pub rejected: u64,
}

/// A PostgreSQL connection with the ingest schema in place.
pub struct UserStore {
    client: Client,
    raw_type: RawType,
    /// Batches left to store through the staging tables before trying the direct path again.
    staged_left: u32,
}

/// After a batch met an id already stored, this many batches go the staging way at once: a
/// re-run of old pages conflicts on every batch, and the direct attempt would be wasted work.
const STAGED_AFTER_CONFLICT: u32 = 8;

/// Rows are sent to the server in chunks of about this many bytes, so PostgreSQL parses one
/// chunk while the next is encoded.
const COPY_CHUNK: usize = 256 * 1024;

impl UserStore {
    /// Connects and creates the tables if missing.
    pub async fn connect(url: &str) -> Result<UserStore, ServiceError> {
        let client = super::connect(url).await?;
        client.batch_execute(SCHEMA).await?;
        let raw_type = RawType::of_table(&client).await?;
        client
            .batch_execute(&format!(
                "create temporary table if not exists stage_raw_users (id uuid, raw {}, api_version text) \
                 on commit delete rows",
                raw_type.sql()
            ))
            .await?;
        Ok(UserStore { client, raw_type, staged_left: 0 })
    }

    /// Stores a batch in one transaction; `source` names where it came from (the API URL).
    ///
    /// The batch is first COPYed straight into the tables, which is the cheapest path when
    /// every id is new (the common case). If an id is already stored, that transaction fails
    /// whole and the batch goes through the staging tables instead, whose
    /// `INSERT … ON CONFLICT (id) DO UPDATE` replaces what changed: either way the batch is
    /// stored whole or not at all, and storing it again changes nothing.
    pub async fn store(&mut self, batch: &Batch, source: &str) -> Result<Stored, ServiceError> {
        if self.staged_left == 0 {
            match self.store_direct(batch, source).await {
                Ok(stored) => return Ok(stored),
                Err(Failure::Postgres(e)) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                    tracing::debug!("batch holds ids already stored; storing it through the staging tables");
                    self.staged_left = STAGED_AFTER_CONFLICT;
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            self.staged_left -= 1;
        }
        self.store_staged(batch, source).await.map_err(ServiceError::from)
    }

    /// COPY straight into the tables; fails with a unique violation if any id is there.
    async fn store_direct(&mut self, batch: &Batch, source: &str) -> Result<Stored, Failure> {
        let tx = self.client.transaction().await?;
        let (users, rejected) = copy_batch(&tx, Tables::FINAL, self.raw_type, batch, source).await?;
        tx.commit().await?;
        Ok(Stored { users, rejected })
    }

    /// COPY into the session's staging tables, then move what is new into the tables.
    async fn store_staged(&mut self, batch: &Batch, source: &str) -> Result<Stored, Failure> {
        let tx = self.client.transaction().await?;
        copy_batch(&tx, Tables::STAGING, self.raw_type, batch, source).await?;
        // Latest version wins: a stored id takes the batch's version (the last one in the batch,
        // if it holds the id twice: the staging tables are filled by one COPY each, so their
        // physical order is the batch's), and an unchanged row is left alone, so storing the
        // same batch again changes nothing.
        let move_raw = tx
            .prepare(
                "insert into raw_users (id, raw, api_version) \
                 select distinct on (id) id, raw, api_version from stage_raw_users order by id, ctid desc \
                 on conflict (id) do update set raw = excluded.raw, api_version = excluded.api_version, ingested_at = now() \
                 where raw_users.raw::text is distinct from excluded.raw::text",
            )
            .await?;
        let move_users = tx
            .prepare(
                "insert into created_users (id, first_name, last_name, gender, address, post_code, email, username, \
                 dob, registered_date, phone, picture, country) \
                 select distinct on (id) id, first_name, last_name, gender, address, post_code, email, username, dob, \
                 registered_date, phone, picture, country from stage_created_users order by id, ctid desc \
                 on conflict (id) do update set first_name = excluded.first_name, last_name = excluded.last_name, \
                 gender = excluded.gender, address = excluded.address, post_code = excluded.post_code, \
                 email = excluded.email, username = excluded.username, dob = excluded.dob, \
                 registered_date = excluded.registered_date, phone = excluded.phone, picture = excluded.picture, \
                 country = excluded.country, ingested_at = now() \
                 where (created_users.first_name, created_users.last_name, created_users.gender, created_users.address, \
                 created_users.post_code, created_users.email, created_users.username, created_users.dob, \
                 created_users.registered_date, created_users.phone, created_users.picture, created_users.country) \
                 is distinct from (excluded.first_name, excluded.last_name, excluded.gender, excluded.address, \
                 excluded.post_code, excluded.email, excluded.username, excluded.dob, excluded.registered_date, \
                 excluded.phone, excluded.picture, excluded.country)",
            )
            .await?;
        let move_rejected = tx
            .prepare(
                "insert into rejected_users (id, raw, reason, source) select id, raw, reason, source \
                 from stage_rejected_users on conflict (id) do nothing",
            )
            .await?;
        tx.execute(&move_raw, &[]).await?;
        let users = tx.execute(&move_users, &[]).await?;
        let rejected = tx.execute(&move_rejected, &[]).await?;
        tx.commit().await?;
        Ok(Stored { users, rejected })
    }
}

/// The type of `raw_users.raw`: `json` in tables made now, `jsonb` in tables made before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RawType {
    Json,
    Jsonb,
}

impl RawType {
    async fn of_table(client: &Client) -> Result<RawType, ServiceError> {
        let row = client
            .query_one("select atttypid::regtype::text from pg_attribute where attrelid = 'raw_users'::regclass and attname = 'raw'", &[])
            .await?;
        Ok(if row.get::<_, String>(0) == "jsonb" { RawType::Jsonb } else { RawType::Json })
    }

    fn sql(self) -> &'static str {
        match self {
            RawType::Json => "json",
            RawType::Jsonb => "jsonb",
        }
    }
}

/// Where a batch is COPYed: the tables themselves or the session's staging tables.
struct Tables {
    raw: &'static str,
    users: &'static str,
    rejected: &'static str,
}

impl Tables {
    const FINAL: Tables = Tables { raw: "raw_users", users: "created_users", rejected: "rejected_users" };
    const STAGING: Tables =
        Tables { raw: "stage_raw_users", users: "stage_created_users", rejected: "stage_rejected_users" };
}

/// Why storing failed: PostgreSQL's answer (whose SQLSTATE tells a conflict), or a value
/// that could not be encoded.
enum Failure {
    Postgres(tokio_postgres::Error),
    Encode(String),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(error: tokio_postgres::Error) -> Self {
        Failure::Postgres(error)
    }
}

impl From<Failure> for ServiceError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Postgres(e) => e.into(),
            Failure::Encode(reason) => ServiceError::postgres(reason),
        }
    }
}

/// COPYs (binary) the batch's raw records, formatted users and rejected records into
/// `tables`; returns the users and rejected rows copied. Empty parts are skipped.
async fn copy_batch(tx: &Transaction<'_>, tables: Tables, raw_type: RawType, batch: &Batch, source: &str) -> Result<(u64, u64), Failure> {
    let mut users = 0;
    let mut rejected = 0;
    if !batch.users.is_empty() {
        let sql = format!("copy {} (id, raw, api_version) from stdin binary", tables.raw);
        copy_rows(tx, &sql, &batch.users, |row, (user, raw)| {
            row.fields(3);
            row.uuid(&user.id);
            match raw_type {
                RawType::Json => row.text(Some(raw)),
                RawType::Jsonb => row.jsonb(raw),
            }
            row.text(batch.api_version.as_deref());
            Ok(())
        })
        .await?;
        let sql = format!(
            "copy {} (id, first_name, last_name, gender, address, post_code, email, username, dob, \
             registered_date, phone, picture, country) from stdin binary",
            tables.users
        );
        users = copy_rows(tx, &sql, &batch.users, |row, (user, _)| {
            row.fields(13);
            row.uuid(&user.id);
            for text in [&user.first_name, &user.last_name, &user.gender, &user.address, &user.post_code, &user.email, &user.username] {
                row.text(text.as_deref());
            }
            row.timestamp(user.dob)?;
            row.timestamp(user.registered_date)?;
            for text in [&user.phone, &user.picture, &user.country] {
                row.text(text.as_deref());
            }
            Ok(())
        })
        .await?;
    }
    if !batch.rejected.is_empty() {
        let sql = format!("copy {} (id, raw, reason, source) from stdin binary", tables.rejected);
        rejected = copy_rows(tx, &sql, &batch.rejected, |row, r| {
            row.fields(4);
            row.uuid(&rejected_id(r));
            row.text(Some(&r.raw));
            row.text(Some(&r.reason));
            row.text(Some(source));
            Ok(())
        })
        .await?;
    }
    Ok((users, rejected))
}

/// One binary COPY: the header, a tuple per item written by `write`, the trailer, sent in
/// chunks of about [`COPY_CHUNK`] bytes. Returns the rows PostgreSQL took.
async fn copy_rows<T>(
    tx: &Transaction<'_>,
    sql: &str,
    items: &[T],
    mut write: impl FnMut(&mut CopyRow, &T) -> Result<(), Failure>,
) -> Result<u64, Failure> {
    let sink = tx.copy_in::<_, Bytes>(sql).await?;
    pin_mut!(sink);
    let mut row = CopyRow(BytesMut::with_capacity(COPY_CHUNK + 64 * 1024));
    row.0.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    row.0.put_i32(0); // flags
    row.0.put_i32(0); // header extension length
    for item in items {
        write(&mut row, item)?;
        if row.0.len() >= COPY_CHUNK {
            sink.send(row.0.split().freeze()).await?;
        }
    }
    row.0.put_i16(-1); // trailer
    sink.send(row.0.split().freeze()).await?;
    Ok(sink.finish().await?)
}

/// A binary COPY buffer being filled one tuple at a time.
struct CopyRow(BytesMut);

impl CopyRow {
    fn fields(&mut self, count: i16) {
        self.0.put_i16(count);
    }

    fn uuid(&mut self, id: &Uuid) {
        self.0.put_i32(16);
        self.0.extend_from_slice(id.as_bytes());
    }

    fn text(&mut self, text: Option<&str>) {
        match text {
            Some(text) => {
                self.0.put_i32(text.len() as i32);
                self.0.extend_from_slice(text.as_bytes());
            }
            None => self.0.put_i32(-1),
        }
    }

    /// JSON text as `jsonb` without parsing it first: binary jsonb is a version byte, 1,
    /// then the text.
    fn jsonb(&mut self, json: &str) {
        self.0.put_i32(json.len() as i32 + 1);
        self.0.put_u8(1);
        self.0.extend_from_slice(json.as_bytes());
    }

    /// A `timestamptz`, encoded by postgres-types itself.
    fn timestamp(&mut self, time: Option<DateTime<Utc>>) -> Result<(), Failure> {
        let Some(time) = time else {
            self.0.put_i32(-1);
            return Ok(());
        };
        let at = self.0.len();
        self.0.put_i32(0);
        match time.to_sql(&Type::TIMESTAMPTZ, &mut self.0) {
            Ok(IsNull::No) => {
                let len = (self.0.len() - at - 4) as i32;
                self.0[at..at + 4].copy_from_slice(&len.to_be_bytes());
            }
            Ok(IsNull::Yes) => {
                self.0.truncate(at);
                self.0.put_i32(-1);
            }
            Err(e) => return Err(Failure::Encode(format!("cannot send the timestamp {time}: {e}"))),
        }
        Ok(())
    }
}

/// The id of a rejected row: the same record rejected for the same reason is one row.
pub fn rejected_id(rejected: &Rejected) -> Uuid {
    let mut name = Vec::with_capacity(rejected.reason.len() + rejected.raw.len() + 1);
    name.extend_from_slice(rejected.reason.as_bytes());
    name.push(0);
    name.extend_from_slice(rejected.raw.as_bytes());
    Uuid::new_v5(&REJECTED_NAMESPACE, &name)
}
