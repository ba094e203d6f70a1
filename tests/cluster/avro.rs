//! The pipeline on registered schemas (issue 26): `rtds cdc --format avro` registers
//! `created_users`' value schema and writes the Confluent wire format, a compatible change of
//! the table (a column added) registers a new version mid-stream, a cluster reads old and new
//! messages by their writer schemas into Cassandra, Confluent's own Python client reads the
//! topic back as PostgreSQL holds it, and an incompatible change (a column retyped) stops the
//! stage before a message of the new shape is written.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::harness::{Pipeline, STATUS_PAGE_ON, finish, wait_durable};
use crate::process::Running;
use crate::util::{cdc_args, consume_all, root, rtds, stack_lock};

/// The registry's Confluent API, or the way to start it.
fn registry() -> String {
    crate::util::required_env("RTDS_SCHEMA_REGISTRY", "the Schema Registry", "scripts/stack up")
}

/// `rtds cdc --format avro` until caught up: its exit status and stderr.
fn cdc_avro(pipeline: &Pipeline) -> (bool, String) {
    let out = rtds()
        .args(cdc_args(&pipeline.database, &pipeline.brokers, &pipeline.topic))
        .args(["--format", "avro", "--schema-registry", &registry(), "--partitions", "4", "--idle-exit", "1s", "--json"])
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Runs SQL in the pipeline's database.
fn sql(pipeline: &Pipeline, statements: &str) {
    pipeline.rt.block_on(async {
        let client = rtds::connectors::postgres::connect(&pipeline.database).await.unwrap();
        client.batch_execute(statements).await.unwrap();
    });
}

/// Every message of the topic as Confluent's Python client reads it: (key, schema id, value,
/// or the client's error).
fn python_read(pipeline: &Pipeline) -> Vec<(String, Option<u64>, Result<Value, String>)> {
    let out = std::process::Command::new(root().join("tests/data/avro-reader.sh"))
        .args([&pipeline.brokers, &registry(), &pipeline.topic])
        .output()
        .unwrap();
    assert!(out.status.success(), "the Python reader failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            let read = match v["error"].as_str() {
                Some(error) => Err(error.to_string()),
                None => Ok(v["value"].clone()),
            };
            (v["key"].as_str().unwrap().to_string(), v["schema_id"].as_u64(), read)
        })
        .collect()
}

