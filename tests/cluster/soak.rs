//! The seeded fault run. While `rtds ingest` keeps storing users and `rtds cdc` streams them,
//! a schedule drawn from a seed kills worker processes, the master, the CDC stage and ingest
//! (kill -9; each is started again), restarts the master with its clock ten minutes behind,
//! restarts Kafka and PostgreSQL, freezes Cassandra (SIGSTOP) for 10–30 s, slips bad
//! messages into the topic, and edits PostgreSQL by SQL: users move to another country and
//! are deleted, and the smallest country loses every user. At the end every page is in
//! PostgreSQL whole (a raw record for every formatted row and no other), Cassandra must equal
//! PostgreSQL row by row, the aggregates must equal PostgreSQL's counts, and the dead-letter
//! topic must hold exactly the bad messages sent.
//!
//! README's test command runs it for [`DEFAULT_MINUTES`] with [`DEFAULT_SEED`];
//! `scripts/soak --seed S --minutes M` runs it with others (through `RTDS_SOAK_SEED` and
//! `RTDS_SOAK_MINUTES`). The same seed draws the same faults in the same order with the same
//! pauses; a failing seed is reproduced by running it again (RELIABILITY.md).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sha2::{Digest, Sha256};

use super::harness::{Paused, Pipeline, Running, STATUS_PAGE_ON, finish, kill_pid, stack, stop, tail, wait_for};
use crate::util::{consume_all, rtds, stack_lock};

/// The fault run of README's test command.
pub const DEFAULT_SEED: &str = "rtds-ci-73";
pub const DEFAULT_MINUTES: f64 = 3.0;
/// Users per second ingest produces while the faults come.
const RATE: u64 = 400;
/// Worker processes of the cluster (of 2 workers each).
const PROCESSES: usize = 2;

/// One fault of a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// kill -9 of worker process `index` (the master restarts the cluster).
    KillWorker(usize),
    /// kill -9 of the master (its workers die with it); the run starts a new one.
    KillMaster,
    /// Kafka stopped, and started again two seconds later.
    RestartKafka,
    /// Cassandra frozen with SIGSTOP for this many seconds, then thawed.
    FreezeCassandra(u64),
    /// PostgreSQL stopped and started again (ingest's writes fail meanwhile).
    RestartPostgres,
    /// Three messages no worker can use: not JSON, over the size limit, failing a check.
    BadMessages,
    /// kill -9 of the CDC stage; the run starts a new copy, which resumes from Kafka.
    KillCdc,
    /// kill -9 of ingest, perhaps mid-page; the run starts a new one for the users left.
    KillIngest,
    /// By SQL in PostgreSQL: 50 users move to another country, 50 are deleted, and so is every
    /// user of the smallest country (its group empties).
    EditRows,
    /// kill -9 of the master; the new one (and its workers) runs with its clock ten minutes
    /// behind (`rtds::clock`'s test override).
    KillMasterClockBehind,
}

impl Fault {
    /// The fault without its parameters, for counting faults by kind.
    fn kind(&self) -> &'static str {
        match self {
            Fault::KillWorker(_) => "kill -9 a worker process",
            Fault::KillMaster => "kill -9 the master",
            Fault::RestartKafka => "restart Kafka",
            Fault::FreezeCassandra(_) => "freeze Cassandra",
            Fault::RestartPostgres => "restart PostgreSQL",
            Fault::BadMessages => "send 3 bad messages",
            Fault::KillCdc => "kill -9 the CDC stage",
            Fault::KillIngest => "kill -9 ingest",
            Fault::EditRows => "edit rows by SQL",
            Fault::KillMasterClockBehind => "restart the master 10 min behind",
        }
    }

    /// About how long the fault and the recovery from it take, for the schedule's length.
    fn expected_seconds(&self) -> f64 {
        match self {
            Fault::KillWorker(_) => 4.0,
            Fault::KillMaster => 5.0,
            Fault::RestartKafka => 12.0,
            Fault::FreezeCassandra(seconds) => *seconds as f64,
            Fault::RestartPostgres => 4.0,
            Fault::BadMessages => 0.5,
            Fault::KillCdc => 3.0,
            Fault::KillIngest => 1.0,
            Fault::EditRows => 1.0,
            Fault::KillMasterClockBehind => 5.0,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::KillWorker(index) => write!(f, "kill -9 worker process {index}"),
            Fault::KillMaster => write!(f, "kill -9 the master"),
            Fault::RestartKafka => write!(f, "restart Kafka"),
            Fault::FreezeCassandra(seconds) => write!(f, "freeze Cassandra for {seconds}s"),
            Fault::RestartPostgres => write!(f, "restart PostgreSQL"),
            Fault::BadMessages => write!(f, "send 3 bad messages"),
            Fault::KillCdc => write!(f, "kill -9 the CDC stage"),
            Fault::KillIngest => write!(f, "kill -9 ingest"),
            Fault::EditRows => write!(f, "move 50 users, delete 50 and every user of the smallest country"),
            Fault::KillMasterClockBehind => write!(f, "kill -9 the master; start it with its clock 10 minutes behind"),
        }
    }
}

