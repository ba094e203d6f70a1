//! Change data capture: PostgreSQL's committed changes reach Kafka exactly once through
//! `rtds cdc`, even when it is killed, and edits made by hand in PostgreSQL reach Cassandra.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use uuid::Uuid;

use super::harness::{Paused, Pipeline, Running, STATUS_PAGE_ON, finish, kill_pid, metric_sum, stop, tail, wait_durable, wait_for};
use crate::util::{cdc_args, consume_all, rtds, stack_lock};

/// Every message of `topic`, read `read_committed`: (partition, key, has a value, LSN header).
fn committed_changes(brokers: &str, topic: &str) -> Vec<(i32, String, bool, u64)> {
    let consumer: BaseConsumer = rtds::connectors::kafka::KafkaConfig::new(brokers).client_config()
        .set("group.id", crate::util::unique("check"))
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).unwrap();
    let partitions = metadata.topics()[0].partitions().len() as i32;
    let mut assignment = rdkafka::TopicPartitionList::new();
    let mut ends = HashMap::new();
    for p in 0..partitions {
        assignment.add_partition_offset(topic, p, rdkafka::Offset::Beginning).unwrap();
        ends.insert(p, consumer.fetch_watermarks(topic, p, Duration::from_secs(10)).unwrap().1);
    }
    consumer.assign(&assignment).unwrap();
    let mut changes = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    // Read until every partition's position reaches its end (markers included).
    loop {
        let position = consumer.position().unwrap();
        let done = (0..partitions).all(|p| {
            position.find_partition(topic, p).and_then(|e| e.offset().to_raw()).is_some_and(|o| o >= ends[&p]) || ends[&p] == 0
        });
        if done {
            return changes;
        }
        assert!(Instant::now() < deadline, "could not read {topic} to its end");
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message.unwrap();
            let lsn = message
                .headers()
                .and_then(|h| {
                    use rdkafka::message::Headers;
                    h.iter().find(|h| h.key == "rtds-lsn").and_then(|h| std::str::from_utf8(h.value?).ok()?.parse().ok())
                })
                .expect("every change carries its commit LSN");
            let key = String::from_utf8(message.key().unwrap().to_vec()).unwrap();
            changes.push((message.partition(), key, message.payload().is_some(), lsn));
        }
    }
}

/// The CDC stage in the background, with its metrics on a port of its own.
fn spawn_cdc(pipeline: &Pipeline) -> (Running, u16) {
    let mut command = rtds();
    command.args(cdc_args(&pipeline.database, &pipeline.brokers, &pipeline.topic)).args(["--metrics-addr", "127.0.0.1:0"]);
    let cdc = Running::spawn(command);
    let port = cdc.port_after("metrics on http://");
    (cdc, port)
}

/// A metric of the CDC stage's endpoint, if it answers.
fn cdc_metric(pipeline: &Pipeline, port: u16, name: &str) -> Option<f64> {
    let url = format!("http://127.0.0.1:{port}/metrics");
    let text = pipeline.rt.block_on(async { reqwest::get(&url).await.ok()?.text().await.ok() })?;
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
#[ignore = "needs PostgreSQL and Kafka: run scripts/test"]
fn cdc_killed_at_five_random_moments_sends_every_change_exactly_once() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("cdckill");
    // 5,000 users before the slot exists (they come as its snapshot), 95,000 while it streams.
    let first = pipeline.ingest(5_000, &[]);
    assert_eq!(first["stored"], 5_000);
    let mut ingest = pipeline.ingest_only_in_background(95_000, 5_000);

    let seed: u64 = std::env::var("RTDS_CDC_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut mid_ingest = 0;
    for kill in 0..5 {
        let (cdc, port) = spawn_cdc(&pipeline);
        // Once this copy committed a transaction of its own, at a random moment after.
        let started = Instant::now();
        while cdc_metric(&pipeline, port, "rtds_cdc_transactions_total").unwrap_or(0.0) < 1.0 {
            assert!(started.elapsed() < Duration::from_secs(60), "cdc {kill} (seed {seed}) committed nothing:\n{}", tail(&std::fs::read_to_string(&cdc.log).unwrap_or_default()));
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..800)));
        mid_ingest += usize::from(ingest.child.try_wait().unwrap().is_none());
        cdc.kill9();
    }
    assert!(mid_ingest >= 1, "the kills came while users were being stored (seed {seed})");
    finish(ingest, "background ingest", Duration::from_secs(180));
    let last = pipeline.cdc_in_background("2s");
    finish(last, "the last cdc", Duration::from_secs(120));

    let ids: Vec<Uuid> = pipeline.postgres_rows().into_keys().collect();
    assert_eq!(ids.len(), 100_000);
    let changes = committed_changes(&pipeline.brokers, &pipeline.topic);
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (_, key, has_value, _) in &changes {
        assert!(has_value, "only inserts happened");
        *seen.entry(key.as_str()).or_default() += 1;
    }
    let doubled: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(doubled.is_empty(), "changes sent twice (seed {seed}): {doubled:?}");
    assert_eq!(seen.len(), 100_000, "every user's insert is in Kafka (seed {seed})");
    assert!(ids.iter().all(|id| seen.contains_key(id.to_string().as_str())));
    // Commit order within each partition: LSNs never go back.
    let mut last_lsn: HashMap<i32, u64> = HashMap::new();
    for (partition, _, _, lsn) in &changes {
        let previous = last_lsn.insert(*partition, *lsn).unwrap_or(0);
        assert!(*lsn >= previous, "partition {partition} went back from LSN {previous} to {lsn}");
    }
    eprintln!("cdc: seed {seed}, {mid_ingest} of 5 kills while ingest ran, {} changes, none twice", changes.len());
}

