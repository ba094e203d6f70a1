//! What the SQL layer costs per record: the cluster's dataflow from a Kafka message's bytes to
//! its views, in one timely worker, without services (no Kafka, no Cassandra: the stages that
//! differ between the two paths). Figures in BENCHMARKS.md.
//!
//! ```sh
//! cargo bench --bench views            # RTDS_BENCH_USERS (200000), RTDS_BENCH_RUNS (3)
//! ```
//!
//! - `compiled`: the path before dataflows were SQL, kept here only for this comparison: the
//!   fixed checks, a `Dims` struct of country, gender and age band per user, the dedupe by id,
//!   and three `count`s;
//! - `compiled-upsert`: the same with the dedupe the SQL path has now ([`Upsert`]), to tell
//!   what the SQL layer costs from what the dedupe saves;
//! - `sql`: `dataflows/users.sql` as the cluster runs it: its expectations, the state row, the
//!   dedupe, and its three views rendered from the plan;
//! - `sql-checkpoint`: `sql` with the dedupe's state and the views' inputs in a checkpoint
//!   file ([`rtds::checkpoint`], in a temporary folder), as a cluster worker keeps them;
//! - `sql-1` and `sql-10`: one view, and ten views (the default three and seven more, each a
//!   count by another derived key of the same columns), to see how cost grows with views;
//! - `sql-10-wide`: ten views whose seven more read five more columns (email, names, post
//!   code, registration date), to see how cost grows with the columns kept per id.
//!
//! `RTDS_BENCH_ONLY=sql-10` runs one path alone (for a profiler). With `RTDS_BENCH_FRONT=1` it prints instead what the stages before the dataflow cost per
//! record: the old checks, the expectations, and the state row with the age band key.
//!
//! Each path gets the same users (generated, then serialized as `rtds ingest` sends them, 10%
//! of them sent again as a later version), 2,000 records an epoch. Times are the thread's CPU
//! time (`CLOCK_THREAD_CPUTIME_ID`); the paths take turns, and each figure is the median of
//! its runs.

use std::sync::Arc;
use std::time::Duration;

use compact_str::CompactString;
use differential_dataflow::input::InputSession;
use rtds::api::generator::{Generator, Request};
use rtds::dataflow::Dataflow;
use rtds::model::checks::{Checks, age_band, check};
use rtds::checkpoint::{Checkpoint, Coverage, Identity, Mark};
use rtds::model::{Change, User, Version};
use rtds::operators::Upsert;
use rtds::sql::decode::Decoder;
use rtds::sql::expr::Context;
use rtds::sql::kept::{Kept, KeptRow};
use rtds::sql::render::render_views;
use rtds::sql::{OnViolation, Program};
use timely::dataflow::operators::generic::operator::empty;
use timely::dataflow::operators::probe::Handle;
use uuid::Uuid;

const EPOCH: usize = 2_000;

/// Kafka messages as (key, payload, version).
type Records = Arc<Vec<(Vec<u8>, Vec<u8>, u64)>>;

/// The dedupe's input: an id, its version and what the views need of it.
type Versioned<T> = InputSession<u64, (Uuid, (u64, Option<T>)), isize>;

fn thread_cpu() -> Duration {
    let mut time = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time) };
    assert_eq!(status, 0, "clock_gettime failed");
    Duration::new(time.tv_sec as u64, time.tv_nsec as u32)
}

/// The records: (key, payload, version); a tenth of the users a second time, changed.
fn records(users: u32) -> Vec<(Vec<u8>, Vec<u8>, u64)> {
    let generator = Generator::new();
    let mut out = Vec::with_capacity(users as usize * 11 / 10);
    let mut version = 0;
    for page in 0..users.div_ceil(5000) {
        let request = Request { seed: "views".into(), page: page + 1, results: 5000.min(users - page * 5000), ..Request::default() };
        for i in 0..request.results {
            let raw = serde_json::to_string(&generator.user(&request, i)).unwrap();
            let mut user = User::from_json(&raw).unwrap();
            version += 1;
            out.push((user.id.to_string().into_bytes(), serde_json::to_vec(&user).unwrap(), version));
            if i % 10 == 0 {
                user.country = Some("Elsewhere".into());
                version += 1;
                out.push((user.id.to_string().into_bytes(), serde_json::to_vec(&user).unwrap(), version));
            }
        }
    }
    out
}

/// The old compiled-in dimensions of a user.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
struct Dims {
    country: Option<CompactString>,
    gender: Option<CompactString>,
    age_band: Option<CompactString>,
}

