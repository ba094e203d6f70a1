//! What the cluster tests share: one test's pipeline (its topic, database and keyspace, and
//! the API clone serving it), the processes a test starts, and waiting for the master's status.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use scylla::value::CqlTimestamp;
use serde_json::Value;
use uuid::Uuid;

use rtds::api::Faults;
use rtds::api::server::spawn_local;
use rtds::connectors::cassandra::CassandraConfig;
use rtds::model::checks::age_band;

pub use crate::process::{Running, finish, tail};
use crate::util::{cdc_args, fresh_database, kafka, root, rtds, run_ingest, runtime, service, unique};

/// A formatted row as both stores hold it (dates as epoch milliseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub text: Vec<Option<String>>,
    pub dob: Option<i64>,
    pub registered: Option<i64>,
}

/// One test's topic, database and keyspace, with the API clone serving users.
pub struct Pipeline {
    pub rt: tokio::runtime::Runtime,
    pub api: String,
    pub database: String,
    pub brokers: String,
    pub topic: String,
    pub keyspace: String,
    pub seed: String,
    /// Where the rows are checked: the stack's Cassandra, or the multi-node tier's.
    pub cassandra: CassandraConfig,
}

impl Pipeline {
    /// A pipeline on the stack's Kafka and Cassandra.
    pub fn new(name: &str) -> Pipeline {
        Pipeline::on(name, kafka(), service("RTDS_CASSANDRA").as_str().into())
    }

    /// A pipeline on the stack's PostgreSQL and these Kafka brokers and Cassandra.
    pub fn on(name: &str, brokers: String, cassandra: CassandraConfig) -> Pipeline {
        let rt = runtime();
        let (api, _) = rt.block_on(spawn_local(Faults::default())).unwrap();
        let database = rt.block_on(fresh_database(name));
        Pipeline { rt, api, database, brokers, topic: unique(name), keyspace: unique("ks"), seed: unique("seed"), cassandra }
    }

    /// Ingests `users` new users (each call under a seed of its own).
    pub fn ingest(&self, users: u64, extra: &[&str]) -> Value {
        let users = users.to_string();
        let seed = unique(&self.seed);
        let mut args = vec!["--users", &users, "--seed", &seed, "--partitions", "8", "--batch", "1000"];
        args.extend_from_slice(extra);
        run_ingest(&self.api, &self.database, &self.brokers, &self.topic, &args)
    }

    /// `rtds ingest` in the background, with `rtds cdc` streaming what it stores.
    pub fn ingest_in_background(&self, users: u64, rate: u64) -> Background {
        Background { ingest: self.ingest_only_in_background(users, rate), cdc: self.cdc_in_background("5s") }
    }

    /// `rtds ingest` alone in the background (into PostgreSQL only).
    pub fn ingest_only_in_background(&self, users: u64, rate: u64) -> Running {
        let mut command = rtds();
        command
            .args(["ingest", "--api", &self.api, "--postgres", &self.database])
            .args(["--users", &users.to_string(), "--seed", &format!("{}-more", self.seed), "--batch", "1000"])
            .args(["--rate", &rate.to_string(), "--json", "--attempts", "20"]);
        Running::spawn(command)
    }

    /// `rtds cdc` in the background, finishing once idle for `idle` with everything in Kafka.
    pub fn cdc_in_background(&self, idle: &str) -> Running {
        let mut command = rtds();
        command.args(cdc_args(&self.database, &self.brokers, &self.topic)).args(["--idle-exit", idle, "--json"]);
        Running::spawn_keeping_stdout(command)
    }

    pub fn pipeline_args(&self) -> Vec<String> {
        self.pipeline_args_idle("4s")
    }