/// Polls the CDC stage's metrics until `done` holds for (upserts, pending changes, lag in
/// seconds, transactions), for at most `limit`; returns the last values.
fn wait_cdc(pipeline: &Pipeline, port: u16, limit: Duration, done: impl Fn([f64; 4]) -> bool) -> Option<[f64; 4]> {
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < limit {
        let get = |name| cdc_metric(pipeline, port, name);
        if let (Some(upserts), Some(pending), Some(lag), Some(transactions)) = (
            get("rtds_cdc_changes_total{op=\"upsert\"}"),
            get("rtds_cdc_pending_changes"),
            get("rtds_cdc_lag_seconds"),
            get("rtds_cdc_transactions_total"),
        ) {
            last = Some([upserts, pending, lag, transactions]);
            if done([upserts, pending, lag, transactions]) {
                return last;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("cdc lag: gave up after {limit:?}; last (upserts, pending, lag s, transactions): {last:?}");
    None
}

#[test]
#[ignore = "needs PostgreSQL and Kafka: run scripts/test"]
fn changes_kafka_cannot_take_yet_show_as_the_slots_lag_in_changes_and_seconds() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("cdclag");
    let (cdc, port) = spawn_cdc(&pipeline);
    let insert_500 = || {
        pipeline.rt.block_on(async {
            let client = rtds::connectors::postgres::connect(&pipeline.database).await.unwrap();
            let sql = "insert into created_users (id, first_name, country) \
                       select gen_random_uuid(), 'Lag ' || n, 'Norway' from generate_series(1, 500) n";
            client.execute(sql, &[]).await.unwrap();
        })
    };
    // Streaming (the new slot's snapshot, of an empty table, is committed), then caught up:
    // nothing waits.
    wait_cdc(&pipeline, port, Duration::from_secs(60), |[.., transactions]| transactions >= 1.0).expect("the stage starts streaming");
    insert_500();
    let caught_up = |want: f64| move |[upserts, pending, lag, _]: [f64; 4]| upserts == want && pending == 0.0 && lag == 0.0;
    wait_cdc(&pipeline, port, Duration::from_secs(60), caught_up(500.0)).expect("the first 500 changes reach Kafka");

    // Kafka frozen: the next 500 changes (one PostgreSQL transaction) wait in the stage, and
    // the lag in time grows while they do. A heartbeat transaction that begins just before
    // the freeze keeps the stage from reading the changes at all; then the try is repeated
    // (one just happened, so the next is ~5 s off).
    let mut upserts = 500.0;
    let mut seen = None;
    for _ in 0..5 {
        let transactions = cdc_metric(&pipeline, port, "rtds_cdc_transactions_total").unwrap();
        wait_cdc(&pipeline, port, Duration::from_secs(10), |[.., t]| t > transactions);
        let frozen = Paused::new("kafka");
        insert_500();
        seen = wait_cdc(&pipeline, port, Duration::from_secs(8), |[_, pending, lag, _]| pending == 500.0 && lag >= 1.5);
        drop(frozen);
        upserts += 500.0;
        wait_cdc(&pipeline, port, Duration::from_secs(120), caught_up(upserts)).expect("after the thaw, every change reaches Kafka and nothing waits");
        if seen.is_some() {
            break;
        }
    }
    let [_, pending, lag, _] = seen.expect("while Kafka was frozen, the 500 changes showed as waiting, with the lag growing");
    eprintln!("cdc lag: Kafka frozen: {pending} changes waiting, {lag:.1} s behind");
    cdc.kill9();
}

#[test]
#[ignore = "needs PostgreSQL and Kafka: run scripts/test"]
fn a_snapshot_that_takes_longer_than_a_minute_still_commits_whole() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("cdcslowsnapshot");
    const ROWS: u64 = 1_000_000;
    let client = pipeline.rt.block_on(rtds::connectors::postgres::connect(&pipeline.database)).unwrap();
    pipeline.rt.block_on(async {
        client.batch_execute(rtds::connectors::postgres::SCHEMA).await.unwrap();
        let sql = "insert into created_users (id, first_name, country) \
                   select gen_random_uuid(), 'Snapshot ' || n, 'Chile' from generate_series(1, 1000000) n";
        client.execute(sql, &[]).await.unwrap();
    });
    let (cdc, port) = spawn_cdc(&pipeline);
    // Once the snapshot's read is under way (its Kafka transaction open), PostgreSQL hangs for
    // longer than the 60 s a streaming transaction may stay open.
    let reading = "select count(*) from pg_stat_activity where datname = current_database() and state = 'active' \
                   and query like 'select id, first_name%from created_users'";
    let started = Instant::now();
    while pipeline.rt.block_on(client.query_one(reading, &[])).unwrap().get::<_, i64>(0) == 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "the snapshot's read did not start");
        assert_eq!(cdc_metric(&pipeline, port, "rtds_cdc_snapshot_rows_total").unwrap_or(0.0), 0.0, "the snapshot finished before the test could freeze it");
        std::thread::sleep(Duration::from_millis(10));
    }
    {
        let _frozen = Paused::new("postgres");
        std::thread::sleep(Duration::from_secs(75));
    }
    let sent = wait_cdc(&pipeline, port, Duration::from_secs(120), |[..]| {
        cdc_metric(&pipeline, port, "rtds_cdc_snapshot_rows_total").is_some_and(|rows| rows == ROWS as f64)
    });
    assert!(sent.is_some(), "the snapshot committed after the hang");
    // In the transaction it began in: not aborted by the broker after 60 s and sent again.
    assert_eq!(cdc_metric(&pipeline, port, "rtds_cdc_transaction_retries_total"), Some(0.0), "the snapshot was not started over");
    let changes = committed_changes(&pipeline.brokers, &pipeline.topic);
    assert_eq!(changes.len() as u64, ROWS, "read_committed: every row once");
    cdc.kill9();
}

