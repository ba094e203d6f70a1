//! The embedded pipeline: generator → timely dataflow → JSON lines, in one process.
//!
//! Each worker generates its share of pages (page `p` belongs to worker `p mod peers`),
//! stamps page `p`'s records with epoch `p` and each record with its version, its place in
//! the data order, and the dataflow parses, formats and checks them against the
//! expectations, dedupes by id (the latest version of an id wins, a replayed version counts
//! once) and keeps the dataflow's views in differential dataflow, rendered as the cluster
//! renders them. The sinks write the rows, and each view's rows to `<view>.jsonl` beside
//! them, once the whole input is done: until then a later page could still replace a version.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use differential_dataflow::AsCollection;
use rand::Rng;
use serde::Serialize;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::Scope;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::operators::{Concat, Operator, OkErr};
use uuid::Uuid;

use crate::api::generator::{self, Generator, Request};
use crate::dataflow::{Dataflow, GeneratorSource, Sink, Source};
use crate::metrics::{Counters, Progress};
use crate::sql::decode::Decoder;
use crate::sql::expr::Context;
use crate::sql::kept::Kept;
use crate::sql::render::render_views;
use crate::operators::{EventTimes, JudgeLate};
use crate::sql::{OnViolation, Program, Row};
use crate::model::User;
use crate::connectors::JsonlSink;

/// How to run the embedded pipeline.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    pub dataflow: Dataflow,
    /// Timely workers (threads).
    pub workers: usize,
    /// Overrides the dataflow's output file.
    pub output: Option<PathBuf>,
    /// Draw progress on stderr.
    pub progress: bool,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub dataflow: String,
    pub workers: usize,
    pub users: u64,
    pub records_in: u64,
    /// Records dedupe dropped: replays, and versions a later version of the id replaced.
    pub duplicates_dropped: u64,
    pub rejected: u64,
    pub rows_out: u64,
    pub seconds: f64,
    pub records_per_second: f64,
    pub output: PathBuf,
    pub rejected_output: PathBuf,
    /// Each view's file and rows.
    pub views: BTreeMap<String, ViewOutput>,
    /// Each expectation's failures, in the dataflow's order.
    pub expectations: Vec<ExpectationOutcome>,
}

/// A view's final contents, written as JSON lines.
#[derive(Debug, Clone, Serialize)]
pub struct ViewOutput {
    pub path: PathBuf,
    pub rows: usize,
}

/// How many records failed an expectation.
#[derive(Debug, Clone, Serialize)]
pub struct ExpectationOutcome {
    pub name: String,
    /// `drop` (the record was rejected) or `warn` (kept, counted).
    pub on_violation: &'static str,
    pub failed: u64,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot create {path}: {source}")]
    Create { path: String, source: std::io::Error },
    #[error("writing rows failed: {0}")]
    Write(String),
    #[error("timely: {0}")]
    Timely(String),
    #[error("dataflow {0:?} is not an embedded pipeline (a generator source and a jsonl sink); run it with `rtds worker`")]
    Unsupported(String),
}

/// State every worker of the run shares.
struct Shared {
    counters: Counters,
    rows: JsonlSink,
    rejected: JsonlSink,
    /// Per view, its rows' accumulated differences.
    views: Mutex<Vec<HashMap<Row, isize>>>,
    /// Per expectation, records that failed it.
    failed: Vec<AtomicU64>,
    error: Mutex<Option<String>>,
    finished: AtomicUsize,
}

impl Shared {
    fn record_error(&self, error: std::io::Error) {
        self.error.lock().expect("error slot").get_or_insert_with(|| error.to_string());
    }
}

/// A rejected record as written to the rejected file.
#[derive(Serialize)]
struct Rejected<'a> {
    reason: &'a str,
    record: &'a str,
}

/// A record as the source gives it: its JSON text and its version, its place in the data
/// order (page `p`'s record `i` is `p * page_size + i`). A replay keeps its record's version.
type Record = (String, u64);

/// Records given instead of the generator's (tests): text, version and epoch, all given by
/// worker 0.
type GivenRecords = Arc<Vec<(String, u64, u64)>>;

/// Runs the pipeline to the end and returns its summary.
pub fn run(options: EmbeddedOptions) -> Result<Summary, EngineError> {
    execute(options, None)
}

