//! The sink's ceiling: how fast this machine's Cassandra takes rtds's rows when nothing else
//! happens: no Kafka, no dataflow, no offsets, no aggregates. Figures in benches/COMPARE.md.
//!
//! ```sh
//! cargo bench --bench cassandra_ceiling -- --rows 100000 --batch 10
//! ```
//!
//! Generates `--rows` users with the crate's generator and formats them as rtds does (all of
//! it before the clock starts), creates a fresh keyspace with a table like rtds's
//! `created_users` (same columns and types), and writes every row with a prepared,
//! token-aware `INSERT … USING TIMESTAMP ?`, the statement rtds's sink uses, keeping
//! `--concurrency` writes in flight (256). With `--batch K` (> 1)
//! it also measures unlogged batches of K rows, the rows sorted by token first so a batch's
//! rows share replicas, with `--batch-concurrency` batches in flight. Failed writes are retried.
//!
//! Prints one JSON line on stdout: rows/s of each mode and the best of them (`rows_per_second`),
//! with this process's CPU seconds. Flags: `--rows N` (100000), `--concurrency C` (256),
//! `--batch K` (0: single-row writes only), `--batch-concurrency B` (32), `--keyspace K`
//! (`ceiling_<pid>`; each mode writes its own table), `--cassandra HOST:PORT` (`$RTDS_CASSANDRA`,
//! 127.0.0.1:9042), `--seed S`, `--drop` to drop the keyspace afterwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rtds::api::generator::{Generator, Request, write_json};
use rtds::model::User;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;
use uuid::Uuid;

struct Options {
    rows: usize,
    concurrency: usize,
    batch: usize,
    batch_concurrency: usize,
    keyspace: String,
    cassandra: String,
    seed: String,
    drop: bool,
}

fn options() -> Options {
    let mut o = Options {
        rows: 100_000,
        concurrency: 256,
        batch: 0,
        batch_concurrency: 32,
        keyspace: format!("ceiling_{}", std::process::id()),
        cassandra: std::env::var("RTDS_CASSANDRA").unwrap_or_else(|_| "127.0.0.1:9042".into()),
        seed: "ceiling".into(),
        drop: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().unwrap_or_else(|| panic!("{name} needs a value"));
        match arg.as_str() {
            "--rows" => o.rows = value("--rows").parse().expect("--rows N"),
            "--concurrency" => o.concurrency = value("--concurrency").parse().expect("--concurrency C"),
            "--batch" => o.batch = value("--batch").parse().expect("--batch K"),
            "--batch-concurrency" => o.batch_concurrency = value("--batch-concurrency").parse().expect("--batch-concurrency B"),
            "--keyspace" => o.keyspace = value("--keyspace"),
            "--cassandra" => o.cassandra = value("--cassandra"),
            "--seed" => o.seed = value("--seed"),
            "--drop" => o.drop = true,
            "--bench" => {} // cargo bench passes it
            other => panic!("unknown argument {other:?} (see the comment at the top of benches/cassandra_ceiling.rs)"),
        }
    }
    assert!(
        o.keyspace.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && o.keyspace.starts_with(|c: char| c.is_ascii_alphabetic()),
        "--keyspace must be a plain identifier"
    );
    o
}

/// `rows` users of the generator, formatted as rtds formats them (API record JSON -> `User`).
fn users(rows: usize, seed: &str) -> Vec<User> {
    let generator = Generator::new();
    let mut out = Vec::with_capacity(rows);
    let mut json = Vec::new();
    let mut page = 1;
    while out.len() < rows {
        let request = Request { seed: seed.into(), page, results: 5000.min((rows - out.len()) as u32), ..Request::default() };
        for user in generator.page(&request) {
            json.clear();
            write_json(&user, &mut json);
            out.push(User::from_json(std::str::from_utf8(&json).expect("UTF-8")).expect("a generated user formats"));
        }
        page += 1;
    }
    out
}

type Row<'a> = (
    Uuid,
    &'a Option<String>,
    &'a Option<String>,
    &'a Option<String>,
    &'a Option<String>,
    &'a Option<String>,
    &'a Option<String>,
    &'a Option<String>,
    Option<CqlTimestamp>,
    Option<CqlTimestamp>,
    &'a Option<String>,
    &'a Option<String>,
    &'a Option<String>,
    i64,
);

/// The insert's values, as rtds's sink binds them (dates as timestamps, write time last).
fn row(user: &User, timestamp: i64) -> Row<'_> {
    let date = |text: &Option<String>| {
        text.as_deref().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| CqlTimestamp(t.timestamp_millis()))
    };
    (
        user.id,
        &user.first_name,
        &user.last_name,
        &user.gender,
        &user.address,
        &user.post_code,
        &user.email,
        &user.username,
        date(&user.dob),
        date(&user.registered_date),
        &user.phone,
        &user.picture,
        &user.country,
        timestamp,
    )
}

async fn ddl(session: &Session, cql: String) {
    session.query_unpaged(cql.clone(), &[]).await.unwrap_or_else(|e| panic!("{cql}: {e}"));
}

async fn table(session: &Session, keyspace: &str, table: &str) -> PreparedStatement {
    ddl(
        session,
        format!(
            "CREATE TABLE IF NOT EXISTS {keyspace}.{table} (id uuid PRIMARY KEY, first_name text, last_name text, \
             gender text, address text, post_code text, email text, username text, dob timestamp, \
             registered_date timestamp, phone text, picture text, country text)"
        ),
    )
    .await;
    session.await_schema_agreement().await.expect("schema agreement");
    session
        .prepare(format!(
            "INSERT INTO {keyspace}.{table} (id, first_name, last_name, gender, address, post_code, email, username, \
             dob, registered_date, phone, picture, country) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"
        ))
        .await
        .expect("prepare the insert")
}