    /// The pipeline flags, finishing after `idle` without a record.
    pub fn pipeline_args_idle(&self, idle: &str) -> Vec<String> {
        let cassandra = service("RTDS_CASSANDRA");
        ["--kafka", &self.brokers, "--cassandra", &cassandra, "--topic", &self.topic, "--keyspace", &self.keyspace, "--idle-exit", idle]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// `rtds master --local -n 2 -w 2`, running until the workers go idle.
    /// Returns it with the port of its status server.
    pub fn start_master(&self) -> (Running, u16) {
        self.start_master_idle("4s")
    }

    /// The same, finishing after `idle` without a record.
    pub fn start_master_idle(&self, idle: &str) -> (Running, u16) {
        let mut command = rtds();
        command
            .args(["master", "--local", "-n", "2", "-w", "2"])
            .args(["--http", "127.0.0.1:0"])
            .args(self.pipeline_args_idle(idle));
        let master = Running::spawn(command);
        let http = master.port_after(STATUS_PAGE_ON);
        (master, http)
    }

    /// The master's `/status`.
    pub fn status(&self, http: u16) -> Option<Value> {
        let url = format!("http://127.0.0.1:{http}/status");
        self.rt.block_on(async { serde_json::from_str(&reqwest::get(&url).await.ok()?.text().await.ok()?).ok() })
    }

    /// The master's `/metrics`.
    pub fn metrics(&self, http: u16) -> String {
        let url = format!("http://127.0.0.1:{http}/metrics");
        self.rt.block_on(async { reqwest::get(&url).await.unwrap().text().await.unwrap() })
    }

    /// PostgreSQL's rows.
    pub fn postgres_rows(&self) -> BTreeMap<Uuid, Row> {
        self.rt.block_on(async {
            let client = rtds::connectors::postgres::connect(&self.database).await.unwrap();
            let rows = client
                .query(
                    "select id, first_name, last_name, gender, address, post_code, email, username, phone, picture, country, \
                     dob, registered_date from created_users",
                    &[],
                )
                .await
                .unwrap();
            rows.iter()
                .map(|r| {
                    let text = (1..=10).map(|i| r.get::<_, Option<String>>(i)).collect();
                    let millis = |i| r.get::<_, Option<chrono::DateTime<Utc>>>(i).map(|t| t.timestamp_millis());
                    (r.get::<_, Uuid>(0), Row { text, dob: millis(11), registered: millis(12) })
                })
                .collect()
        })
    }

    /// Cassandra's rows.
    pub fn cassandra_rows(&self) -> BTreeMap<Uuid, Row> {
        self.rt.block_on(async {
            let session = self.session().await;
            let cql = format!(
                "select id, first_name, last_name, gender, address, post_code, email, username, phone, picture, country, \
                 dob, registered_date from {}.created_users",
                self.keyspace
            );
            type Tuple = (
                Uuid,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<CqlTimestamp>,
                Option<CqlTimestamp>,
            );
            use futures::TryStreamExt;
            let rows: Vec<Tuple> = session.query_iter(cql, &[]).await.unwrap().rows_stream::<Tuple>().unwrap().try_collect().await.unwrap();
            rows.into_iter()
                .map(|t| {
                    let text = vec![t.1, t.2, t.3, t.4, t.5, t.6, t.7, t.8, t.9, t.10];
                    (t.0, Row { text, dob: t.11.map(|x| x.0), registered: t.12.map(|x| x.0) })
                })
                .collect()
        })
    }

    /// A session of the Cassandra the rows are checked in.
    async fn session(&self) -> scylla::client::session::Session {
        rtds::connectors::cassandra::connect(&self.cassandra).await.unwrap_or_else(|e| panic!("{e}\nThis test needs its Cassandra: run `scripts/test`."))
    }

    /// One aggregate table of Cassandra.
    pub fn aggregate(&self, table: &str, column: &str) -> BTreeMap<String, i64> {
        self.rt.block_on(async {
            let session = self.session().await;
            let cql = format!("select {column}, users from {}.{table}", self.keyspace);
            let result = session.query_unpaged(cql, &[]).await.unwrap().into_rows_result().unwrap();
            result.rows::<(String, i64)>().unwrap().map(Result::unwrap).collect()
        })
    }

    /// Cassandra holds exactly PostgreSQL's rows, and aggregates equal to counts over them.
    pub fn assert_cassandra_equals_postgres(&self, expected_users: usize) {
        let postgres = self.postgres_rows();
        assert_eq!(postgres.len(), expected_users, "PostgreSQL holds every ingested user");
        let cassandra = self.cassandra_rows();
        assert_eq!(cassandra.len(), postgres.len(), "Cassandra holds as many rows as PostgreSQL");
        for (id, row) in &postgres {
            assert_eq!(cassandra.get(id), Some(row), "row {id}");
        }
        let today: NaiveDate = Utc::now().date_naive();
        let mut by_country = BTreeMap::new();
        let mut by_gender = BTreeMap::new();
        let mut by_band = BTreeMap::new();
        for row in postgres.values() {
            let key = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
            *by_country.entry(key(&row.text[9])).or_insert(0) += 1;
            *by_gender.entry(key(&row.text[2])).or_insert(0) += 1;
            let band = row.dob.and_then(chrono::DateTime::from_timestamp_millis).map(|d| age_band(d.date_naive(), today));
            *by_band.entry(key(&band)).or_insert(0) += 1;
        }
        assert_eq!(self.aggregate("users_by_country", "country"), by_country);
        assert_eq!(self.aggregate("users_by_gender", "gender"), by_gender);
        assert_eq!(self.aggregate("users_by_age_band", "age_band"), by_band);
    }
}

/// What the master prints before its status server's address.
pub const STATUS_PAGE_ON: &str = "status page on http://";

/// Ingest and CDC running in the background.
pub struct Background {
    pub ingest: Running,
    pub cdc: Running,
}

impl Background {
    /// Whether ingest is still fetching users.
    pub fn ingesting(&mut self) -> bool {
        self.ingest.child.try_wait().unwrap().is_none()
    }

