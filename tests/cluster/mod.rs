//! The distributed pipeline: `rtds ingest` fills a topic of 8 partitions, a cluster of 2
//! processes × 2 workers moves it to Cassandra, and Cassandra must then hold exactly what
//! PostgreSQL holds, whatever happened on the way (a killed worker, Kafka or Cassandra
//! restarting, bad messages).

mod alerts;
mod avro;
mod cdc;
pub(crate) mod harness;
mod restarts;
mod soak;
mod sql;
mod versions;
mod warnings;

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;
use uuid::Uuid;

use rtds::engine::control::TOKEN_ENV;

use crate::util::{cassandra, consume_all, free_ports, kafka, rtds, runtime, service, stack_lock, unique};
use harness::{Pipeline, Running, STATUS_PAGE_ON, finish, gender_total, kill_pid, metric_sum, stack, stop, tail, wait_durable, wait_for};

#[test]
#[ignore = "needs PostgreSQL, Kafka and Cassandra: run scripts/test"]
fn master_local_cluster_moves_every_user_to_cassandra() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("cluster");
    let summary = pipeline.ingest(20_000, &[]);
    assert_eq!(summary["stored"], 20_000);
    let (master, http) = pipeline.start_master_idle("8s");
    let status = wait_durable(&pipeline, http, 1);
    assert_eq!(status["cluster"]["processes"].as_array().unwrap().len(), 2);
    assert_eq!(status["cluster"]["workers_per_process"], 2);
    assert_eq!(status["pipeline"]["partitions"].as_array().unwrap().len(), 8);

    // Once all is durable, the workers' reports and the polled tables agree with it. The
    // status promises each of these only eventually (reports come every second, offsets are
    // recorded after the rows and polled once a second), so wait for all of them together.
    let status = wait_for(&pipeline, http, |s| {
        s["totals"]["rows_written"] == 20_000
            && gender_total(s) == 20_000
            && s["pipeline"]["durable_records"] == 20_000
            && s["pipeline"]["total_lag"] == 0
            && s["latency_ms"]["count"] == 20_000
    });
    let owned: Vec<i64> = status["cluster"]["processes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["partitions"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()))
        .collect();
    assert_eq!(owned.len(), 8, "every partition is owned by exactly one process: {owned:?}");
    assert_eq!(status["totals"]["records_in"], 20_000);
    assert_eq!(status["totals"]["rejected"], 0);
    assert_eq!(status["latency_ms"]["count"], 20_000, "every row's latency is recorded once");
    assert_eq!(status["pipeline"]["total_lag"], 0);
    let metrics = pipeline.metrics(http);
    assert_eq!(metric_sum(&metrics, "rtds_rows_written_total"), 20_000.0, "{metrics}");
    assert_eq!(metric_sum(&metrics, "rtds_records_read_total"), 20_000.0);
    assert_eq!(metric_sum(&metrics, "rtds_end_to_end_latency_seconds_count"), 20_000.0);
    assert_eq!(metric_sum(&metrics, "rtds_view_value{view=\"users_by_gender\",column=\"users\""), 20_000.0);
    assert_eq!(metric_sum(&metrics, "rtds_kafka_lag_records"), 0.0);
    assert!(metrics.contains("rtds_process_up{process=\"1\"} 1"), "{metrics}");

    let stderr = finish(master, "rtds master", Duration::from_secs(180));
    assert!(stderr.contains("every worker process finished"), "{}", tail(&stderr));
    pipeline.assert_cassandra_equals_postgres(20_000);
}