/// Runs the pipeline on the generator's records, or on `given` ones.
fn execute(options: EmbeddedOptions, given: Option<GivenRecords>) -> Result<Summary, EngineError> {
    let (Source::Generator(source_plan), Sink::Jsonl { path }) = (&options.dataflow.source, &options.dataflow.sink) else {
        return Err(EngineError::Unsupported(options.dataflow.name.clone()));
    };
    let output = options.output.clone().unwrap_or_else(|| PathBuf::from(path));
    let rejected_output = rejected_path(&output);
    let create = |path: &Path| {
        JsonlSink::create(path).map_err(|source| EngineError::Create { path: path.display().to_string(), source })
    };
    let shared = Arc::new(Shared {
        counters: Counters::default(),
        rows: create(&output)?,
        rejected: create(&rejected_output)?,
        views: Mutex::new(vec![HashMap::new(); options.dataflow.program.views.len()]),
        failed: (0..options.dataflow.program.table.expectations.len()).map(|_| AtomicU64::new(0)).collect(),
        error: Mutex::default(),
        finished: AtomicUsize::new(0),
    });
    let started = Instant::now();
    let now = crate::clock::now();
    let workers = options.workers.max(1);
    let plan = options.dataflow.clone();
    let worker_shared = shared.clone();
    let guards = timely::execute(timely::Config::process(workers), move |worker| {
        let shared = worker_shared.clone();
        let plan = plan.clone();
        worker.dataflow::<u64, _, _>(|scope| {
            let records = match &given {
                Some(records) => given_source(scope, records.clone(), shared.clone()),
                None => {
                    let Source::Generator(source_plan) = &plan.source else { unreachable!("checked by run") };
                    generator_source(scope, source_plan.clone(), shared.clone())
                }
            };
            build(records, &plan, shared.clone(), now)
        });
        while worker.step_or_park(None) {}
        shared.finished.fetch_add(1, Ordering::SeqCst);
    })
    .map_err(EngineError::Timely)?;

    let mut progress = Progress::new();
    let expected = source_plan.users;
    let line = |seconds: f64| {
        let (records_in, rejected, rows_out) = shared.counters.snapshot();
        format!(
            "{:5.1}%  in {records_in}  out {rows_out}  rejected {rejected}  {:.0} records/s",
            100.0 * records_in as f64 / expected.max(1) as f64,
            records_in as f64 / seconds.max(1e-9)
        )
    };
    while shared.finished.load(Ordering::SeqCst) < workers {
        if options.progress {
            progress.tick(line);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    for result in guards.join() {
        result.map_err(EngineError::Timely)?;
    }
    if options.progress {
        progress.finish(line);
    }
    if let Some(error) = shared.error.lock().expect("error slot").take() {
        return Err(EngineError::Write(error));
    }
    shared.rows.flush().and_then(|_| shared.rejected.flush()).map_err(|e| EngineError::Write(e.to_string()))?;

    let (records_in, rejected, rows_out) = shared.counters.snapshot();
    let seconds = started.elapsed().as_secs_f64();
    let program = &options.dataflow.program;
    let mut views = BTreeMap::new();
    for (view, rows) in program.views.iter().zip(shared.views.lock().expect("views").iter()) {
        let mut rows: Vec<&Row> = rows.iter().filter(|(_, count)| **count > 0).map(|(row, _)| row).collect();
        rows.sort_by_key(|row| view.key_of(row));
        let path = output.with_file_name(format!("{}.jsonl", view.name));
        let lines: Vec<serde_json::Map<String, serde_json::Value>> =
            rows.iter().map(|row| view.outputs.iter().zip(row.iter()).map(|(o, d)| (o.column.name.clone(), d.to_json())).collect()).collect();
        let sink = create(&path)?;
        sink.write_all(&lines).and_then(|_| sink.flush()).map_err(|e| EngineError::Write(format!("{}: {e}", path.display())))?;
        views.insert(view.name.clone(), ViewOutput { path, rows: rows.len() });
    }
    let expectations = program
        .table
        .expectations
        .iter()
        .zip(&shared.failed)
        .map(|(e, failed)| ExpectationOutcome {
            name: e.name.clone(),
            on_violation: if e.on_violation == OnViolation::DropRow { "drop" } else { "warn" },
            failed: failed.load(Ordering::Relaxed),
        })
        .collect();
    Ok(Summary {
        dataflow: options.dataflow.name.clone(),
        workers,
        users: source_plan.users,
        records_in,
        duplicates_dropped: records_in - rejected - rows_out,
        rejected,
        rows_out,
        seconds,
        records_per_second: records_in as f64 / seconds.max(1e-9),
        output,
        rejected_output,
        views,
        expectations,
    })
}

/// `users.jsonl` → `users.rejected.jsonl`.
fn rejected_path(output: &Path) -> PathBuf {
    let stem = output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "rtds".into());
    output.with_file_name(format!("{stem}.rejected.jsonl"))
}

/// Builds one worker's dataflow on its records.
fn build<'scope>(
    records: timely::dataflow::Stream<'scope, u64, Vec<(Record, u64, isize)>>,
    plan: &Dataflow,
    shared: Arc<Shared>,
    now: DateTime<Utc>,
) {
    // Parse, then the expectations, judged against the run's start (NOW()).
    let program = plan.program.clone();
    let decoder = Decoder::new(&program.table);
    let cx = Context { today: now.date_naive(), now: Some(now.timestamp_millis()) };
    let table = program.clone();
    let counting = shared.clone();
    let (rows, rejected) = records.ok_err::<Vec<_>, _, Vec<_>, _, _>(move |((text, version), time, diff): (Record, u64, isize)| {
        let user = match User::from_json(&text) {
            Ok(user) if user.id.is_nil() => return Err((text, "id is the nil UUID".to_string())),
            Ok(user) => user,
            Err(e) => return Err((text, e.to_string())),
        };
        let failed = table.table.expectations_failed(&decoder.row(&user, cx.now), &cx);
        for index in &failed {
            counting.failed[*index].fetch_add(1, Ordering::Relaxed);
        }
        let dropped: Vec<&str> =
            failed.iter().map(|i| &table.table.expectations[*i]).filter(|e| e.on_violation == OnViolation::DropRow).map(|e| e.name.as_str()).collect();
        if dropped.is_empty() { Ok(((user, version), time, diff)) } else { Err((text, format!("expectation {} failed", dropped.join(", ")))) }
    });

    // With windows, records late for one are rejected, as in the cluster.
    let (rows, rejected) = match judge_late(rows.clone(), &program, cx) {
        Some((on_time, late)) => (on_time, rejected.concat(timely::dataflow::operators::vec::Map::map(late, |(rejected, _, _)| rejected))),
        None => (rows, rejected),
    };

    let rejected_shared = shared.clone();
    rejected.sink(Pipeline, "RejectedSink", move |(input, _frontier)| {
        input.for_each(|_cap, data: &mut Vec<(String, String)>| {
            let lines: Vec<Rejected> = data.iter().map(|(record, reason)| Rejected { reason, record }).collect();
            rejected_shared.counters.rejected.fetch_add(lines.len() as u64, Ordering::Relaxed);
            if let Err(e) = rejected_shared.rejected.write_all(&lines) {
                rejected_shared.record_error(e);
            }
        });
    });

    // Dedupe: one row per id, its latest version. Values sort by version first, so the last
    // is the latest; a replay is the same value again and only adds to its count.
    let unique = rows
        .as_collection()
        .map(|(user, version): (User, u64)| (user.id, (version, user)))
        .reduce(|_id: &Uuid, versions: &[(&(u64, User), isize)], output: &mut Vec<((u64, User), isize)>| {
            if let Some((latest, _)) = versions.iter().rev().find(|(_, count)| *count > 0) {
                output.push(((*latest).clone(), 1));
            }
        });

    // Every view, over the state rows of the latest versions.
    let decoder = Decoder::new(&program.table);
    let table = program.clone();
    let views: Vec<Arc<crate::sql::View>> = program.views.iter().cloned().map(Arc::new).collect();
    let kept = Arc::new(Kept::new(views, program.table.state_columns.len(), cx));
    let keep = kept.clone();
    let states = unique.clone().map(move |(_, (_, user))| keep.row(table.table.state_row(&decoder.row(&user, cx.now))));
    for (index, table) in render_views(states, kept).into_iter().enumerate() {
        let shared = shared.clone();
        table.inspect(move |((_, row), _time, diff)| {
            *shared.views.lock().expect("views")[index].entry(row.clone()).or_default() += *diff;
        });
    }

    // This worker's ids' current rows, by version: a row written as soon as its epoch closed
    // could still be replaced by a later version, so they are written once the input is done,
    // in data order. rows_out follows the current rows meanwhile (the progress line).
    let mut current: BTreeMap<(u64, Uuid), (User, isize)> = BTreeMap::new();
    let (mut rows_now, mut counted, mut written) = (0u64, 0u64, false);
    unique.inner.sink(Pipeline, "JsonlSink", move |(input, frontier)| {
        input.for_each(|_cap, data: &mut Vec<((Uuid, (u64, User)), u64, isize)>| {
            for ((id, (version, user)), _time, diff) in data.drain(..) {
                let entry = current.entry((version, id)).or_insert((user, 0));
                let was = entry.1 > 0;
                entry.1 += diff;
                match (was, entry.1 > 0) {
                    (false, true) => rows_now += 1,
                    (true, false) => rows_now -= 1,
                    _ => {}
                }
                if entry.1 == 0 {
                    current.remove(&(version, id));
                }
            }
        });
        if rows_now >= counted {
            shared.counters.rows_out.fetch_add(rows_now - counted, Ordering::Relaxed);
        } else {
            shared.counters.rows_out.fetch_sub(counted - rows_now, Ordering::Relaxed);
        }
        counted = rows_now;
        if frontier.is_empty() && !written {
            written = true;
            let rows: Vec<&User> = current.values().filter(|(_, count)| *count > 0).map(|(user, _)| user).collect();
            if let Err(e) = shared.rows.write_all(&rows) {
                shared.record_error(e);
            }
            current.clear();
        }
    });
}

