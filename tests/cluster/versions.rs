//! The one version rule against the real services, with changes made by SQL in PostgreSQL
//! while the cluster runs: the latest version of a user wins in the rows and the aggregates,
//! a group that loses its last user leaves its table, order comes from the data (a cluster
//! restarted with its clock ten minutes behind still applies updates and deletes), and
//! records Kafka's retention deleted before they were durable stop the workers loudly.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::TopicPartitionList;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use uuid::Uuid;

use crate::util::{kafka, rtds, service, stack_lock, unique};
use super::harness::{Pipeline, finish, tail};

/// Runs `sql` (statements separated by `;`) against the pipeline's database in one transaction.
fn execute(pipeline: &Pipeline, sql: &str) {
    pipeline.rt.block_on(async {
        let client = rtds::connectors::postgres::connect(&pipeline.database).await.unwrap();
        client.batch_execute(&format!("begin; {sql}; commit")).await.unwrap();
    });
}

/// PostgreSQL's users per country.
fn postgres_by_country(pipeline: &Pipeline) -> BTreeMap<String, i64> {
    pipeline.rt.block_on(async {
        let client = rtds::connectors::postgres::connect(&pipeline.database).await.unwrap();
        let rows = client.query("select coalesce(country, 'unknown'), count(*) from created_users group by 1", &[]).await.unwrap();
        rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1))).collect()
    })
}

