//! Record model and generator throughput; figures in BENCHMARKS.md.
//!
//! ```sh
//! cargo bench --bench records -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! - `parse_format/*`: `User::from_json` over every record of a real randomuser.me capture
//!   (`../shared/fixtures/randomuser` beside the repository, or `$RTDS_FIXTURES`), in
//!   records/s, both as captured (pretty-printed, ~2 KB a record) and compacted the way the
//!   API sends them (~1 KB);
//! - `response/*`: a generated 5000-user response: `parse_response` alone (`split`), then
//!   `User::from_json` of each record (`split_format`), and `format_response`, which does both
//!   in one pass (`format_response`), in records/s;
//! - `worker_decode/*`: what a worker does first with each Kafka message of 5000 generated
//!   users: read the row (JSON, or Avro in the Confluent wire format by its cached writer
//!   schema), check `users.sql`'s expectations and take the state row (`parse_change`), in
//!   records/s; the mean Kafka value size of each form is printed;
//! - `generator/*`: one 5000-user page, generated, and generated then serialized to JSON as
//!   `rtds api serve` does, in users/s.
//!
//! Every benchmark runs on one thread, and times are that thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), not wall time: the figures are per core, and other work on
//! the machine stretches them much less. `RTDS_BENCH_CLOCK=wall` measures wall time instead.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rtds::api::generator::{Generator, Request, write_json};
use rtds::model::{User, format_response, parse_response};

const PAGE: u32 = 5000;

fn fixtures_dir() -> PathBuf {
    std::env::var_os("RTDS_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/randomuser")))
}

/// JSON text without the whitespace between tokens, as the API sends it (the captures are
/// pretty-printed, which doubles their size).
fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !c.is_ascii_whitespace() {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

/// The records of one captured response, each as its own JSON text, as captured.
fn load_records(file: &str) -> Vec<String> {
    let path = fixtures_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "benches/records.rs needs the randomuser.me capture {}: {e} \
             (set RTDS_FIXTURES to the folder holding real-1.json, real-3.json and real-4.json)",
            path.display()
        )
    });
    let response = parse_response(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let records: Vec<String> = response.results.iter().map(|r| r.get().to_string()).collect();
    assert!(!records.is_empty(), "{} holds no records", path.display());
    for record in &records {
        User::from_json(record).unwrap_or_else(|e| panic!("{}: a record does not format: {e}", path.display()));
    }
    records
}

/// A 5000-user response body the way `rtds api serve` writes it.
fn render(users: &[rtds::api::generator::GeneratedUser], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(b"{\"results\":[");
    for (i, user) in users.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json(user, out);
    }
    out.extend_from_slice(br#"],"info":{"seed":"bench","results":5000,"page":1,"version":"1.4"}}"#);
}

fn request() -> Request {
    Request { seed: "bench".into(), page: 1, results: PAGE, ..Request::default() }
}

/// The benchmark thread's CPU time in nanoseconds (or wall time with `RTDS_BENCH_CLOCK=wall`).
struct ThreadCpuTime {
    wall: bool,
    origin: std::time::Instant,
}

impl ThreadCpuTime {
    fn new() -> Self {
        ThreadCpuTime { wall: std::env::var("RTDS_BENCH_CLOCK").is_ok_and(|v| v == "wall"), origin: std::time::Instant::now() }
    }

    fn now_ns(&self) -> u64 {
        if self.wall || !cfg!(target_os = "linux") {
            return self.origin.elapsed().as_nanos() as u64;
        }
        #[repr(C)]
        struct Timespec {
            tv_sec: i64,
            tv_nsec: i64,
        }
        unsafe extern "C" {
            fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
        }
        const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
        let mut time = Timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime writes one timespec (two 64-bit fields on 64-bit Linux).
        let status = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut time) };
        assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        time.tv_sec as u64 * 1_000_000_000 + time.tv_nsec as u64
    }
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        self.now_ns()
    }
    fn end(&self, start: u64) -> u64 {
        self.now_ns() - start
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &NanosFormatter
    }
}

/// Formats nanoseconds and elements per second like criterion's wall-time formatter.
struct NanosFormatter;

