//! Each real service, written to and read back through the Rust client rtds uses.
//!
//! These tests are `#[ignore]`d so that plain `cargo test` runs without services and lists
//! them as ignored with the reason; `scripts/test` runs them with `--include-ignored`.

use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

use crate::util::{cassandra, kafka, postgres, runtime, unique};

#[test]
#[ignore = "needs PostgreSQL: run scripts/test"]
fn postgres_writes_and_reads_back() {
    runtime().block_on(async {
        let client = postgres().await;
        let table = unique("roundtrip");
        client.batch_execute(&format!("create temporary table {table} (id uuid primary key, doc jsonb not null)")).await.unwrap();
        let insert = client.prepare(&format!("insert into {table} (id, doc) values ($1::text::uuid, $2::text::jsonb)")).await.unwrap();
        let id = "9a723211-0e87-41f1-b1e4-ed1a15226b80";
        client.execute(&insert, &[&id, &r#"{"first":"Leon"}"#]).await.unwrap();
        let select = client.prepare(&format!("select id::text, doc->>'first' from {table}")).await.unwrap();
        let row = client.query_one(&select, &[]).await.unwrap();
        assert_eq!(row.get::<_, String>(0), id);
        assert_eq!(row.get::<_, String>(1), "Leon");
    });
}

#[test]
#[ignore = "needs Kafka: run scripts/test"]
fn kafka_writes_and_reads_back() {
    let brokers = kafka();
    let topic = unique("roundtrip");
    runtime().block_on(async {
        let partitions = rtds::connectors::kafka::ensure_topic(&rtds::connectors::kafka::KafkaConfig::new(&brokers), &topic, 3).await.unwrap();
        assert_eq!(partitions, 3);
        assert_eq!(rtds::connectors::kafka::ensure_topic(&rtds::connectors::kafka::KafkaConfig::new(&brokers), &topic, 3).await.unwrap(), 3, "a second ensure is harmless");
        let producer: FutureProducer = rtds::connectors::kafka::KafkaConfig::new(&brokers).client_config().create().unwrap();
        for i in 0..30 {
            let key = format!("user-{i}");
            let payload = format!("{{\"n\":{i}}}");
            producer.send(FutureRecord::to(&topic).key(&key).payload(&payload), Duration::from_secs(10)).await.unwrap();
        }
    });
    let consumer: BaseConsumer =
        rtds::connectors::kafka::KafkaConfig::new(&brokers).client_config().set("group.id", "rtds-test").set("enable.auto.commit", "false").create().unwrap();
    let mut assignment = TopicPartitionList::new();
    for p in 0..3 {
        assignment.add_partition_offset(&topic, p, Offset::Beginning).unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < 30 && std::time::Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let message = message.unwrap();
            let key = String::from_utf8(message.key().unwrap().to_vec()).unwrap();
            let payload: serde_json::Value = serde_json::from_slice(message.payload().unwrap()).unwrap();
            assert_eq!(key, format!("user-{}", payload["n"]));
            seen.insert(key);
        }
    }
    assert_eq!(seen.len(), 30, "every message came back");
}

#[test]
#[ignore = "needs Cassandra: run scripts/test"]
fn cassandra_writes_and_reads_back() {
    runtime().block_on(async {
        let session = cassandra().await;
        let keyspace = unique("rtds_test");
        session
            .query_unpaged(
                format!("create keyspace if not exists {keyspace} with replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"),
                &[],
            )
            .await
            .unwrap();
        session.query_unpaged(format!("create table {keyspace}.users (id uuid primary key, first_name text)"), &[]).await.unwrap();
        let insert = session.prepare(format!("insert into {keyspace}.users (id, first_name) values (?, ?)")).await.unwrap();
        let id = uuid::Uuid::parse_str("9a723211-0e87-41f1-b1e4-ed1a15226b80").unwrap();
        session.execute_unpaged(&insert, (id, "Leon")).await.unwrap();
        session.execute_unpaged(&insert, (id, "Leon")).await.unwrap(); // upserts are idempotent
        let select = session.prepare(format!("select id, first_name from {keyspace}.users")).await.unwrap();
        let rows: Vec<(uuid::Uuid, String)> =
            session.execute_unpaged(&select, ()).await.unwrap().into_rows_result().unwrap().rows().unwrap().map(Result::unwrap).collect();
        assert_eq!(rows, vec![(id, "Leon".to_string())]);
        session.query_unpaged(format!("drop keyspace {keyspace}"), &[]).await.unwrap();
    });
}

#[test]
#[ignore = "needs Cassandra: run scripts/test"]
fn the_sink_counts_the_warnings_cassandra_returns_per_kind() {
    use rtds::connectors::cassandra::CassandraTables;
    use rtds::model::User;
    use rtds::sql::Datum;
    runtime().block_on(async {
        let session = std::sync::Arc::new(cassandra().await);
        let keyspace = unique("rtds_test");
        let program = rtds::dataflow::Dataflow::users().program;
        let sink = CassandraTables::prepare(session.clone(), &keyspace, "created_users", &program, &Default::default()).await.unwrap();
        let users: Vec<User> = (1..=20u128)
            .map(|n| serde_json::from_value(serde_json::json!({ "id": uuid::Uuid::from_u128(n), "first_name": "Ada" })).unwrap())
            .collect();
        // What the sinks send: batches of at most 10 rows, one statement per view key.
        sink.write_users(users[..10].iter().map(|u| (u, None, 1))).await.unwrap();
        for n in 0..30 {
            let country = Datum::text(&format!("country {n}"));
            sink.write_view(0, &smallvec::smallvec![country, Datum::Int(n)], 1).await.unwrap();
        }
        assert!(sink.warnings().totals().is_empty(), "no warning yet: {:?}", sink.warnings().totals());
        // One batch over 20 partitions, above Cassandra's threshold of 10: it warns.
        sink.write_users(users.iter().map(|u| (u, None, 2))).await.unwrap();
        let totals = sink.warnings().totals();
        assert_eq!(totals.get("unlogged_batch_across_partitions"), Some(&1), "{totals:?}");
        // Cassandra may also find the batch over its size threshold: a second kind, counted apart.
        assert!(totals.keys().all(|k| k == "unlogged_batch_across_partitions" || k == "batch_size"), "{totals:?}");
        session.query_unpaged(format!("drop keyspace {keyspace}"), &[]).await.unwrap();
    });
}
