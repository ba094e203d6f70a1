//! The ingest tables and the idempotent batch load.
//!
//! Each batch is COPYed (binary) into session-local staging tables, then moved into the real
//! tables with `INSERT … SELECT … ON CONFLICT (id) DO NOTHING`, all in one transaction: a
//! batch is stored whole or not at all, and storing it again adds nothing.

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use futures::pin_mut;
use tokio_postgres::Client;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use uuid::Uuid;

use super::ServiceError;
use crate::model::{Rejected, User};

/// The tables, created if missing.
pub const SCHEMA: &str = "
create table if not exists raw_users (
    id uuid primary key,
    raw jsonb not null,
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
create temporary table if not exists stage_raw_users
    (id uuid, raw jsonb, api_version text) on commit delete rows;
create temporary table if not exists stage_created_users
    (id uuid, first_name text, last_name text, gender text, address text, post_code text, email text,
     username text, dob timestamptz, registered_date timestamptz, phone text, picture text, country text)
    on commit delete rows;
create temporary table if not exists stage_rejected_users
    (id uuid, raw text, reason text, source text) on commit delete rows;
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
    /// Users new to `created_users` (an already stored id adds nothing).
    pub users: u64,
    /// Rejected records new to `rejected_users`.
    pub rejected: u64,
}

/// A PostgreSQL connection with the ingest schema in place.
pub struct UserStore {
    client: Client,
}

impl UserStore {
    /// Connects and creates the tables if missing.
    pub async fn connect(url: &str) -> Result<UserStore, ServiceError> {
        let client = super::connect(url).await?;
        client.batch_execute(SCHEMA).await?;
        Ok(UserStore { client })
    }

    /// Stores a batch in one transaction; `source` names where it came from (the API URL).
    pub async fn store(&mut self, batch: &Batch, source: &str) -> Result<Stored, ServiceError> {
        let tx = self.client.transaction().await?;

        let raw_copy = tx.prepare("copy stage_raw_users (id, raw, api_version) from stdin binary").await?;
        let writer = BinaryCopyInWriter::new(tx.copy_in(&raw_copy).await?, &[Type::UUID, Type::JSONB, Type::TEXT]);
        pin_mut!(writer);
        for (user, raw) in &batch.users {
            writer.as_mut().write(&[&user.id, &RawJson(raw), &batch.api_version]).await?;
        }
        writer.finish().await?;

        let users_copy = tx
            .prepare(
                "copy stage_created_users (id, first_name, last_name, gender, address, post_code, email, username, \
                 dob, registered_date, phone, picture, country) from stdin binary",
            )
            .await?;
        let types = [
            Type::UUID, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
            Type::TIMESTAMPTZ, Type::TIMESTAMPTZ, Type::TEXT, Type::TEXT, Type::TEXT,
        ];
        let writer = BinaryCopyInWriter::new(tx.copy_in(&users_copy).await?, &types);
        pin_mut!(writer);
        for (user, _) in &batch.users {
            let dob = timestamp(&user.dob);
            let registered = timestamp(&user.registered_date);
            writer
                .as_mut()
                .write(&[
                    &user.id, &user.first_name, &user.last_name, &user.gender, &user.address, &user.post_code,
                    &user.email, &user.username, &dob, &registered, &user.phone, &user.picture, &user.country,
                ])
                .await?;
        }
        writer.finish().await?;

        let rejected_copy = tx.prepare("copy stage_rejected_users (id, raw, reason, source) from stdin binary").await?;
        let writer =
            BinaryCopyInWriter::new(tx.copy_in(&rejected_copy).await?, &[Type::UUID, Type::TEXT, Type::TEXT, Type::TEXT]);
        pin_mut!(writer);
        for rejected in &batch.rejected {
            let id = rejected_id(rejected);
            writer.as_mut().write(&[&id, &rejected.raw, &rejected.reason, &source]).await?;
        }
        writer.finish().await?;

        let move_raw = tx
            .prepare(
                "insert into raw_users (id, raw, api_version) select id, raw, api_version from stage_raw_users \
                 on conflict (id) do nothing",
            )
            .await?;
        let move_users = tx
            .prepare(
                "insert into created_users (id, first_name, last_name, gender, address, post_code, email, username, \
                 dob, registered_date, phone, picture, country) \
                 select id, first_name, last_name, gender, address, post_code, email, username, dob, \
                 registered_date, phone, picture, country from stage_created_users on conflict (id) do nothing",
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

/// The id of a rejected row: the same record rejected for the same reason is one row.
pub fn rejected_id(rejected: &Rejected) -> Uuid {
    let mut name = Vec::with_capacity(rejected.reason.len() + rejected.raw.len() + 1);
    name.extend_from_slice(rejected.reason.as_bytes());
    name.push(0);
    name.extend_from_slice(rejected.raw.as_bytes());
    Uuid::new_v5(&REJECTED_NAMESPACE, &name)
}

fn timestamp(text: &Option<String>) -> Option<DateTime<Utc>> {
    text.as_deref().and_then(crate::engine::checks::parse_date)
}

/// JSON text sent as `jsonb` without parsing it into a value first (binary jsonb is a
/// version byte, 1, then the text).
#[derive(Debug)]
struct RawJson<'a>(&'a str);

impl ToSql for RawJson<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        if *ty == Type::JSONB {
            out.extend_from_slice(&[1]);
        }
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB || *ty == Type::JSON
    }

    to_sql_checked!();
}
