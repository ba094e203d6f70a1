//! Helpers shared by the test modules.

use std::path::PathBuf;

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A captured randomuser.me response: from the folder `RTDS_FIXTURES` names, by default
/// `../shared/fixtures/randomuser/` beside the repository.
pub fn fixture(name: &str) -> String {
    let folder = std::env::var_os("RTDS_FIXTURES").map_or_else(|| root().join("../shared/fixtures/randomuser"), PathBuf::from);
    let path = folder.join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "fixture {} is missing ({e}); the tests expect the shared/ folder beside the repository, or RTDS_FIXTURES set to a folder of randomuser responses",
            path.display()
        )
    })
}

/// A hand-written response from `tests/data/`.
pub fn test_data(name: &str) -> String {
    let path = root().join("tests/data").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `rtds` binary cargo built for these tests.
pub fn rtds() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rtds"));
    command.env("RTDS_STATE_DIR", state_dir());
    command
}

/// Where the workers this test run starts keep their checkpoints: one folder per test run,
/// so no run resumes from another's.
pub fn state_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("rtds-test-state-{}", std::process::id()))
}


/// A tokio runtime for async tests.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// The address of a service from its environment variable, or the loopback default.
pub fn service(env: &str) -> String {
    use rtds::connectors::defaults;
    std::env::var(env).unwrap_or_else(|_| {
        match env {
            "RTDS_KAFKA" => defaults::KAFKA,
            "RTDS_POSTGRES" => defaults::POSTGRES,
            "RTDS_CASSANDRA" => defaults::CASSANDRA,
            other => panic!("unknown service variable {other}"),
        }
        .to_string()
    })
}

/// A variable a test cannot run without; unset, the test fails saying how to get it set.
pub fn required_env(name: &str, needs: &str, start: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: this test needs {needs}; run `scripts/test`, or `eval \"$({start})\"` first"))
}

/// Kafka's address, after checking a broker answers; a missing broker fails the test with
/// the way to start it.
pub fn kafka() -> String {
    let brokers = service("RTDS_KAFKA");
    if let Err(e) = rtds::connectors::kafka::ping(&rtds::connectors::kafka::KafkaConfig::new(&brokers), std::time::Duration::from_secs(10)) {
        panic!("{e}\nThis test needs the real stack: run `scripts/test`, or `scripts/stack up` then `cargo test --release -- --include-ignored`.");
    }
    brokers
}

/// A PostgreSQL client; a missing server fails the test with the way to start it.
pub async fn postgres() -> tokio_postgres::Client {
    rtds::connectors::postgres::connect(&service("RTDS_POSTGRES")).await.unwrap_or_else(|e| {
        panic!("{e}\nThis test needs the real stack: run `scripts/test`, or `scripts/stack up` then `cargo test --release -- --include-ignored`.")
    })
}

/// A Cassandra session; a missing node fails the test with the way to start it.
pub async fn cassandra() -> scylla::client::session::Session {
    rtds::connectors::cassandra::connect(&service("RTDS_CASSANDRA").as_str().into()).await.unwrap_or_else(|e| {
        panic!("{e}\nThis test needs the real stack: run `scripts/test`, or `scripts/stack up` then `cargo test --release -- --include-ignored`.")
    })
}

/// A name unique to this test run, for topics, tables and keyspaces.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// A new, empty PostgreSQL database for one test; returns its URL.
pub async fn fresh_database(prefix: &str) -> String {
    let admin = postgres().await;
    let name = unique(prefix);
    admin.batch_execute(&format!("create database {name}")).await.unwrap();
    let base = service("RTDS_POSTGRES");
    let cut = base.rfind('/').expect("a postgres URL ends with /DATABASE");
    format!("{}/{name}", &base[..cut])
}

/// One consumed Kafka message.
#[derive(Debug, Clone)]
pub struct Consumed {
    pub key: Option<String>,
    pub payload: String,
    pub headers: Vec<(String, String)>,
}