/// The faults a seed draws, each after a pause of 3–10 s, until they fill about `minutes`.
pub fn schedule(seed: &str, minutes: f64) -> Vec<(Duration, Fault)> {
    let mut rng = ChaCha8Rng::from_seed(Sha256::digest(seed.as_bytes()).into());
    let mut steps = Vec::new();
    let mut planned = 0.0;
    while planned < minutes * 60.0 {
        let pause = rng.random_range(3..=10);
        let fault = match rng.random_range(0..17) {
            0..=2 => Fault::KillWorker(rng.random_range(0..PROCESSES)),
            3 => Fault::KillMaster,
            4 | 5 => Fault::RestartKafka,
            6 | 7 => Fault::FreezeCassandra(rng.random_range(10..=30)),
            8 | 9 => Fault::RestartPostgres,
            10 | 11 => Fault::BadMessages,
            12 => Fault::KillCdc,
            13 => Fault::KillIngest,
            14 | 15 => Fault::EditRows,
            _ => Fault::KillMasterClockBehind,
        };
        planned += pause as f64 + fault.expected_seconds();
        steps.push((Duration::from_secs(pause), fault));
    }
    steps
}

#[test]
fn a_seed_draws_one_schedule_of_every_kind_of_fault() {
    let plan = schedule(DEFAULT_SEED, DEFAULT_MINUTES);
    assert_eq!(plan, schedule(DEFAULT_SEED, DEFAULT_MINUTES), "the same seed, the same faults");
    assert_ne!(plan, schedule("another seed", DEFAULT_MINUTES));
    let planned: f64 = plan.iter().map(|(pause, fault)| pause.as_secs_f64() + fault.expected_seconds()).sum();
    assert!((DEFAULT_MINUTES * 60.0..DEFAULT_MINUTES * 60.0 + 45.0).contains(&planned), "{planned} s planned");
    let kinds: BTreeSet<&str> = plan.iter().map(|(_, fault)| fault.kind()).collect();
    assert_eq!(kinds.len(), 10, "the test run's seed injects every kind of fault: {plan:?}");
}