/// The path before SQL: fixed checks, Dims, dedupe, three counts. CPU seconds. With
/// `upsert`, its dedupe is the one the SQL path has now ([`Upsert`]) instead of a `reduce`.
fn compiled(records: Records, upsert: bool) -> f64 {
    timely::execute_directly(move |worker| {
        let today = chrono::Utc::now().date_naive();
        let checks = Checks { required: vec!["first_name".into(), "last_name".into(), "email".into(), "dob".into()], email: true, dates: true };
        let mut input: Versioned<Dims> = InputSession::new();
        let probe = Handle::new();
        worker.dataflow::<u64, _, _>(|scope| {
            let versions = input.to_collection(scope);
            let unique = if upsert {
                versions.inner.upsert()
            } else {
                versions.reduce(|_id: &Uuid, versions: &[(&(u64, Option<Dims>), isize)], output: &mut Vec<(Dims, isize)>| {
                    if let Some(Some(dims)) = versions.iter().rev().find(|(_, c)| *c > 0).map(|(v, _)| &v.1) {
                        output.push((dims.clone(), 1));
                    }
                })
            };
            for dimension in 0..3 {
                unique
                    .clone()
                    .map(move |(_, d)| match dimension {
                        0 => d.country,
                        1 => d.gender,
                        _ => d.age_band,
                    })
                    .count()
                    .probe_with(&probe);
            }
        });
        let started = thread_cpu();
        for (epoch, chunk) in records.chunks(EPOCH).enumerate() {
            for (key, payload, version) in chunk {
                let Ok(Change::Upsert(user)) = Change::from_message(Some(key), Some(payload)) else { continue };
                if check(&user, &checks, chrono::Utc::now()).is_err() {
                    continue;
                }
                let dims = Dims {
                    country: user.country.as_deref().map(CompactString::from),
                    gender: user.gender.as_deref().map(CompactString::from),
                    age_band: user.dob.map(|d| age_band(d.date_naive(), today).into()),
                };
                input.insert((user.id, (*version, Some(dims))));
            }
            input.advance_to(epoch as u64 + 1);
            input.flush();
            while probe.less_than(input.time()) {
                worker.step();
            }
        }
        (thread_cpu() - started).as_secs_f64()
    })
}

/// A dataflow file's path: expectations, state row, dedupe, its views. CPU seconds. With
/// `checkpoint`, the dedupe keeps its state and the views' inputs in a checkpoint file (in a
/// temporary folder) as a cluster worker does, rather than in memory.
fn sql(program: Arc<Program>, records: Records, checkpoint: bool) -> f64 {
    timely::execute_directly(move |worker| {
        let cx = Context { today: chrono::Utc::now().date_naive(), now: None };
        let decoder = Decoder::new(&program.table);
        let views: Vec<Arc<rtds::sql::View>> = program.views.iter().cloned().map(Arc::new).collect();
        let kept = Arc::new(Kept::new(views, program.table.state_columns.len(), cx));
        let mut input: InputSession<u64, (Uuid, (Version, Option<KeptRow>)), isize> = InputSession::new();
        let probe = Handle::new();
        let dir = tempfile::tempdir().unwrap();
        worker.dataflow::<u64, _, _>(|scope| {
            let versions = input.to_collection(scope).inner;
            let rows = if checkpoint {
                let identity = Identity { lineage: 1, dataflow: String::new(), index: 0, peers: 1 };
                let state = Checkpoint::open(&dir.path().join("worker-0")).unwrap().into_state(identity, Coverage::new(), None, kept.clone());
                versions.upsert_into(state, empty::<u64, Vec<(Mark, u64, isize)>>(scope)).0
            } else {
                versions.upsert()
            };
            let rows = rows.map(|(_, row)| row);
            for table in render_views(rows, kept.clone()) {
                table.probe_with(&probe);
            }
        });
        let started = thread_cpu();
        let now = Context { now: Some(chrono::Utc::now().timestamp_millis()), ..cx };
        for (epoch, chunk) in records.chunks(EPOCH).enumerate() {
            for (key, payload, version) in chunk {
                let Ok(Change::Upsert(user)) = Change::from_message(Some(key), Some(payload)) else { continue };
                let mut columns = decoder.decode(&user, None);
                let failed = program.table.expectations_failed(&columns[..], &now);
                if failed.iter().any(|i| program.table.expectations[*i].on_violation == OnViolation::DropRow) {
                    continue;
                }
                let version = Version { order: *version, offset: *version as i64 };
                input.insert((user.id, (version, Some(kept.row(program.table.take_state_row(&mut columns))))));
            }
            input.advance_to(epoch as u64 + 1);
            input.flush();
            while probe.less_than(input.time()) {
                worker.step();
            }
        }
        (thread_cpu() - started).as_secs_f64()
    })
}