impl Consumed {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Every message of `topic` from the beginning: reads until `expected` arrived and then two
/// quiet seconds more, so extra messages would be seen too.
pub fn consume_all(brokers: &str, topic: &str, expected: usize) -> Vec<Consumed> {
    use rdkafka::Message;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Headers;
    use std::time::{Duration, Instant};
    let consumer: BaseConsumer = rtds::connectors::kafka::KafkaConfig::new(brokers).client_config()
        .set("group.id", "rtds-tests")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let partitions = rtds::connectors::kafka::partition_count(&rtds::connectors::kafka::KafkaConfig::new(brokers), topic, Duration::from_secs(10)).unwrap().expect("topic exists");
    let mut assignment = rdkafka::TopicPartitionList::new();
    for p in 0..partitions as i32 {
        assignment.add_partition_offset(topic, p, rdkafka::Offset::Beginning).unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let mut messages = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(message) => {
                let message = message.unwrap();
                let headers = message
                    .headers()
                    .map(|h| h.iter().map(|h| (h.key.to_string(), String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned())).collect())
                    .unwrap_or_default();
                messages.push(Consumed {
                    key: message.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    payload: String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned(),
                    headers,
                });
                quiet_since = Instant::now();
            }
            None if messages.len() >= expected && quiet_since.elapsed() > Duration::from_secs(2) => break,
            None => {}
        }
    }
    messages
}

/// Tests that start clusters or stop services run one at a time: they share the stack and
/// the machine's two cores.
pub fn stack_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `rtds ingest` into `database`, then `rtds cdc` until every change is in `topic`;
/// returns ingest's JSON summary. A `--partitions N` among `extra` goes to the CDC stage,
/// which creates the topic.
pub fn run_ingest(api: &str, database: &str, brokers: &str, topic: &str, extra: &[&str]) -> serde_json::Value {
    let mut ingest_args = Vec::new();
    let mut cdc_args = Vec::new();
    let mut args = extra.iter();
    while let Some(arg) = args.next() {
        if *arg == "--partitions" {
            cdc_args.extend([*arg, args.next().expect("--partitions takes a count")]);
        } else {
            ingest_args.push(*arg);
        }
    }
    let out = rtds().args(["ingest", "--api", api, "--postgres", database, "--json"]).args(&ingest_args).output().unwrap();
    assert!(out.status.success(), "rtds ingest failed: {}", String::from_utf8_lossy(&out.stderr));
    run_cdc(database, brokers, topic, &cdc_args);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs `rtds cdc` until it is caught up (idle for a second, every commit in Kafka); returns
/// its JSON summary.
pub fn run_cdc(database: &str, brokers: &str, topic: &str, extra: &[&str]) -> serde_json::Value {
    let out = rtds().args(cdc_args(database, brokers, topic)).args(["--idle-exit", "1s", "--json"]).args(extra).output().unwrap();
    assert!(out.status.success(), "rtds cdc failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `rtds cdc`'s arguments for a test's database and topic.
pub fn cdc_args(database: &str, brokers: &str, topic: &str) -> Vec<String> {
    ["cdc", "--postgres", database, "--kafka", brokers, "--topic", topic].iter().map(|s| s.to_string()).collect()
}

/// `count` consecutive free loopback ports, for servers that must know their ports before
/// they bind (timely's processes each need all the others' addresses).
///
/// They are taken below the kernel's ephemeral range (`ip_local_port_range`, 32768 up by
/// default), which outgoing connections and servers on port 0 draw from: a port in that range
/// can be free when probed and the local end of a connection a moment later (a timely
/// process connects to its peers while it binds its own port): a master restarted its cluster
/// for three minutes on "Address already in use" that way.
pub fn free_ports(count: u16) -> u16 {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000u16, ephemeral_low.saturating_sub(count));
    assert!(high > low + 1000, "the ephemeral port range starts at {ephemeral_low}: no room below it for test ports");
    for _ in 0..200 {
        let base = low + rand::random::<u16>() % (high - low);
        if (base..base + count).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return base;
        }
    }
    panic!("no {count} consecutive free ports in {low}..{high}");
}