#[test]
#[ignore = "needs PostgreSQL, Kafka and Cassandra: run scripts/test, or scripts/soak"]
fn a_seeded_fault_run_loses_nothing_and_doubles_nothing() {
    let _stack = stack_lock();
    let seed = std::env::var("RTDS_SOAK_SEED").unwrap_or_else(|_| DEFAULT_SEED.into());
    let minutes: f64 = std::env::var("RTDS_SOAK_MINUTES").map_or(DEFAULT_MINUTES, |m| m.parse().expect("RTDS_SOAK_MINUTES is a number"));
    let plan = schedule(&seed, minutes);
    eprintln!("soak: seed {seed:?}, {minutes} minutes, {} faults planned", plan.len());

    let pipeline = Pipeline::new("soak");
    pipeline.ingest(1_000, &[]);
    // The users the run stores: 1,000 first, then RATE a second through the faults.
    let target = 1_000 + (RATE as f64 * minutes * 60.0) as u64;
    // Ingest, for the users left; each copy fetches a seed of its own, so a new copy after a
    // kill stores new users rather than fetching the old copy's pages again.
    let start_ingest = |copy: usize| {
        let left = target.saturating_sub(stored_users(&pipeline)).max(RATE);
        let mut command = rtds();
        command
            .args(["ingest", "--api", &pipeline.api, "--postgres", &pipeline.database])
            .args(["--users", &left.to_string(), "--seed", &format!("{}-soak-{copy}", pipeline.seed), "--batch", "500"])
            // Every outage is ridden out: a page is retried until it is stored (the waits stop
            // growing at 16 s).
            .args(["--rate", &RATE.to_string(), "--json", "--attempts", "100000"]);
        Running::spawn(command)
    };
    let mut ingest = start_ingest(0);
    // The CDC stage streams what ingest stores, through every fault; it finishes once idle
    // for 20 s after ingest, with every change in Kafka.
    let mut cdc = pipeline.cdc_in_background("20s");

    let start_master_at = |clock_behind: bool| {
        let mut command = rtds();
        command
            .args(["master", "--local", "-n", &PROCESSES.to_string(), "-w", "2"])
            .args(["--http", "127.0.0.1:0", "--max-restarts", "100000"])
            .args(pipeline.pipeline_args_idle("1h"));
        if clock_behind {
            // The master and the worker processes it starts (they inherit it).
            super::versions::clock_behind(&mut command);
        }
        let master = Running::spawn(command);
        let http = master.port_after(STATUS_PAGE_ON);
        (master, http)
    };
    let start_master = || start_master_at(false);
    let (mut master, mut http) = start_master();
    let mut deleted = 0;
    let mut master_logs = Vec::new();
    wait_for(&pipeline, http, |s| s["pipeline"]["durable_records"].as_i64().unwrap_or(0) > 0);

    let started = Instant::now();
    let mut bad_sent: BTreeSet<String> = BTreeSet::new();
    for (index, (pause, fault)) in plan.iter().enumerate() {
        std::thread::sleep(*pause);
        eprintln!("soak: {:6.1}s  {fault}", started.elapsed().as_secs_f64());
        match fault {
            Fault::KillWorker(process) => {
                let status = wait_for(&pipeline, http, |s| s["cluster"]["processes"][*process]["pid"].is_u64());
                kill_pid(status["cluster"]["processes"][*process]["pid"].as_u64().unwrap());
            }
            Fault::KillMaster => {
                master_logs.push(master.kill9());
                (master, http) = start_master();
            }
            Fault::RestartKafka => {
                stack(&["down", "kafka"]);
                std::thread::sleep(Duration::from_secs(2));
                stack(&["up", "kafka"]);
            }
            Fault::FreezeCassandra(seconds) => {
                let _frozen = Paused::new("cassandra");
                std::thread::sleep(Duration::from_secs(*seconds));
            }
            Fault::RestartPostgres => {
                stack(&["down", "postgres"]);
                stack(&["up", "postgres"]);
            }
            Fault::BadMessages => bad_sent.extend(send_bad_messages(&pipeline, index)),
            Fault::KillCdc => {
                cdc.kill9();
                cdc = pipeline.cdc_in_background("20s");
            }
            Fault::KillIngest => {
                ingest.kill9();
                ingest = start_ingest(index + 1);
            }
            Fault::EditRows => deleted += edit_rows(&pipeline, index),
            Fault::KillMasterClockBehind => {
                master_logs.push(master.kill9());
                (master, http) = start_master_at(true);
            }
        }
    }
    let faulted = started.elapsed();

    finish(ingest, "ingest", Duration::from_secs(600));
    finish(cdc, "cdc", Duration::from_secs(600));
    let ingested = stored_users(&pipeline);
    let half_pages = users_without_raw_record(&pipeline);
    let topic_records = topic_end(&pipeline.brokers, &pipeline.topic);
    // Offsets against offsets: the topic is written in transactions, whose markers take offsets.
    let durable_offsets = |s: &serde_json::Value| -> i64 {
        s["pipeline"]["partitions"].as_array().map_or(0, |p| p.iter().map(|p| p["durable_offset"].as_i64().unwrap_or(0)).sum())
    };
    wait_for(&pipeline, http, |s| s["pipeline"]["total_lag"] == 0 && durable_offsets(s) >= topic_records);
    master_logs.push(stop(master));
    let restarts: usize = master_logs.iter().map(|log| log.matches("restarting the cluster from the last durable epoch").count()).sum();
    // Kafka consumers that stopped fetching after a broker restart and were replaced.
    let replaced: usize = master_logs.iter().map(|log| log.matches("this consumer fetches nothing").count()).sum();

    // The outcome, counted before any assertion so that a failing seed says everything.
    let postgres = pipeline.postgres_rows();
    let cassandra = pipeline.cassandra_rows();
    let lost = postgres.iter().filter(|(id, row)| cassandra.get(id) != Some(row)).count();
    let extra = cassandra.keys().filter(|id| !postgres.contains_key(id)).count();
    let counted: i64 = pipeline.aggregate("users_by_gender", "gender").values().sum();
    let doubled = counted - postgres.len() as i64;
    let dead = consume_all(&pipeline.brokers, &format!("{}.dlq", pipeline.topic), bad_sent.len());
    let mut dead_by_source: BTreeMap<String, usize> = BTreeMap::new();
    for message in &dead {
        *dead_by_source.entry(message.header("rtds-source").unwrap_or("?").to_string()).or_default() += 1;
    }
    let dead_missing = bad_sent.iter().filter(|source| !dead_by_source.contains_key(*source)).count();
    let dead_unexpected = dead_by_source.keys().filter(|source| !bad_sent.contains(*source)).count();
    let dead_repeated: usize = dead_by_source.values().map(|n| n - 1).sum();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, fault) in &plan {
        *kinds.entry(fault.kind()).or_default() += 1;
    }
    eprintln!(
        "soak: seed {seed:?}: {} faults in {:.0}s ({kinds:?}), {restarts} cluster restarts, {replaced} stalled consumers replaced\n\
         soak: {} users ingested, {} Kafka offsets, {} rows checked: {lost} lost or different, {extra} unexpected, \
         {doubled} counted twice in the aggregates\n\
         soak: {} bad messages sent, {} dead letters: {dead_missing} missing, {dead_unexpected} unexpected, \
         {dead_repeated} delivered twice (the dead-letter topic is at-least-once)",
        plan.len(),
        faulted.as_secs_f64(),
        ingested,
        topic_records,
        postgres.len(),
        bad_sent.len(),
        dead.len(),
    );
    let last_log = master_logs.last().map(|log| tail(log)).unwrap_or_default();
    assert_eq!(half_pages, 0, "seed {seed:?}: every page in PostgreSQL whole, a raw record for every row and no other");
    assert!(ingested + deleted >= target, "seed {seed:?}: ingest stored {ingested} of {target} users ({deleted} deleted since)");
    assert_eq!((lost, extra, doubled), (0, 0, 0), "seed {seed:?}: nothing lost, nothing doubled\n{last_log}");
    assert_eq!((dead_missing, dead_unexpected), (0, 0), "seed {seed:?}: the DLQ holds exactly the bad messages");
    pipeline.assert_cassandra_equals_postgres(ingested as usize);
}