#[test]
#[ignore = "needs PostgreSQL, Kafka and Cassandra: run scripts/test"]
fn remote_workers_register_with_the_master_and_survive_a_crash() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("remote");
    pipeline.ingest(5_000, &[]);
    let token = unique("cluster-token-of-this-test");
    let mut command = rtds();
    command
        .args(["master", "-n", "2", "-w", "2", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .args(pipeline.pipeline_args_idle("6s"))
        .env(TOKEN_ENV, &token);
    let master = Running::spawn(command);
    let (http, listen) = (master.port_after(STATUS_PAGE_ON), master.port_after("rtds worker --master "));
    let waiting = wait_for(&pipeline, http, |s| s["cluster"]["state"] == "waiting");
    assert_eq!(waiting["cluster"]["registered"], 0);

    // A worker with another token is refused, and says why.
    let stranger = rtds().args(["worker", "--master", &format!("127.0.0.1:{listen}")]).env(TOKEN_ENV, "a token of another cluster").output().unwrap();
    let said = String::from_utf8_lossy(&stranger.stderr);
    assert!(!stranger.status.success() && said.contains("refused this worker: wrong cluster token"), "{said}");
    assert_eq!(wait_for(&pipeline, http, |_| true)["cluster"]["registered"], 0, "the stranger did not register");

    // Two worker machines' agents: the first has the token in its environment, the second in
    // a file and names the address it listens on for timely (a port of the kernel's choosing).
    let token_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token_file.path(), &token).unwrap();
    let agents: Vec<Running> = [None, Some("127.0.0.1:0")]
        .into_iter()
        .map(|port| {
            let mut command = rtds();
            command.args(["worker", "--master", &format!("127.0.0.1:{listen}")]).env_remove(TOKEN_ENV);
            match port {
                None => command.env(TOKEN_ENV, &token),
                Some(address) => command.args(["--advertise", address]).arg("--token-file").arg(token_file.path()),
            };
            Running::spawn(command)
        })
        .collect();
    let mut more = pipeline.ingest_in_background(30_000, 2_000);
    let status = wait_durable(&pipeline, http, 2_000);
    assert_eq!(status["cluster"]["state"], "running");
    let status = wait_for(&pipeline, http, |s| s["cluster"]["processes"][1]["pid"].is_u64());
    let victim = status["cluster"]["processes"][1]["pid"].as_u64().unwrap();
    assert!(more.ingesting(), "the kill comes mid-stream, while users still arrive");
    kill_pid(victim);
    more.finish(Duration::from_secs(120));
    let stderr = finish(master, "rtds master", Duration::from_secs(240));
    assert!(stderr.contains("registered (2 of 2)"), "{}", tail(&stderr));
    assert!(stderr.contains("refused a worker from 127.0.0.1"), "{}", tail(&stderr));
    assert!(stderr.contains("restarting the cluster from the last durable epoch"), "{}", tail(&stderr));
    for (index, agent) in agents.into_iter().enumerate() {
        let log = finish(agent, &format!("agent {index}"), Duration::from_secs(30));
        assert!(log.contains("the master says the cluster finished"), "{}", tail(&log));
    }
    pipeline.assert_cassandra_equals_postgres(35_000);
}

#[test]
#[ignore = "needs PostgreSQL, Kafka and Cassandra: run scripts/test"]
fn raw_timely_flags_run_the_same_cluster_without_a_master() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("rawflags");
    pipeline.ingest(15_000, &[]);
    let base = free_ports(2);
    let hostfile = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(hostfile.path(), format!("127.0.0.1:{base}\n127.0.0.1:{}\n", base + 1)).unwrap();
    let workers: Vec<Running> = (0..2)
        .map(|index| {
            let mut command = rtds();
            command.args(["worker", "-w", "2", "-n", "2", "-p", &index.to_string(), "-h"]).arg(hostfile.path()).args(pipeline.pipeline_args());
            // The processes prove this token to each other before timely runs over their connections.
            command.env(TOKEN_ENV, "a token the two processes of this test share");
            Running::spawn(command)
        })
        .collect();
    for (index, worker) in workers.into_iter().enumerate() {
        finish(worker, &format!("rtds worker -p {index}"), Duration::from_secs(180));
    }
    pipeline.assert_cassandra_equals_postgres(15_000);
}

#[test]
#[ignore = "needs PostgreSQL, Kafka and Cassandra: run scripts/test"]
fn a_worker_killed_mid_stream_loses_nothing() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("crash");
    pipeline.ingest(5_000, &[]);
    let (master, http) = pipeline.start_master_idle("15s");
    // The cluster is up (it made rows durable) before the stream starts, so that the 40,000
    // more users over 20 s are still arriving when the worker is killed, however slowly the
    // cluster came up; the kill comes once the stream's own records are becoming durable.
    wait_durable(&pipeline, http, 2_000);
    let mut more = pipeline.ingest_in_background(40_000, 2_000);
    let status = wait_durable(&pipeline, http, 7_000);
    let victim = status["cluster"]["processes"][1]["pid"].as_u64().expect("process 1 runs");
    assert!(more.ingesting(), "the kill comes mid-stream, while users still arrive");
    kill_pid(victim);
    more.finish(Duration::from_secs(120));
    let stderr = finish(master, "rtds master", Duration::from_secs(240));
    assert!(stderr.contains("restarting the cluster from the last durable epoch"), "{}", tail(&stderr));
    pipeline.assert_cassandra_equals_postgres(45_000);
}

