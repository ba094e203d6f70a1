//! The sink's ceiling: how fast this machine's Cassandra takes rtds's rows when nothing else
//! happens: no Kafka, no dataflow, no offsets, no aggregates. Figures in BENCHMARKS.md.
//!
//! ```sh
//! cargo bench --bench cassandra_ceiling -- --rows 100000 --batch 10
//! ```
//!
//! Generates `--rows` users with the crate's generator and formats them as rtds does (all of
//! it before the clock starts), creates a fresh keyspace with rtds's `created_users` table
//! (`CassandraTables::prepare`), and writes every row with the sink's prepared, token-aware
//! `INSERT … USING TIMESTAMP ?` (`CassandraTables::write_user`), keeping `--concurrency` writes
//! in flight (256). With `--batch K` (> 1) it also measures unlogged batches of K rows
//! (`CassandraTables::write_users`), the rows sorted by token first so a batch's rows share
//! replicas, with `--batch-concurrency` batches in flight. Failed writes are retried
//! (`rtds::connectors::retry::forever`), and counted.
//!
//! Prints one JSON line on stdout: rows/s of each mode and the best of them (`rows_per_second`),
//! with this process's CPU seconds. Flags: `--rows N` (100000), `--concurrency C` (256),
//! `--batch K` (0: single-row writes only), `--batch-concurrency B` (32), `--keyspace K`
//! (`ceiling_<pid>`; each mode writes its own table), `--cassandra HOST:PORT` (`$RTDS_CASSANDRA`,
//! 127.0.0.1:9042), `--seed S`, `--drop` to drop the keyspace afterwards.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use rtds::api::generator::{Generator, Request, write_json};
use rtds::connectors::cassandra::{CassandraTables, connect};
use rtds::connectors::retry;
use rtds::model::User;

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

struct Measured {
    seconds: f64,
    cpu_seconds: f64,
    retries: u64,
}

/// CPU seconds (user + system) this process used so far.
fn cpu_seconds() -> f64 {
    rtds::metrics::process_usage().1
}

/// Times `write` and counts the Cassandra write attempts that failed (and were retried) in it.
async fn measure(write: impl std::future::Future<Output = ()>) -> Measured {
    let (start, cpu, failures) = (Instant::now(), cpu_seconds(), retry::failures());
    write.await;
    Measured { seconds: start.elapsed().as_secs_f64(), cpu_seconds: cpu_seconds() - cpu, retries: retry::failures() - failures }
}

/// One row per write, `concurrency` writes in flight.
async fn single(sink: &CassandraTables, users: &[User], concurrency: usize) -> Measured {
    let timestamp = chrono::Utc::now().timestamp_micros();
    measure(
        futures::stream::iter(users)
            .map(|user| retry::forever("ceiling row", move || sink.write_user(user, None, timestamp)))
            .buffer_unordered(concurrency.max(1))
            .collect::<()>(),
    )
    .await
}

/// Unlogged batches of `size` rows sorted by token, `concurrency` batches in flight.
async fn batched(sink: &CassandraTables, users: &[User], size: usize, concurrency: usize) -> Measured {
    let timestamp = chrono::Utc::now().timestamp_micros();
    // Sorting by token is part of the work a sink does, so it is timed too.
    measure(async {
        let mut by_token: Vec<&User> = users.iter().collect();
        by_token.sort_by_cached_key(|user| sink.token(user.id));
        futures::stream::iter(by_token.chunks(size))
            .map(|chunk| retry::forever("ceiling batch", move || sink.write_users(chunk.iter().map(move |user| (*user, None, timestamp)))))
            .buffer_unordered(concurrency.max(1))
            .collect::<()>()
            .await
    })
    .await
}

fn main() {
    let o = options();
    let generated = Instant::now();
    let users = users(o.rows, &o.seed);
    eprintln!("cassandra_ceiling: {} users generated in {:.1} s", users.len(), generated.elapsed().as_secs_f64());
    // Two I/O threads, like an rtds worker process's runtime.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    runtime.block_on(async {
        let session = Arc::new(connect(&o.cassandra.as_str().into()).await.expect("connect to Cassandra"));
        let ks = &o.keyspace;
        let mut result = serde_json::json!({
            "rows": users.len(),
            "keyspace": ks,
            "concurrency": o.concurrency,
        });
        // rtds's own sink: its schema and its prepared, token-aware statements.
        let sink = CassandraTables::prepare(session.clone(), ks, "created_users", &rows_only(), &Default::default()).await.expect("create the table");
        let m = single(&sink, &users, o.concurrency).await;
        let single_rate = users.len() as f64 / m.seconds;
        eprintln!("cassandra_ceiling: single-row writes, {} in flight: {:.0} rows/s ({:.2} s)", o.concurrency, single_rate, m.seconds);
        result["single_rows_per_second"] = serde_json::json!(single_rate.round());
        result["single_seconds"] = serde_json::json!((m.seconds * 1000.0).round() / 1000.0);
        result["single_client_cpu_seconds"] = serde_json::json!((m.cpu_seconds * 100.0).round() / 100.0);
        result["single_retries"] = serde_json::json!(m.retries);
        let mut best = single_rate;
        if o.batch > 1 {
            let sink = CassandraTables::prepare(session.clone(), ks, "created_users_batched", &rows_only(), &Default::default()).await.expect("create the table");
            let m = batched(&sink, &users, o.batch, o.batch_concurrency).await;
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
            session.query_unpaged(format!("DROP KEYSPACE IF EXISTS {ks}"), &[]).await.expect("drop the keyspace");
        }
        println!("{result}");
    });
}

/// The built-in dataflow without its views: the rows table alone.
fn rows_only() -> rtds::sql::Program {
    let mut program = (*rtds::dataflow::Dataflow::users().program).clone();
    program.views.clear();
    program
}