    /// Waits for ingest to finish, then for the CDC stage to have every change in Kafka.
    pub fn finish(self, limit: Duration) {
        finish(self.ingest, "background ingest", limit);
        finish(self.cdc, "background cdc", limit);
    }
}

/// kill -9 of a process the master's status named. Never of 0 or 1: `kill -9 0` would kill
/// the test's own process group.
pub fn kill_pid(pid: u64) {
    assert!(pid > 1, "no process to kill: pid {pid}");
    Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
}

/// A service of the stack frozen with SIGSTOP (a node that hangs and keeps its connections
/// open), thawed when dropped, even when the test fails.
pub struct Paused(&'static str);

impl Paused {
    pub fn new(service: &'static str) -> Paused {
        stack(&["pause", service]);
        Paused(service)
    }
}

/// A test's replication slots go with it: PostgreSQL holds at most `max_replication_slots`
/// (64 in the stack), and a whole test run makes more databases than that.
impl Drop for Pipeline {
    fn drop(&mut self) {
        let database = self.database.rsplit('/').next().unwrap_or_default().to_string();
        // Never a panic here (a drop while a failed test unwinds would abort the run): a
        // PostgreSQL that is gone keeps its slots.
        let _ = self.rt.block_on(async {
            let admin = rtds::connectors::postgres::connect(&crate::util::service("RTDS_POSTGRES")).await.ok()?;
            admin.execute("select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = $1 and not active", &[&database]).await.ok()
        });
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/stack")).args(["resume", self.0]).status();
    }
}

/// Waits until the master's status says at least `records` are durable.
pub fn wait_durable(pipeline: &Pipeline, http: u16, records: i64) -> Value {
    wait_for(pipeline, http, |status| status["pipeline"]["durable_records"].as_i64().unwrap_or(0) >= records)
}

pub fn stack(args: &[&str]) {
    let status = Command::new(root().join("scripts/stack")).args(args).stdout(Stdio::null()).status().unwrap();
    assert!(status.success(), "scripts/stack {args:?} failed");
}

/// Users counted by the gender view on the status (its rows are [gender, users]).
pub fn gender_total(status: &Value) -> i64 {
    status["views"]["users_by_gender"]["rows"].as_array().map_or(0, |rows| rows.iter().map(|row| row[1].as_i64().unwrap()).sum())
}

/// The sum of every sample of the metrics whose line starts with `prefix`.
pub fn metric_sum(metrics: &str, prefix: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| line.starts_with(prefix) && !line.starts_with('#'))
        .filter(|line| line[prefix.len()..].starts_with([' ', '{', ',']))
        .map(|line| line.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

/// Waits up to `limit` for `ready` to give a value.
pub fn wait_until<T>(limit: Duration, what: &str, mut ready: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = ready() {
            return value;
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until the master's status satisfies `done`.
pub fn wait_for(pipeline: &Pipeline, http: u16, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    let mut last = None;
    loop {
        match pipeline.status(http) {
            Some(status) if done(&status) => return status,
            Some(status) => last = Some(status),
            None => {}
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the status never got there; the last one the master served:\n{:#}", last.unwrap_or_default());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stops a process that is still running (a master takes its workers with it); returns its
/// stderr.
pub fn stop(mut running: Running) -> String {
    assert!(running.child.try_wait().unwrap().is_none(), "still running when stopped");
    running.kill9()
}