#[test]
#[ignore = "needs PostgreSQL, Kafka and Cassandra: run scripts/test"]
fn kafka_restarting_mid_stream_loses_nothing() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("kafkarestart");
    pipeline.ingest(2_000, &[]);
    // Ingest backs off while Kafka is away (its waits add up to more than half a minute), so
    // no idle limit tells when it is done: the cluster runs until every record is durable.
    let (master, http) = pipeline.start_master_idle("1h");
    // Users keep arriving before, during and after Kafka's restart.
    let more = pipeline.ingest_in_background(20_000, 1_000);
    // Twice: a restarting KRaft broker briefly reports no brokers, which once left every
    // consumer without a broker to ask for minutes; each restart is a chance to hit that.
    for durable in [4_000, 8_000] {
        wait_durable(&pipeline, http, durable);
        stack(&["down", "kafka"]);
        std::thread::sleep(Duration::from_secs(2));
        stack(&["up", "kafka"]);
    }
    more.finish(Duration::from_secs(180));
    wait_durable(&pipeline, http, 22_000);
    let stderr = stop(master);
    assert!(!stderr.contains("restarting the cluster"), "the cluster rode the restart out:\n{}", tail(&stderr));
    pipeline.assert_cassandra_equals_postgres(22_000);
}

#[test]
#[ignore = "needs PostgreSQL, Kafka and Cassandra: run scripts/test"]
fn cassandra_away_for_a_while_holds_offsets_and_loses_nothing() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("cassandraaway");
    pipeline.ingest(2_000, &[]);
    let (master, http) = pipeline.start_master();
    // Users keep arriving while Cassandra is away: they cannot become durable until it is back.
    let more = pipeline.ingest_in_background(20_000, 1_000);
    wait_durable(&pipeline, http, 4_000);
    stack(&["down", "cassandra"]);
    std::thread::sleep(Duration::from_secs(3));
    stack(&["up", "cassandra"]);
    more.finish(Duration::from_secs(180));
    let stderr = finish(master, "rtds master", Duration::from_secs(300));
    assert!(stderr.contains("Cassandra write failed; retrying"), "the writes were retried:\n{}", tail(&stderr));
    assert!(!stderr.contains("restarting the cluster"), "the cluster rode the outage out:\n{}", tail(&stderr));
    pipeline.assert_cassandra_equals_postgres(22_000);
}

#[test]
#[ignore = "needs PostgreSQL, Kafka and Cassandra: run scripts/test"]
fn malformed_and_oversized_messages_go_to_the_dlq_and_the_rest_goes_on() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("badmessages");
    pipeline.ingest(3_000, &[]);
    let good: Value = serde_json::from_str(
        r#"{"id":"6f1d2c1e-8f43-4b7e-9d60-3a2b1c0d9e8f","first_name":"Ana","last_name":"Lima","gender":"female",
            "address":null,"post_code":null,"email":"not-an-address","username":null,"dob":"1990-01-01T00:00:00Z",
            "registered_date":null,"phone":null,"picture":null,"country":"Brazil"}"#,
    )
    .unwrap();
    // The row keyed by its id, as every row on the topic is (else it is dead-lettered for its
    // key), so it fails on its email; the others are dead-lettered whatever their key.
    let good_id = good["id"].as_str().unwrap();
    let bad: Vec<(Option<&str>, Vec<u8>, &str)> = vec![
        (None, b"{not json".to_vec(), "not a formatted row"),
        (None, br#"{"id": 5}"#.to_vec(), "not a formatted row"),
        (None, vec![b'x'; 100_000], "over the 65536-byte limit"),
        (Some(good_id), good.to_string().into_bytes(), "expectation valid_email failed"),
        // Keyed by another id, it could be on another partition than the id's other versions.
        (Some("00000000-0000-4000-8000-000000000001"), good.to_string().into_bytes(), "the message key is not the row's id"),
    ];
    pipeline.rt.block_on(async {
        let producer: FutureProducer = rtds::connectors::kafka::KafkaConfig::new(&pipeline.brokers).client_config().create().unwrap();
        for (key, payload, _) in &bad {
            let mut record: FutureRecord<'_, str, _> = FutureRecord::to(&pipeline.topic).payload(payload).partition(3);
            if let Some(key) = key {
                record = record.key(key);
            }
            producer.send(record, Duration::from_secs(10)).await.unwrap();
        }
    });
    pipeline.ingest(2_000, &[]);
    let (master, _) = pipeline.start_master();
    finish(master, "rtds master", Duration::from_secs(180));
    pipeline.assert_cassandra_equals_postgres(5_000);
    let dead = consume_all(&pipeline.brokers, &format!("{}.dlq", pipeline.topic), bad.len());
    assert_eq!(dead.len(), bad.len(), "each bad message is in the DLQ once");
    for (_, _, reason) in &bad {
        assert!(
            dead.iter().any(|m| m.header("rtds-reason").is_some_and(|r| r.contains(reason))),
            "a dead letter says {reason:?}: {:?}",
            dead.iter().map(|m| m.header("rtds-reason")).collect::<Vec<_>>()
        );
    }
    assert!(dead.iter().all(|m| m.header("rtds-source").is_some_and(|s| s.contains(&format!("{}/3@", pipeline.topic)))));
}