/// Produces one message to the pipeline's topic.
fn produce(pipeline: &Pipeline, key: &str, value: &[u8]) {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer = rtds::connectors::kafka::KafkaConfig::new(&pipeline.brokers).client_config().create().unwrap();
    producer.send(BaseRecord::to(&pipeline.topic).key(key).payload(value)).map_err(|(e, _)| e).unwrap();
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// The subject's versions, as the registry lists them.
fn versions(pipeline: &Pipeline) -> Vec<u64> {
    let url = format!("{}/subjects/{}-value/versions", registry(), pipeline.topic);
    let text = pipeline.rt.block_on(async { reqwest::get(&url).await.unwrap().error_for_status().unwrap().text().await.unwrap() });
    serde_json::from_str(&text).unwrap()
}

#[test]
#[ignore = "needs PostgreSQL, Kafka, Cassandra and the Schema Registry: run scripts/test"]
fn the_pipeline_runs_on_registered_avro_schemas_through_a_schema_change() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("avro");
    finish(pipeline.ingest_only_in_background(300, 100_000), "rtds ingest", Duration::from_secs(120));

    // The snapshot, then updates and deletes streamed: all under version 1.
    let (ok, stderr) = cdc_avro(&pipeline);
    assert!(ok, "rtds cdc --format avro failed:\n{stderr}");
    sql(
        &pipeline,
        "update created_users set email = 'moved+' || email where id in (select id from created_users order by id limit 20);
         delete from created_users where id in (select id from created_users order by id desc limit 10);",
    );
    let (ok, stderr) = cdc_avro(&pipeline);
    assert!(ok, "rtds cdc --format avro failed:\n{stderr}");
    assert_eq!(versions(&pipeline), [1]);
    // A message whose schema id the registry never gave: a dead letter, not a stall.
    let stray = uuid::Uuid::from_u128(0xbad).to_string();
    produce(&pipeline, &stray, &[0, 0x00, 0x0f, 0x42, 0x3f, 0x02]);

    // A cluster reads version 1, then, while it runs, the table gains a column with a default:
    // a new Relation message mid-stream, version 2 registered before the first change that
    // carries it, and the cluster reads both by their writer schemas.
    let mut command = rtds();
    command
        .args(["master", "--local", "-n", "2", "-w", "2", "--http", "127.0.0.1:0", "--schema-registry", &registry()])
        .args(pipeline.pipeline_args_idle("20s"));
    let master = Running::spawn(command);
    let http = master.port_after(STATUS_PAGE_ON);
    // The snapshot's 300 rows, 20 updates, 10 tombstones and the stray message.
    wait_durable(&pipeline, http, 331);
    sql(
        &pipeline,
        "alter table created_users add column nickname text default 'none';
         update created_users set country = 'Atlantis', nickname = 'new' where id in (select id from created_users order by id limit 5);",
    );
    let (ok, stderr) = cdc_avro(&pipeline);
    assert!(ok, "rtds cdc --format avro failed:\n{stderr}");
    assert_eq!(versions(&pipeline), [1, 2]);
    let status = wait_durable(&pipeline, http, 336);
    let per_schema = &status["totals"]["schemas"];
    assert_eq!(per_schema.as_object().map(|ids| ids.len()), Some(2), "records per schema id on /status: {per_schema}");
    finish(master, "rtds master over Avro", Duration::from_secs(180));
    pipeline.assert_cassandra_equals_postgres(290);
    let dead = consume_all(&pipeline.brokers, &format!("{}.dlq", pipeline.topic), 1);
    assert_eq!(dead.len(), 1, "only the stray message is a dead letter");
    let reason = dead[0].header("rtds-reason").unwrap_or_default();
    assert!(reason.contains("schema id 999999 is unknown"), "{reason}");
    assert_eq!(dead[0].payload, "hex:00000f423f02", "the dead letter keeps its bytes");

    // Confluent's Python client reads the same rows: the last message of each id is its row.
    let messages = python_read(&pipeline);
    let mut last: BTreeMap<String, Value> = BTreeMap::new();
    let mut ids = std::collections::BTreeSet::new();
    for (key, id, read) in messages {
        match read {
            Ok(value) => {
                ids.extend(id);
                last.insert(key, value);
            }
            Err(error) => assert!(key == stray && error.contains("999999"), "only the stray message is unreadable: {key}: {error}"),
        }
    }
    assert_eq!(ids.len(), 2, "two schema ids in use: {ids:?}");
    last.retain(|_, value| !value.is_null());
    let expected: BTreeMap<String, Value> = pipeline.rt.block_on(async {
        let client = rtds::connectors::postgres::connect(&pipeline.database).await.unwrap();
        let rows = client
            .query(
                "select id::text, email, country, nickname, floor(extract(epoch from dob) * 1000000)::bigint from created_users",
                &[],
            )
            .await
            .unwrap();
        rows.iter()
            .map(|r| {
                let id: String = r.get(0);
                // The rows changed since the column was added carry it; the others' last
                // message is of version 1, which a reader of version 2 reads with the new
                // field's default, null (CDC re-sends no row for an ALTER TABLE, as Debezium).
                let nickname = r.get::<_, Option<String>>(3).filter(|n| n == "new");
                let value = serde_json::json!({
                    "id": id,
                    "email": r.get::<_, Option<String>>(1),
                    "country": r.get::<_, Option<String>>(2),
                    "nickname": nickname,
                    "dob": r.get::<_, Option<i64>>(4),
                });
                (id, value)
            })
            .collect()
    });
    let read: BTreeMap<String, Value> = last
        .into_iter()
        .map(|(key, v)| {
            let value = serde_json::json!({
                "id": v["id"], "email": v["email"], "country": v["country"], "nickname": v["nickname"], "dob": v["dob"],
            });
            (key, value)
        })
        .collect();
    assert_eq!(read.len(), 290);
    assert_eq!(read.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "the Python client reads PostgreSQL's ids");
    for (id, row) in &expected {
        assert_eq!(&read[id], row, "the Python client reads PostgreSQL's row {id}");
    }
    assert_eq!(read.values().filter(|v| v["nickname"] == "new").count(), 5, "the rows changed after the column was added carry it");

    // A column retyped: BACKWARD refuses it, the stage stops naming the column and the rule,
    // and not one message of the new shape is written, however often it is started.
    let before = python_read(&pipeline).len();
    sql(
        &pipeline,
        "alter table created_users alter column phone type bigint using length(phone);
         update created_users set country = 'Lemuria' where id in (select id from created_users order by id limit 1);",
    );
    for _ in 0..2 {
        let (ok, stderr) = cdc_avro(&pipeline);
        assert!(!ok, "an incompatible change must stop the stage");
        assert!(stderr.contains("column phone retyped") && stderr.contains("BACKWARD"), "{stderr}");
    }
    assert_eq!(python_read(&pipeline).len(), before, "nothing of the new shape reached Kafka");
    assert_eq!(versions(&pipeline), [1, 2]);
}