#[test]
#[ignore = "needs PostgreSQL, Kafka and Cassandra: run scripts/test"]
fn updates_and_deletes_made_in_postgres_reach_cassandra_rows_and_aggregates() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("cdcedits");
    pipeline.ingest(2_000, &[]);
    let (master, http) = pipeline.start_master_idle("30s");
    wait_durable(&pipeline, http, 2_000);
    let (cdc, _) = spawn_cdc(&pipeline);

    let (moved, deleted) = pipeline.rt.block_on(async {
        let client = rtds::connectors::postgres::connect(&pipeline.database).await.unwrap();
        let rows = client.query("select id from created_users order by id limit 2", &[]).await.unwrap();
        let (moved, deleted): (Uuid, Uuid) = (rows[0].get(0), rows[1].get(0));
        client.execute("update created_users set country = 'Atlantis' where id = $1", &[&moved]).await.unwrap();
        client.execute("delete from created_users where id = $1", &[&deleted]).await.unwrap();
        (moved, deleted)
    });
    let edited = Instant::now();
    loop {
        let rows = pipeline.cassandra_rows();
        let countries = pipeline.aggregate("users_by_country", "country");
        let done = rows.get(&moved).is_some_and(|row| row.text[9].as_deref() == Some("Atlantis"))
            && !rows.contains_key(&deleted)
            && countries.get("Atlantis") == Some(&1)
            && countries.values().sum::<i64>() == 1_999;
        if done {
            break;
        }
        assert!(edited.elapsed() < Duration::from_secs(60), "the edits did not reach Cassandra: Atlantis {:?}, {} rows", countries.get("Atlantis"), rows.len());
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("cdc: an UPDATE and a DELETE reached Cassandra's rows and aggregates {:.2} s after their commits", edited.elapsed().as_secs_f64());
    cdc.kill9();
    finish(master, "rtds master", Duration::from_secs(120));
    pipeline.assert_cassandra_equals_postgres(1_999);
}