type Stream<'scope, D> = timely::dataflow::Stream<'scope, u64, Vec<(D, u64, isize)>>;

/// Splits the records into those on time and those late for a window, when the dataflow has
/// windows: the watermark folds each epoch's newest event time, as in the cluster.
#[allow(clippy::type_complexity)]
fn judge_late<'scope>(rows: Stream<'scope, (User, u64)>, program: &Arc<Program>, cx: Context) -> Option<(Stream<'scope, (User, u64)>, Stream<'scope, (String, String)>)> {
    let watermark = program.table.watermark.clone()?;
    if !program.views.iter().any(|v| v.window.is_some()) {
        return None;
    }
    let decoder = Decoder::new(&program.table);
    let state_row = {
        let program = program.clone();
        move |user: &User| program.table.state_row(&decoder.row(user, cx.now))
    };
    let event = {
        let (program, state_row) = (program.clone(), state_row.clone());
        move |(user, _): &(User, u64)| program.table.event_time(&state_row(user))
    };
    let times = rows.clone().newest_event_times(event);
    let program = program.clone();
    let judged = rows.judge_late(times, watermark.delay_ms, move |(user, version): (User, u64), watermark: Option<i64>| {
        let Some(watermark) = watermark else { return Ok((user, version)) };
        let row = state_row(&user);
        let late = program.late_views(&row, watermark, &cx);
        if late.is_empty() {
            return Ok((user, version));
        }
        let mut raw = Vec::new();
        user.write_json(&mut raw);
        Err((String::from_utf8_lossy(&raw).into_owned(), program.late_reason(&late, &row, watermark)))
    });
    Some(judged.ok_err::<Vec<_>, _, Vec<_>, _, _>(|r| r))
}