/// Seven more views: counts by other derived keys, reading five more columns (`wide`: email,
/// last name, registration date, post code, first name), or only the default views' columns.
fn extra_views(wide: bool) -> [&'static str; 7] {
    if wide {
        [
            "SELECT COALESCE(SPLIT_PART(email, '@', 2), '?') AS domain, COUNT(*) AS users FROM users GROUP BY 1",
            "SELECT COALESCE(LOWER(last_name), '?') AS last_name, COUNT(*) AS users FROM users GROUP BY 1",
            "SELECT COALESCE(EXTRACT(YEAR FROM dob), 0) AS year, COUNT(*) AS users FROM users GROUP BY 1",
            "SELECT COALESCE(EXTRACT(YEAR FROM registered_date), 0) AS year, COUNT(*) AS users FROM users GROUP BY 1",
            "SELECT COALESCE(SUBSTRING(post_code FROM 1 FOR 2), '?') AS area, COUNT(*) AS users FROM users GROUP BY 1",
            "SELECT COALESCE(LENGTH(first_name), 0) AS length, COUNT(*) AS users FROM users GROUP BY 1",
            "SELECT COALESCE(country, '?') AS country, COALESCE(gender, '?') AS gender, COUNT(*) AS users FROM users GROUP BY 1, 2",
        ]
    } else {
        [
            "SELECT COALESCE(country, '?') AS country, COALESCE(gender, '?') AS gender, COUNT(*) AS users FROM users GROUP BY 1, 2",
            "SELECT COALESCE(EXTRACT(YEAR FROM dob), 0) AS year, COUNT(*) AS users FROM users GROUP BY 1",
            "SELECT COALESCE(EXTRACT(MONTH FROM dob), 0) AS month, COUNT(*) AS users FROM users GROUP BY 1",
            "SELECT COALESCE(UPPER(country), '?') AS country, COUNT(*) AS users FROM users GROUP BY 1",
            "SELECT COALESCE(LOWER(gender), '?') AS gender, COUNT(*) AS users FROM users GROUP BY 1",
            "SELECT COALESCE(EXTRACT(DAY FROM dob), 0) AS day, COUNT(*) AS users FROM users GROUP BY 1",
            "SELECT COALESCE(LENGTH(country), 0) AS length, COUNT(*) AS users FROM users GROUP BY 1",
        ]
    }
}