/// Waits until Cassandra's `users_by_country` satisfies `done`.
fn wait_for_countries(pipeline: &Pipeline, what: &str, done: impl Fn(&BTreeMap<String, i64>) -> bool) {
    let started = Instant::now();
    loop {
        // The table exists once the master has prepared the keyspace: until then, none.
        let countries = pipeline.rt.block_on(async {
            let session = rtds::connectors::cassandra::connect(&pipeline.cassandra).await.ok()?;
            let cql = format!("select country, users from {}.users_by_country", pipeline.keyspace);
            let result = session.query_unpaged(cql, &[]).await.ok()?.into_rows_result().ok()?;
            Some(result.rows::<(String, i64)>().ok()?.map(Result::unwrap).collect::<BTreeMap<String, i64>>())
        });
        let countries = countries.unwrap_or_default();
        if done(&countries) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{what} never showed in users_by_country: {countries:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The countries of PostgreSQL's users, most users first.
fn countries_by_size(pipeline: &Pipeline) -> Vec<String> {
    let mut countries: Vec<(String, i64)> = postgres_by_country(pipeline).into_iter().collect();
    countries.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    countries.into_iter().map(|(country, _)| country).collect()
}

/// 3,000 users ingested and in Cassandra, with the CDC stage and the cluster still running
/// (each finishes once idle, 20 s and 10 s), so changes made by SQL now stream through.
fn streaming_cluster(name: &str) -> (Pipeline, crate::process::Running, crate::process::Running) {
    let pipeline = Pipeline::new(name);
    pipeline.ingest(3_000, &[]);
    let cdc = pipeline.cdc_in_background("20s");
    let (master, _) = pipeline.start_master_idle("10s");
    wait_for_countries(&pipeline, "every user", |countries| countries.values().sum::<i64>() == 3_000);
    (pipeline, cdc, master)
}

#[test]
#[ignore = "needs PostgreSQL, Kafka and Cassandra: run scripts/test"]
fn a_group_that_loses_its_last_user_leaves_the_aggregate() {
    let _stack = stack_lock();
    let (pipeline, cdc, master) = streaming_cluster("emptied");

    // With the cluster running: every user of one country moves to another, and every user of
    // a second country is deleted. Both groups empty.
    let countries = countries_by_size(&pipeline);
    let (moved, target, deleted) = (&countries[0], &countries[1], &countries[2]);
    execute(&pipeline, &format!("update created_users set country = '{target}' where country = '{moved}'; delete from created_users where country = '{deleted}'"));
    let expected = postgres_by_country(&pipeline);
    assert!(!expected.contains_key(moved) && !expected.contains_key(deleted));
    wait_for_countries(&pipeline, "the moves and deletes", |countries| *countries == expected);

    finish(master, "rtds master", Duration::from_secs(180));
    finish(cdc, "rtds cdc", Duration::from_secs(60));
    let by_country = pipeline.aggregate("users_by_country", "country");
    assert_eq!(by_country, expected, "users_by_country equals PostgreSQL's GROUP BY, without the emptied countries");
    let users = expected.values().sum::<i64>() as usize;
    pipeline.assert_cassandra_equals_postgres(users);
}

#[test]
#[ignore = "needs PostgreSQL, Kafka and Cassandra: run scripts/test"]
fn the_latest_version_of_an_id_wins_in_rows_and_aggregates() {
    let _stack = stack_lock();
    let (pipeline, cdc, master) = streaming_cluster("versions");

    // Version 2 of 100 users: all move to Lemuria. Only once Cassandra shows all of them there
    // (so in a later epoch, certainly) do half of them change again, to Mu.
    let ids: Vec<Uuid> = pipeline.postgres_rows().keys().take(100).copied().collect();
    let list = |ids: &[Uuid]| ids.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(",");
    execute(&pipeline, &format!("update created_users set country = 'Lemuria', first_name = first_name || ' of Lemuria' where id in ({})", list(&ids)));
    wait_for_countries(&pipeline, "version 2", |countries| countries.get("Lemuria") == Some(&100));
    execute(&pipeline, &format!("update created_users set country = 'Mu', first_name = first_name || ' of Mu' where id in ({})", list(&ids[50..])));
    wait_for_countries(&pipeline, "version 3", |countries| countries.get("Mu") == Some(&50));

    finish(master, "rtds master", Duration::from_secs(180));
    finish(cdc, "rtds cdc", Duration::from_secs(60));
    pipeline.assert_cassandra_equals_postgres(3_000);
    let by_country = pipeline.aggregate("users_by_country", "country");
    assert_eq!((by_country.get("Lemuria"), by_country.get("Mu")), (Some(&50), Some(&50)));
}

/// Sets a command's clock (and its children's) ten minutes back: rtds's test clock override
/// (`rtds::clock`; libfaketime stalls librdkafka's timed waits).
pub(super) fn clock_behind(command: &mut std::process::Command) {
    command.env(rtds::clock::OFFSET_ENV, "-600");
}

#[test]
#[ignore = "needs PostgreSQL, Kafka and Cassandra: run scripts/test"]
fn a_cluster_restarted_with_its_clock_ten_minutes_behind_still_applies_updates_and_deletes() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("clock");
    pipeline.ingest(2_000, &[]);
    let (master, _) = pipeline.start_master();
    finish(master, "rtds master", Duration::from_secs(180));
    pipeline.assert_cassandra_equals_postgres(2_000);

    // Changes after the first run, streamed into Kafka; then the cluster comes back on
    // machines whose clocks are ten minutes behind the first run's.
    let ids: Vec<Uuid> = pipeline.postgres_rows().keys().take(200).copied().collect();
    let list = |ids: &[Uuid]| ids.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(",");
    execute(&pipeline, &format!("update created_users set country = 'Atlantis', email = 'moved.' || email where id in ({})", list(&ids[..100])));
    execute(&pipeline, &format!("delete from created_users where id in ({})", list(&ids[100..])));
    crate::util::run_cdc(&pipeline.database, &pipeline.brokers, &pipeline.topic, &[]);

    let mut command = rtds();
    command.args(["master", "--local", "-n", "2", "-w", "2", "--http", "127.0.0.1:0"]).args(pipeline.pipeline_args());
    clock_behind(&mut command);
    let stderr = finish(crate::process::Running::spawn(command), "rtds master (clock 10 minutes behind)", Duration::from_secs(180));
    assert!(stderr.contains("seconds=-600") && stderr.contains("clock is shifted for a test"), "the workers ran ten minutes behind: {}", tail(&stderr));
    pipeline.assert_cassandra_equals_postgres(1_900);
    assert_eq!(pipeline.aggregate("users_by_country", "country").get("Atlantis"), Some(&100));
}

/// Deletes `partition`'s records before `offset`, as `kafka-delete-records` does.
fn delete_records(brokers: &str, topic: &str, partition: i32, offset: i64) {
    let admin: AdminClient<DefaultClientContext> = rtds::connectors::kafka::KafkaConfig::new(brokers).client_config().create().unwrap();
    let mut offsets = TopicPartitionList::new();
    offsets.add_partition_offset(topic, partition, rdkafka::Offset::Offset(offset)).unwrap();
    let done = crate::util::runtime().block_on(admin.delete_records(&offsets, &AdminOptions::new())).unwrap();
    assert!(done.elements().iter().all(|e| e.error().is_ok()), "{done:?}");
}

#[test]
#[ignore = "needs Kafka and Cassandra: run scripts/test"]
fn records_retention_deleted_before_they_were_durable_stop_the_workers_until_the_loss_is_accepted() {
    let _stack = stack_lock();
    let brokers = kafka();
    let (topic, keyspace) = (unique("retention"), unique("ks"));
    let generator = rtds::api::generator::Generator::new();
    let users = |page: u32| -> Vec<(rtds::model::User, String)> {
        let request = rtds::api::generator::Request { seed: topic.clone(), page, results: 100, ..Default::default() };
        generator
            .page(&request)
            .iter()
            .map(|generated| {
                let mut json = Vec::new();
                rtds::api::generator::write_json(generated, &mut json);
                (rtds::model::User::from_json(std::str::from_utf8(&json).unwrap()).unwrap(), String::new())
            })
            .collect()
    };
    let config = rtds::connectors::kafka::KafkaConfig::new(&brokers);
    let send = |page| {
        crate::util::runtime().block_on(async {
            rtds::connectors::kafka::ensure_topic(&config, &topic, 1).await.unwrap();
            rtds::connectors::kafka::RowProducer::new(&config, &topic).unwrap().send(&users(page), &[], "test").await.unwrap();
        })
    };
    let cassandra = service("RTDS_CASSANDRA");
    let worker = |extra: &[&str]| {
        let mut command = rtds();
        command
            .args(["worker", "-w", "1", "--kafka", &brokers, "--cassandra", &cassandra, "--topic", &topic, "--keyspace", &keyspace])
            .args(["--idle-exit", "3s"])
            .args(extra);
        command
    };
    send(1);
    finish(crate::process::Running::spawn(worker(&[])), "rtds worker", Duration::from_secs(120));

    // 100 more records; retention deletes the first 50 of them, never read.
    send(2);
    delete_records(&brokers, &topic, 0, 150);
    let out = worker(&[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(rtds::engine::cluster::EXIT_PERMANENT), "the worker stops: {}", tail(&stderr));
    assert!(stderr.contains("partition 0: durable up to offset 100, the earliest Kafka holds is 150 (50 records lost)"), "{}", tail(&stderr));
    assert!(stderr.contains("--accept-lost-records"), "it says how to go on: {}", tail(&stderr));

    // A master does not restart a worker that stopped on it.
    let out = rtds()
        .args(["master", "--local", "-n", "1", "-w", "1", "--http", "127.0.0.1:0", "--kafka", &brokers, "--cassandra", &cassandra])
        .args(["--topic", &topic, "--keyspace", &keyspace, "--idle-exit", "3s"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("a restart cannot mend"), "{}", tail(&stderr));
    assert!(!stderr.contains("restarting the cluster"), "{}", tail(&stderr));

    // Accepted: the workers read on from the earliest offset and count what they skipped.
    let out = worker(&["--accept-lost-records"]).output().unwrap();
    assert!(out.status.success(), "{}", tail(&String::from_utf8_lossy(&out.stderr)));
    let summary: serde_json::Value = String::from_utf8_lossy(&out.stdout).lines().find_map(|l| serde_json::from_str(l).ok()).unwrap();
    assert_eq!((summary["records_skipped"].as_u64(), summary["records_in"].as_u64()), (Some(50), Some(50)), "{summary}");
}