#[test]
#[ignore = "needs PostgreSQL and Kafka: run scripts/test"]
fn a_change_cdc_cannot_encode_goes_to_the_dlq_with_the_fix() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("cdcdlq");
    pipeline.ingest(10, &[]);
    let id = pipeline.rt.block_on(async {
        let client = rtds::connectors::postgres::connect(&pipeline.database).await.unwrap();
        let id: Uuid = client.query_one("select id from created_users limit 1", &[]).await.unwrap().get(0);
        // A first name large enough to be stored out of line (TOAST): an update that leaves it
        // unchanged does not carry it.
        client
            .execute("update created_users set first_name = (select string_agg(md5(i::text), '') from generate_series(1, 400) i) where id = $1", &[&id])
            .await
            .unwrap();
        client.execute("update created_users set email = 'moved@example.com' where id = $1", &[&id]).await.unwrap();
        id
    });
    let summary = crate::util::run_cdc(&pipeline.database, &pipeline.brokers, &pipeline.topic, &[]);
    assert_eq!(summary["dead_letters"], 1, "{summary:#}");
    let dead = consume_all(&pipeline.brokers, &format!("{}.dlq", pipeline.topic), 1);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].key.as_deref(), Some(id.to_string().as_str()));
    assert!(dead[0].header("rtds-reason").is_some_and(|r| r.contains("REPLICA IDENTITY FULL")), "{:?}", dead[0].headers);

    // With the fix the advice names, such an update streams.
    pipeline.rt.block_on(async {
        let client = rtds::connectors::postgres::connect(&pipeline.database).await.unwrap();
        client.batch_execute("alter table created_users replica identity full").await.unwrap();
        client.execute("update created_users set email = 'again@example.com' where id = $1", &[&id]).await.unwrap();
    });
    let summary = crate::util::run_cdc(&pipeline.database, &pipeline.brokers, &pipeline.topic, &[]);
    assert_eq!((summary["dead_letters"].as_u64(), summary["upserts"].as_u64()), (Some(0), Some(1)), "{summary:#}");
    let changes = committed_changes(&pipeline.brokers, &pipeline.topic);
    assert_eq!(changes.len(), 10 + 1 + 1, "the inserts, the large first name and the last update");
}

#[test]
#[ignore = "needs PostgreSQL, Kafka and Cassandra: run scripts/test"]
fn the_master_runs_the_cdc_stage_and_starts_it_again_after_kill_9() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("cdcmaster");
    let mut command = rtds();
    command
        .args(["master", "--local", "-n", "2", "-w", "1", "--http", "127.0.0.1:0"])
        .args(["--postgres", &pipeline.database, "--cdc"])
        .args(pipeline.pipeline_args_idle("1h"));
    let master = Running::spawn(command);
    let http = master.port_after(STATUS_PAGE_ON);
    let mut ingest = pipeline.ingest_only_in_background(20_000, 1_000);

    // kill -9 of the stage once it streamed part of the ingest; the master starts it again.
    let streaming = wait_for(&pipeline, http, |s| s["cdc_stage"]["report"]["upserts"].as_u64().unwrap_or(0) >= 1_000);
    assert!(streaming["cdc_stage"]["changes_per_second"].as_f64().unwrap() > 0.0, "{:#}", streaming["cdc_stage"]);
    let restarts_before = streaming["cdc_stage"]["restarts"].as_u64().unwrap();
    kill_pid(streaming["cdc_stage"]["pid"].as_u64().unwrap());
    assert!(ingest.child.try_wait().unwrap().is_none(), "the kill came while users were being stored");
    let exited = wait_for(&pipeline, http, |s| s["cdc_stage"]["restarts"].as_u64().unwrap() > restarts_before);
    assert!(exited["cdc_stage"]["last_exit"].as_str().unwrap().contains("SIGKILL"), "{:#}", exited["cdc_stage"]);
    wait_for(&pipeline, http, |s| s["cdc_stage"]["running"] == true);
    finish(ingest, "ingest", Duration::from_secs(120));

    // Every change once: the durable records equal the users, and Cassandra equals PostgreSQL.
    wait_durable(&pipeline, http, 20_000);
    let changes = committed_changes(&pipeline.brokers, &pipeline.topic);
    let ids: std::collections::HashSet<&str> = changes.iter().map(|(_, key, _, _)| key.as_str()).collect();
    assert_eq!((changes.len(), ids.len()), (20_000, 20_000), "each change in Kafka once");
    let metrics = pipeline.metrics(http);
    assert!(metric_sum(&metrics, "rtds_cdc_stage_restarts_total") >= 1.0, "{metrics}");
    assert!(metrics.contains("rtds_cdc_stage_up 1"), "{metrics}");
    // Caught up: the stage's report, relayed to the master, says nothing waits.
    let settled = wait_for(&pipeline, http, |s| s["cdc_stage"]["report"]["pending_changes"] == 0 && s["cdc_stage"]["report"]["lag_ms"] == 0);
    assert!(settled["cdc_stage"]["report"]["upserts"].as_u64().is_some(), "{:#}", settled["cdc_stage"]);
    assert!(pipeline.metrics(http).contains("rtds_cdc_pending_changes 0"), "the master exports the stage's lag in changes");
    stop(master);
    pipeline.assert_cassandra_equals_postgres(20_000);
}