/// Runs `write` until it succeeds, backing off like rtds's `retry_forever`; counts retries.
async fn retry<F, Fut, E>(retries: &AtomicU64, mut write: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut wait = Duration::from_millis(50);
    loop {
        match write().await {
            Ok(()) => return,
            Err(e) => {
                if retries.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("cassandra_ceiling: a write failed, retrying: {e}");
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// CPU seconds (user + system) this process used so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    ticks / 100.0 // USER_HZ is 100 on Linux
}

struct Measured {
    seconds: f64,
    cpu_seconds: f64,
    retries: u64,
}

async fn single(session: &Arc<Session>, insert: &PreparedStatement, users: &[User], concurrency: usize) -> Measured {
    let retries = AtomicU64::new(0);
    let (start, cpu) = (Instant::now(), cpu_seconds());
    let timestamp = chrono::Utc::now().timestamp_micros();
    futures::stream::iter(users)
        .map(|user| {
            let (session, retries) = (session.clone(), &retries);
            async move {
                retry(retries, || async { session.execute_unpaged(insert, row(user, timestamp)).await.map(|_| ()) }).await;
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect::<()>()
        .await;
    Measured { seconds: start.elapsed().as_secs_f64(), cpu_seconds: cpu_seconds() - cpu, retries: retries.into_inner() }
}

async fn batched(session: &Arc<Session>, insert: &PreparedStatement, users: &[User], size: usize, concurrency: usize) -> Measured {
    // Sorting by token is part of the work a sink would do, so it is timed too.
    let retries = AtomicU64::new(0);
    let (start, cpu) = (Instant::now(), cpu_seconds());
    let timestamp = chrono::Utc::now().timestamp_micros();
    let mut by_token: Vec<(i64, &User)> =
        users.iter().map(|u| (insert.calculate_token(&row(u, timestamp)).ok().flatten().map_or(0, |t| t.value()), u)).collect();
    by_token.sort_unstable_by_key(|(token, _)| *token);
    let chunks: Vec<Vec<&User>> = by_token.chunks(size).map(|c| c.iter().map(|(_, u)| *u).collect()).collect();
    futures::stream::iter(chunks)
        .map(|chunk| {
            let (session, retries) = (session.clone(), &retries);
            async move {
                let mut batch = Batch::new(BatchType::Unlogged);
                for _ in 0..chunk.len() {
                    batch.append_statement(insert.clone());
                }
                let values: Vec<Row<'_>> = chunk.iter().map(|u| row(u, timestamp)).collect();
                retry(retries, || async { session.batch(&batch, &values).await.map(|_| ()) }).await;
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect::<()>()
        .await;
    Measured { seconds: start.elapsed().as_secs_f64(), cpu_seconds: cpu_seconds() - cpu, retries: retries.into_inner() }
}

fn main() {
    let o = options();
    let generated = Instant::now();
    let users = users(o.rows, &o.seed);
    eprintln!("cassandra_ceiling: {} users generated in {:.1} s", users.len(), generated.elapsed().as_secs_f64());
    // Two I/O threads, like an rtds worker process's runtime.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    runtime.block_on(async {
        let mut builder = SessionBuilder::new().connection_timeout(Duration::from_secs(5));
        for node in o.cassandra.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            builder = builder.known_node(node);
        }
        let session = Arc::new(builder.build().await.expect("connect to Cassandra"));
        let ks = &o.keyspace;
        ddl(
            &session,
            format!("CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"),
        )
        .await;
        let mut result = serde_json::json!({
            "rows": users.len(),
            "keyspace": ks,
            "concurrency": o.concurrency,
        });
        let insert = table(&session, ks, "created_users").await;
        let m = single(&session, &insert, &users, o.concurrency).await;
        let single_rate = users.len() as f64 / m.seconds;
        eprintln!("cassandra_ceiling: single-row writes, {} in flight: {:.0} rows/s ({:.2} s)", o.concurrency, single_rate, m.seconds);
        result["single_rows_per_second"] = serde_json::json!(single_rate.round());
        result["single_seconds"] = serde_json::json!((m.seconds * 1000.0).round() / 1000.0);
        result["single_client_cpu_seconds"] = serde_json::json!((m.cpu_seconds * 100.0).round() / 100.0);
        result["single_retries"] = serde_json::json!(m.retries);
        let mut best = single_rate;
        if o.batch > 1 {
            let insert = table(&session, ks, "created_users_batched").await;
            let m = batched(&session, &insert, &users, o.batch, o.batch_concurrency).await;
            let rate = users.len() as f64 / m.seconds;
            eprintln!(
                "cassandra_ceiling: unlogged batches of {} rows by token, {} in flight: {:.0} rows/s ({:.2} s)",
                o.batch, o.batch_concurrency, rate, m.seconds
            );
            result["batch_rows"] = serde_json::json!(o.batch);
            result["batch_concurrency"] = serde_json::json!(o.batch_concurrency);
            result["batch_rows_per_second"] = serde_json::json!(rate.round());
            result["batch_seconds"] = serde_json::json!((m.seconds * 1000.0).round() / 1000.0);
            result["batch_client_cpu_seconds"] = serde_json::json!((m.cpu_seconds * 100.0).round() / 100.0);
            result["batch_retries"] = serde_json::json!(m.retries);
            best = best.max(rate);
        }
        result["rows_per_second"] = serde_json::json!(best.round());
        if o.drop {
            ddl(&session, format!("DROP KEYSPACE IF EXISTS {ks}")).await;
        }
        println!("{result}");
    });
}