/// `given` records instead of the generator's, all from worker 0, each at its epoch.
fn given_source<'scope>(
    scope: Scope<'scope, u64>,
    given: GivenRecords,
    shared: Arc<Shared>,
) -> timely::dataflow::Stream<'scope, u64, Vec<(Record, u64, isize)>> {
    let given = if scope.index() == 0 { given } else { Arc::default() };
    source::<_, CapacityContainerBuilder<Vec<(Record, u64, isize)>>, _, _>(scope, "Given", move |capability, info| {
        let activator = scope.activator_for(info.address);
        let mut capability = Some(capability);
        let mut epochs: BTreeSet<u64> = given.iter().map(|(_, _, epoch)| *epoch).collect();
        move |output| {
            let Some(cap) = capability.as_mut() else { return };
            let Some(epoch) = epochs.pop_first() else {
                capability = None;
                return;
            };
            cap.downgrade(&epoch);
            let batch: Vec<_> =
                given.iter().filter(|r| r.2 == epoch).map(|(text, version, _)| ((text.clone(), *version), epoch, 1)).collect();
            shared.counters.records_in.fetch_add(batch.len() as u64, Ordering::Relaxed);
            output.session(&*cap).give_iterator(batch.into_iter());
            activator.activate();
        }
    })
}

/// This worker's pages of generated records, as JSON text and version stamped with their page
/// number. A share of records is sent again with the next page (replay, the same version) or
/// corrupted (malformed).
fn generator_source<'scope>(
    scope: Scope<'scope, u64>,
    plan: GeneratorSource,
    shared: Arc<Shared>,
) -> timely::dataflow::Stream<'scope, u64, Vec<(Record, u64, isize)>> {
    let (index, peers) = (scope.index() as u64, scope.peers() as u64);
    let page_size = plan.page_size.clamp(1, crate::api::MAX_RESULTS) as u64;
    let total_pages = plan.users.div_ceil(page_size);
    source::<_, CapacityContainerBuilder<Vec<(Record, u64, isize)>>, _, _>(scope, "Generator", move |capability, info| {
        let activator = scope.activator_for(info.address);
        let generator = Generator::new();
        let mut capability = Some(capability);
        let mut pages = (index..total_pages).step_by(peers as usize);
        let mut replays: Vec<Record> = Vec::new();
        move |output| {
            let Some(cap) = capability.as_mut() else { return };
            let Some(page) = pages.next() else {
                if !replays.is_empty() {
                    let time = *cap.time();
                    shared.counters.records_in.fetch_add(replays.len() as u64, Ordering::Relaxed);
                    output.session(&*cap).give_iterator(replays.drain(..).map(|record| (record, time, 1)));
                }
                capability = None;
                return;
            };
            cap.downgrade(&page);
            let users = page_size.min(plan.users - page * page_size) as u32;
            let request = Request { seed: plan.seed.clone(), page: page as u32 + 1, results: users, ..Request::default() };
            let mut decide = generator::page_rng(&plan.seed, page as u32 + 1);
            let mut batch = std::mem::take(&mut replays);
            for i in 0..users {
                let version = page * page_size + u64::from(i);
                let user = generator.user(&request, i);
                let text = if plan.malformed > 0.0 && decide.random_bool(plan.malformed.min(1.0)) {
                    generator::malformed_json(&user)
                } else {
                    serde_json::to_string(&user).expect("serializable")
                };
                if plan.replay > 0.0 && decide.random_bool(plan.replay.min(1.0)) {
                    replays.push((text.clone(), version));
                }
                batch.push((text, version));
            }
            shared.counters.records_in.fetch_add(batch.len() as u64, Ordering::Relaxed);
            output.session(&*cap).give_iterator(batch.into_iter().map(|record| (record, page, 1)));
            activator.activate();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `user` as a record whose first name is `first`: another version of the same id.
    fn version(user: &serde_json::Value, first: &str) -> String {
        let mut user = user.clone();
        user["name"]["first"] = first.into();
        user.to_string()
    }

    #[test]
    fn the_latest_version_of_an_id_wins_and_is_written_once() {
        let generator = Generator::new();
        let request = Request { seed: "versions".into(), page: 1, results: 4, ..Request::default() };
        let users: Vec<serde_json::Value> = (0..4).map(|i| serde_json::to_value(generator.user(&request, i)).unwrap()).collect();
        let id = |i: usize| users[i]["login"]["uuid"].as_str().unwrap().parse::<Uuid>().unwrap();
        // (text, version, epoch). "Abe" sorts before "Zed": for user 0 the latest version sorts
        // first, for user 1 last, so neither "the first" nor "the last" by content passes.
        let given = vec![
            (version(&users[0], "Zed"), 0, 0),
            (version(&users[1], "Abe"), 1, 0),
            (version(&users[0], "Abe"), 10, 1),
            (version(&users[1], "Zed"), 11, 1),
            // A replay of user 0's latest version, an epoch later: the same version, dropped.
            (version(&users[0], "Abe"), 10, 2),
            // Two versions of user 2 in one epoch.
            (version(&users[2], "Abe"), 5, 1),
            (version(&users[2], "Zed"), 6, 1),
            // User 3's older version arrives after its latest one: the latest still wins.
            (version(&users[3], "Abe"), 12, 1),
            (version(&users[3], "Zed"), 7, 2),
        ];
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("users.jsonl");
        let options = EmbeddedOptions { dataflow: Dataflow::local(), workers: 2, output: Some(output.clone()), progress: false };
        let summary = execute(options, Some(Arc::new(given))).unwrap();

        let text = std::fs::read_to_string(&output).unwrap();
        let rows: Vec<User> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        let mut written: Vec<(Uuid, String)> = rows.iter().map(|u| (u.id, u.first_name.as_deref().unwrap().to_string())).collect();
        written.sort();
        let mut expected = vec![(id(0), "Abe".to_string()), (id(1), "Zed".into()), (id(2), "Zed".into()), (id(3), "Abe".into())];
        expected.sort();
        assert_eq!(written, expected, "each id once, in its latest version:\n{text}");
        assert_eq!((summary.records_in, summary.rejected, summary.rows_out, summary.duplicates_dropped), (9, 0, 4, 5));
        let by_gender = std::fs::read_to_string(&summary.views["users_by_gender"].path).unwrap();
        let counted: i64 = by_gender.lines().map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["users"].as_i64().unwrap()).sum();
        assert_eq!(counted, 4, "the views count each id once:\n{by_gender}");
    }

    #[test]
    fn a_window_closes_by_the_data_and_a_record_late_for_it_is_rejected() {
        let text = crate::dataflow::LOCAL_SQL.replace("connector = 'generator',", "watermark = registered_date - INTERVAL '1' HOUR,\n    connector = 'generator',")
            + "CREATE MATERIALIZED VIEW daily AS SELECT window_start, COUNT(*) AS users FROM TUMBLE(users, registered_date, INTERVAL '1' DAY) GROUP BY window_start;\n";
        let dataflow = Dataflow::parse(&text, "windows.sql").unwrap();
        let generator = Generator::new();
        let request = Request { seed: "windows".into(), page: 1, results: 4, ..Request::default() };
        let registered = |i: u32, at: &str| {
            let mut user = serde_json::to_value(generator.user(&request, i)).unwrap();
            user["registered"]["date"] = at.into();
            user.to_string()
        };
        // Epoch 0 reaches noon on day 3 (watermark 11:00, so day 1 is closed); in epoch 1,
        // 11:00 on day 1 is late and 13:00 on day 3 is on time.
        let given = vec![
            (registered(0, "2020-01-01T10:00:00Z"), 0, 0),
            (registered(1, "2020-01-03T12:00:00Z"), 1, 0),
            (registered(2, "2020-01-01T11:00:00Z"), 2, 1),
            (registered(3, "2020-01-03T13:00:00Z"), 3, 1),
        ];
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("users.jsonl");
        let options = EmbeddedOptions { dataflow, workers: 2, output: Some(output), progress: false };
        let summary = execute(options, Some(Arc::new(given))).unwrap();
        assert_eq!((summary.records_in, summary.rejected, summary.rows_out), (4, 1, 3));
        let rejected = std::fs::read_to_string(rejected_path(&dir.path().join("users.jsonl"))).unwrap();
        assert!(rejected.contains("late for view daily: registered_date 2020-01-01T11:00:00"), "{rejected}");
        let daily = std::fs::read_to_string(&summary.views["daily"].path).unwrap();
        let mut rows: Vec<(String, i64)> = daily.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()).map(|v| (v["window_start"].as_str().unwrap().to_string(), v["users"].as_i64().unwrap())).collect();
        rows.sort();
        assert_eq!(rows, [("2020-01-01T00:00:00Z".to_string(), 1), ("2020-01-03T00:00:00Z".to_string(), 2)], "every window closes when the input ends:\n{daily}");
    }
}