/// `users.sql` with only its first `views` views, or with seven more (see [`extra_views`]).
fn program(views: usize, wide: bool) -> Arc<Program> {
    let mut text = rtds::dataflow::USERS_SQL.to_string();
    for (i, select) in extra_views(wide).iter().enumerate().take(views.saturating_sub(3)) {
        text.push_str(&format!("\nCREATE MATERIALIZED VIEW extra_{i} AS {select};\n"));
    }
    let mut program = (*Dataflow::parse(&text, "views.sql").unwrap().program).clone();
    program.views.truncate(views);
    Arc::new(program)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // cargo bench passes `--bench`; a filter is not supported.
    let users: u32 = std::env::var("RTDS_BENCH_USERS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let runs: usize = std::env::var("RTDS_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let records = Arc::new(records(users));
    let n = records.len() as f64;
    println!("{} records ({users} users, a tenth of them twice), {EPOCH} an epoch, median of {runs} runs, thread CPU time", records.len());
    if std::env::var_os("RTDS_BENCH_FRONT").is_some() {
        let (old, new, keys) = front_only(&program(3, false), &records);
        println!("checks {old:.3} µs, expectations {new:.3} µs, state row + age band key {keys:.3} µs per record");
        return;
    }
    // The paths take turns, round after round, so a machine that slows down or speeds up
    // during the run weighs on each alike.
    let only = std::env::var("RTDS_BENCH_ONLY").ok();
    if let Some(name) = &only {
        // One path alone, for a profiler (`perf record`): RTDS_BENCH_ONLY=sql-10.
        if name == "compiled" || name == "compiled-upsert" {
            let seconds = median((0..runs).map(|_| compiled(records.clone(), name == "compiled-upsert")).collect());
            println!("{name:<11} {:>8.3} µs CPU/record", seconds / n * 1e6);
            return;
        }
        let (views, wide) = match name.as_str() {
            "sql" | "sql-checkpoint" => (3, false),
            "sql-1" => (1, false),
            "sql-10" => (10, false),
            "sql-10-wide" => (10, true),
            other => panic!("RTDS_BENCH_ONLY={other}: expected compiled, compiled-upsert, sql, sql-checkpoint, sql-1, sql-10 or sql-10-wide"),
        };
        let program = program(views, wide);
        let checkpoint = name == "sql-checkpoint";
        let seconds = median((0..runs).map(|_| sql(program.clone(), records.clone(), checkpoint)).collect());
        println!("{name:<11} {:>8.3} µs CPU/record", seconds / n * 1e6);
        return;
    }
    let paths = [("sql", 3, false, false), ("sql-checkpoint", 3, false, true), ("sql-1", 1, false, false), ("sql-10", 10, false, false), ("sql-10-wide", 10, true, false)];
    let programs: Vec<Arc<Program>> = paths.iter().map(|(_, views, wide, _)| program(*views, *wide)).collect();
    let (mut compiled_runs, mut upsert_runs) = (Vec::new(), Vec::new());
    let mut sql_runs = vec![Vec::new(); paths.len()];
    for _ in 0..runs {
        compiled_runs.push(compiled(records.clone(), false));
        upsert_runs.push(compiled(records.clone(), true));
        for ((runs, program), (_, _, _, checkpoint)) in sql_runs.iter_mut().zip(&programs).zip(&paths) {
            runs.push(sql(program.clone(), records.clone(), *checkpoint));
        }
    }
    let compiled_s = median(compiled_runs);
    println!("{:<11} {:>8.3} µs CPU/record  {:>9.0} records/s", "compiled", compiled_s / n * 1e6, n / compiled_s);
    let upsert_s = median(upsert_runs);
    println!("{:<11} {:>8.3} µs CPU/record  {:>9.0} records/s", "compiled-upsert", upsert_s / n * 1e6, n / upsert_s);
    let one_view = median(sql_runs[2].clone());
    for ((name, views, _, _), runs) in paths.iter().zip(sql_runs) {
        let seconds = median(runs);
        let against_one = if *views > 1 { format!(", {:.2}x sql-1", seconds / one_view) } else { String::new() };
        println!(
            "{name:<11} {:>8.3} µs CPU/record  {:>9.0} records/s  ({:+.1} % against compiled, {:+.1} % against compiled-upsert{against_one})",
            seconds / n * 1e6,
            n / seconds,
            (seconds / compiled_s - 1.0) * 100.0,
            (seconds / upsert_s - 1.0) * 100.0
        );
    }
}

/// Per record, without the dataflow: the old fixed checks, the expectations of `program`, and
/// its state row plus the age band view's key (`RTDS_BENCH_FRONT=1`), in µs of CPU.
fn front_only(program: &Program, records: &[(Vec<u8>, Vec<u8>, u64)]) -> (f64, f64, f64) {
    let cx = Context { today: chrono::Utc::now().date_naive(), now: Some(chrono::Utc::now().timestamp_millis()) };
    let decoder = Decoder::new(&program.table);
    let checks = Checks { required: vec!["first_name".into(), "last_name".into(), "email".into(), "dob".into()], email: true, dates: true };
    let users: Vec<User> = records.iter().filter_map(|(k, p, _)| match Change::from_message(Some(k), Some(p)) { Ok(Change::Upsert(u)) => Some(*u), _ => None }).collect();
    let t = thread_cpu();
    let mut kept = 0;
    for u in &users {
        if check(u, &checks, chrono::Utc::now()).is_ok() { kept += 1; }
    }
    let old = (thread_cpu() - t).as_secs_f64();
    let t = thread_cpu();
    for u in &users {
        let columns = decoder.decode(u, None);
        if program.table.expectations_failed(&columns[..], &cx).is_empty() { kept += 1; }
    }
    let new = (thread_cpu() - t).as_secs_f64();
    let t = thread_cpu();
    for u in &users {
        let mut columns = decoder.decode(u, None);
        let row = program.table.take_state_row(&mut columns);
        let view = &program.views[2];
        std::hint::black_box(view.group_key(&row, &cx));
        std::hint::black_box(row);
    }
    let keys = (thread_cpu() - t).as_secs_f64();
    std::hint::black_box(kept);
    (old / users.len() as f64 * 1e6, new / users.len() as f64 * 1e6, keys / users.len() as f64 * 1e6)
}