impl ValueFormatter for NanosFormatter {
    fn scale_values(&self, ns: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = match ns {
            ns if ns < 1e3 => (1.0, "ns"),
            ns if ns < 1e6 => (1e-3, "µs"),
            ns if ns < 1e9 => (1e-6, "ms"),
            _ => (1e-9, "s"),
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }

    fn scale_throughputs(&self, typical: f64, throughput: &Throughput, values: &mut [f64]) -> &'static str {
        let per_iteration = match *throughput {
            Throughput::Elements(n) | Throughput::ElementsAndBytes { elements: n, .. } => n as f64,
            _ => unimplemented!("these benchmarks count elements"),
        };
        let per_second = per_iteration * 1e9 / typical;
        let (denominator, unit) = match per_second {
            r if r < 1e3 => (1.0, " elem/s"),
            r if r < 1e6 => (1e3, "Kelem/s"),
            r if r < 1e9 => (1e6, "Melem/s"),
            _ => (1e9, "Gelem/s"),
        };
        values.iter_mut().for_each(|v| *v = per_iteration * 1e9 / *v / denominator);
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

type Bench = Criterion<ThreadCpuTime>;

fn parse_format(c: &mut Bench) {
    let mut group = c.benchmark_group("parse_format");
    for (name, file) in [("v1_4_real-1", "real-1.json"), ("v1_2_real-3", "real-3.json"), ("v1_0_real-4", "real-4.json")] {
        let captured = load_records(file);
        let compacted: Vec<String> = captured.iter().map(|r| compact(r)).collect();
        for (a, b) in captured.iter().zip(&compacted) {
            assert_eq!(User::from_json(a), User::from_json(b), "compacting changed a record of {file}");
        }
        let mean = |records: &[String]| records.iter().map(String::len).sum::<usize>() / records.len();
        eprintln!(
            "{file}: {} records, {} bytes each compact, {} as captured (pretty-printed)",
            captured.len(),
            mean(&compacted),
            mean(&captured)
        );
        for (form, records) in [("compact", &compacted), ("pretty", &captured)] {
            group.throughput(Throughput::Elements(records.len() as u64));
            group.bench_function(format!("{name}_{form}"), |b| {
                b.iter(|| {
                    for record in records {
                        black_box(User::from_json(black_box(record)).expect("formats"));
                    }
                })
            });
        }
    }
    group.finish();
}

fn response(c: &mut Bench) {
    let users = Generator::new().page(&request());
    let mut body = Vec::new();
    render(&users, &mut body);
    let body = String::from_utf8(body).expect("UTF-8");
    let mut group = c.benchmark_group("response");
    group.throughput(Throughput::Elements(PAGE as u64));
    group.bench_function("split_5000", |b| b.iter(|| black_box(parse_response(black_box(&body)).expect("a response"))));
    group.bench_function("split_format_5000", |b| {
        b.iter(|| {
            let response = parse_response(black_box(&body)).expect("a response");
            for record in response.results {
                black_box(User::from_json(record.get()).expect("formats"));
            }
        })
    });
    group.bench_function("format_response_5000", |b| {
        b.iter(|| {
            let response = format_response(black_box(&body)).expect("a response");
            for (_, user) in response.records {
                black_box(user.expect("formats"));
            }
        })
    });
    group.finish();
}

/// A user's row as PostgreSQL sends it in binary, in `created_users`' column order.
fn binary_row(user: &User) -> Vec<Option<Vec<u8>>> {
    let text = |v: &Option<rtds::model::RowText>| v.as_ref().map(|t| t.as_bytes().to_vec());
    let time = |v: &Option<rtds::model::date::Date>| v.map(|d| (d.timestamp_micros() - 946_684_800_000_000).to_be_bytes().to_vec());
    vec![
        Some(user.id.as_bytes().to_vec()),
        text(&user.first_name),
        text(&user.last_name),
        text(&user.gender),
        text(&user.address),
        text(&user.post_code),
        text(&user.email),
        text(&user.username),
        time(&user.dob),
        time(&user.registered_date),
        text(&user.phone),
        text(&user.picture),
        text(&user.country),
        time(&user.registered_date),
    ]
}

fn worker_decode(c: &mut Bench) {
    use rtds::connectors::registry::avro::{Column, Encoder, value_schema};
    use rtds::connectors::registry::decode::Schemas;
    use rtds::engine::cluster::{Message, parse_change};
    let mut json = Vec::new();
    let users: Vec<User> = Generator::new()
        .page(&request())
        .iter()
        .map(|generated| {
            json.clear();
            write_json(generated, &mut json);
            User::from_json(std::str::from_utf8(&json).expect("UTF-8")).expect("formats")
        })
        .collect();
    let columns: Vec<Column> = [
        ("id", 2950),
        ("first_name", 25),
        ("last_name", 25),
        ("gender", 25),
        ("address", 25),
        ("post_code", 25),
        ("email", 25),
        ("username", 25),
        ("dob", 1184),
        ("registered_date", 1184),
        ("phone", 25),
        ("picture", 25),
        ("country", 25),
        ("ingested_at", 1184),
    ]
    .into_iter()
    .map(|(name, type_oid)| Column { name: name.into(), type_oid })
    .collect();
    let schemas = Schemas::new(None);
    schemas.preload(1, &value_schema("created_users", &columns).expect("a schema")).expect("it parses");
    let encoder = Encoder::new(columns, 1).expect("an encoder");
    let keys: Vec<String> = users.iter().map(|u| u.id.to_string()).collect();
    let as_json: Vec<Vec<u8>> = users.iter().map(|u| serde_json::to_vec(u).expect("JSON")).collect();
    let as_avro: Vec<Vec<u8>> = users
        .iter()
        .map(|u| {
            let row = binary_row(u);
            let values: Vec<Option<&[u8]>> = row.iter().map(|v| v.as_deref()).collect();
            let mut out = Vec::new();
            encoder.encode(&values, &mut out).expect("encodes");
            out
        })
        .collect();
    let mean = |messages: &[Vec<u8>]| messages.iter().map(Vec::len).sum::<usize>() / messages.len();
    eprintln!("worker_decode: Kafka value bytes per record: JSON {}, Avro {}", mean(&as_json), mean(&as_avro));
    let dataflow = rtds::dataflow::Dataflow::users();
    let table = &dataflow.program.table;
    let decoder = rtds::sql::decode::Decoder::new(table);
    let committed = chrono::DateTime::from_timestamp_millis(1_780_000_000_000);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 6).expect("a date");
    let mut group = c.benchmark_group("worker_decode");
    group.throughput(Throughput::Elements(users.len() as u64));
    // Both forms read to the same change, or to the same reason.
    for ((key, json), avro) in keys.iter().zip(&as_json).zip(&as_avro) {
        let read = |value: &[u8]| {
            let message = Message { key: Some(key.as_bytes()), value: Some(value), max_bytes: 1 << 20, schemas: &schemas };
            parse_change(message, table, &decoder, committed, today, None).map(|(change, _)| change)
        };
        assert_eq!(read(json), read(avro), "JSON and Avro read differently");
    }
    for (name, messages) in [("json", &as_json), ("avro", &as_avro)] {
        group.bench_function(format!("{name}_5000"), |b| {
            b.iter(|| {
                for (key, value) in keys.iter().zip(messages.iter()) {
                    let message = Message { key: Some(key.as_bytes()), value: Some(value), max_bytes: 1 << 20, schemas: &schemas };
                    black_box(parse_change(message, table, &decoder, committed, today, None).ok());
                }
            })
        });
    }
    group.finish();
}

fn generator(c: &mut Bench) {
    let generator = Generator::new();
    let request = request();
    let mut group = c.benchmark_group("generator");
    group.throughput(Throughput::Elements(PAGE as u64));
    group.bench_function("page_5000", |b| b.iter(|| black_box(generator.page(black_box(&request)))));
    let mut out = Vec::with_capacity(PAGE as usize * 1200);
    group.bench_function("page_5000_to_json", |b| {
        b.iter(|| {
            let users = generator.page(black_box(&request));
            render(&users, &mut out);
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime::new());
    targets = parse_format, response, worker_decode, generator
}
criterion_main!(benches);