/// Edits PostgreSQL as a user would, in one transaction: 50 users move to another country, 50
/// are deleted, and so is every user of the smallest country, whose group empties. A user is
/// deleted with its raw record. Returns how many users were deleted.
fn edit_rows(pipeline: &Pipeline, index: usize) -> u64 {
    pipeline.rt.block_on(async {
        // PostgreSQL may be restarting: try again until it answers.
        let started = Instant::now();
        loop {
            let edited = async {
                let mut client = rtds::connectors::postgres::connect(&pipeline.database).await.map_err(|e| e.to_string())?;
                let transaction = client.transaction().await.map_err(|e| e.to_string())?;
                let moved = format!("Moved-{index}");
                let sample = "select id from created_users order by md5(id::text || $1) limit 50";
                transaction
                    .execute(&format!("update created_users set country = $2 where id in ({sample})"), &[&format!("move-{index}"), &moved])
                    .await
                    .map_err(|e| e.to_string())?;
                let smallest = "select country from created_users where country is not null group by country order by count(*), country limit 1";
                let doomed = format!("select id from created_users where id in ({sample}) or country = ({smallest})");
                let ids: Vec<uuid::Uuid> =
                    transaction.query(&doomed, &[&format!("delete-{index}")]).await.map_err(|e| e.to_string())?.iter().map(|r| r.get(0)).collect();
                transaction.execute("delete from raw_users where id = any($1)", &[&ids]).await.map_err(|e| e.to_string())?;
                transaction.execute("delete from created_users where id = any($1)", &[&ids]).await.map_err(|e| e.to_string())?;
                transaction.commit().await.map_err(|e| e.to_string())?;
                Ok::<u64, String>(ids.len() as u64)
            };
            match edited.await {
                Ok(deleted) => return deleted,
                Err(error) => {
                    assert!(started.elapsed() < Duration::from_secs(120), "editing rows failed for 2 minutes: {error}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    })
}

/// Users in `created_users`.
fn stored_users(pipeline: &Pipeline) -> u64 {
    pipeline.rt.block_on(async {
        let client = rtds::connectors::postgres::connect(&pipeline.database).await.expect("PostgreSQL answers");
        client.query_one("select count(*) from created_users", &[]).await.unwrap().get::<_, i64>(0) as u64
    })
}

/// Ids in one of `created_users` and `raw_users` but not the other: a page stored in part.
fn users_without_raw_record(pipeline: &Pipeline) -> i64 {
    pipeline.rt.block_on(async {
        let client = rtds::connectors::postgres::connect(&pipeline.database).await.expect("PostgreSQL answers");
        let sql = "select count(*) from raw_users r full join created_users c using (id) where r.id is null or c.id is null";
        client.query_one(sql, &[]).await.unwrap().get(0)
    })
}

/// Produces three messages no worker can use; returns their places (`topic/partition@offset`,
/// as a dead letter's `rtds-source` header names them).
fn send_bad_messages(pipeline: &Pipeline, index: usize) -> Vec<String> {
    let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("{}-bad-{index}", pipeline.topic).as_bytes()).to_string();
    let failing_check = serde_json::json!({
        "id": id,
        "first_name": "Bad", "last_name": "Address", "gender": "female", "email": "not-an-address",
        "dob": "1990-01-01T00:00:00Z", "country": "Brazil",
    });
    // The row is keyed by its id, as rows are, so it fails on its check, not on its key.
    let payloads = [(None, format!("{{not json {index}").into_bytes()), (None, vec![b'x'; 100_000]), (Some(id.as_str()), failing_check.to_string().into_bytes())];
    pipeline.rt.block_on(async {
        let producer: FutureProducer = rtds::connectors::kafka::KafkaConfig::new(&pipeline.brokers).client_config().create().unwrap();
        let mut places = Vec::new();
        for (key, payload) in &payloads {
            let mut record: FutureRecord<'_, str, _> = FutureRecord::to(&pipeline.topic).payload(payload);
            if let Some(key) = key {
                record = record.key(key);
            }
            let delivery = producer.send(record, Duration::from_secs(60)).await.map_err(|(e, _)| e).expect("a bad message is produced");
            places.push(format!("{}/{}@{}", pipeline.topic, delivery.partition, delivery.offset));
        }
        places
    })
}

/// The topic's end: the sum of its partitions' high watermarks, in offsets (transaction
/// markers take some), asked again while Kafka is still settling after a restart.
fn topic_end(brokers: &str, topic: &str) -> i64 {
    let consumer: BaseConsumer = rtds::connectors::kafka::KafkaConfig::new(brokers).client_config().create().unwrap();
    let started = Instant::now();
    loop {
        let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10));
        let ends: Result<Vec<i64>, _> = metadata.and_then(|m| {
            let partitions = m.topics()[0].partitions().len() as i32;
            (0..partitions).map(|p| consumer.fetch_watermarks(topic, p, Duration::from_secs(10)).map(|(_, high)| high)).collect()
        });
        match ends {
            Ok(ends) if !ends.is_empty() => return ends.iter().sum(),
            other => assert!(started.elapsed() < Duration::from_secs(120), "Kafka's watermarks of {topic}: {other:?}"),
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}