#[test]
#[ignore = "needs Kafka and Cassandra: run scripts/test"]
fn a_batch_cassandra_refuses_is_split_and_large_rows_still_land() {
    let _stack = stack_lock();
    let brokers = kafka();
    let rt = runtime();
    let (topic, keyspace) = (unique("bigrows"), unique("ks"));
    // 200 valid users whose picture is a URL of about 6 KB, so each row is 6,390 bytes as the
    // sink sizes batches: eight make a batch of 51,120 bytes, under the 51,200 the settings
    // allow, which Cassandra's own count (a few dozen bytes more a row) puts over its
    // batch_size_fail_threshold (50 KiB): it refuses the batch as invalid.
    let generator = rtds::api::generator::Generator::new();
    let request = rtds::api::generator::Request { seed: unique("big"), page: 1, results: 200, ..Default::default() };
    let users: Vec<(rtds::model::User, String)> = generator
        .page(&request)
        .iter()
        .map(|generated| {
            let mut json = Vec::new();
            rtds::api::generator::write_json(generated, &mut json);
            let mut user = rtds::model::User::from_json(std::str::from_utf8(&json).unwrap()).unwrap();
            user.picture = Some(Default::default());
            let padding = 6_390 - rtds::connectors::cassandra::row_size(&user) - "https://randomuser.me/api/portraits/.jpg".len();
            user.picture = Some(format!("https://randomuser.me/api/portraits/{}.jpg", "x".repeat(padding)).into());
            assert_eq!(rtds::connectors::cassandra::row_size(&user), 6_390);
            (user, String::new())
        })
        .collect();
    rt.block_on(async {
        rtds::connectors::kafka::ensure_topic(&rtds::connectors::kafka::KafkaConfig::new(&brokers), &topic, 4).await.unwrap();
        rtds::connectors::kafka::RowProducer::new(&rtds::connectors::kafka::KafkaConfig::new(&brokers), &topic).unwrap().send(&users, &[], "test").await.unwrap();
    });
    // The largest batches the settings allow (10 rows, 50 KiB), so the refusal happens.
    let dir = tempfile::tempdir().unwrap();
    let dataflow = dir.path().join("big.sql");
    std::fs::write(&dataflow, rtds::dataflow::USERS_SQL.replace("batch_bytes = 4000", "batch_bytes = 51200")).unwrap();
    let mut command = rtds();
    command
        .args(["worker", "-w", "2", "--kafka", &brokers, "--cassandra", &service("RTDS_CASSANDRA"), "--topic", &topic])
        .args(["--keyspace", &keyspace, "--idle-exit", "4s", "--dataflow"])
        .arg(&dataflow);
    let stderr = finish(Running::spawn(command), "rtds worker", Duration::from_secs(120));
    assert!(stderr.contains("Batch too large"), "Cassandra refused the big batches, and the sink split them:\n{}", tail(&stderr));

    let stored: BTreeMap<Uuid, usize> = rt.block_on(async {
        let session = cassandra().await;
        let result = session.query_unpaged(format!("select id, picture from {keyspace}.created_users"), &[]).await.unwrap();
        let rows = result.into_rows_result().unwrap();
        rows.rows::<(Uuid, Option<String>)>().unwrap().map(|r| r.unwrap()).map(|(id, p)| (id, p.map_or(0, |p| p.len()))).collect()
    });
    assert_eq!(stored.len(), users.len(), "every big row is in Cassandra");
    for (user, _) in &users {
        assert_eq!(stored.get(&user.id), Some(&user.picture.as_ref().unwrap().len()), "row {}", user.id);
    }
    let dead = consume_all(&brokers, &format!("{topic}.dlq"), 0);
    assert!(dead.is_empty(), "no row was refused alone: {:?}", dead.iter().map(|m| m.header("rtds-reason")).collect::<Vec<_>>());
}

#[test]
fn a_master_waiting_for_other_machines_needs_a_cluster_token() {
    let out = rtds().args(["master", "-n", "2", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"]).env_remove(TOKEN_ENV).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("set RTDS_CLUSTER_TOKEN or --token-file FILE"), "the error names the fix: {said}");
    let short = rtds().args(["master", "-n", "2", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"]).env(TOKEN_ENV, "short").output().unwrap();
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 16 characters"));
}
