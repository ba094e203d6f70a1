//! `rtds ingest` against the real PostgreSQL, fed by the API clone, and `rtds cdc` streaming
//! what it stored into the real Kafka.

use std::collections::HashSet;

use serde_json::Value;

use rtds::api::Faults;
use rtds::api::generator::{Generator, Request};
use rtds::api::server::spawn_local;

use crate::util::{consume_all, fresh_database, kafka, rtds, run_ingest as ingest, runtime, stack_lock, unique};

async fn count(database: &str, table: &str) -> i64 {
    let client = rtds::connectors::postgres::connect(database).await.unwrap();
    client.query_one(&format!("select count(*) from {table}"), &[]).await.unwrap().get(0)
}

async fn ids(database: &str, table: &str) -> HashSet<String> {
    let client = rtds::connectors::postgres::connect(database).await.unwrap();
    client.query(&format!("select id::text from {table}"), &[]).await.unwrap().iter().map(|r| r.get(0)).collect()
}

#[test]
#[ignore = "needs PostgreSQL and Kafka: run scripts/test"]
fn ingest_and_cdc_put_every_user_once_in_postgres_and_kafka() {
    let _stack = stack_lock();
    let brokers = kafka();
    let rt = runtime();
    let (api, _) = rt.block_on(spawn_local(Faults::default())).unwrap();
    let database = rt.block_on(fresh_database("ingest"));
    let topic = unique("users_created");
    let n = 12_000;

    let summary = ingest(&api, &database, &brokers, &topic, &["--users", "12000", "--seed", "ingest-test", "--batch", "5000", "--partitions", "4"]);
    assert_eq!(summary["fetched"], n);
    assert_eq!(summary["stored"], n);
    assert_eq!(summary["rejected"], 0);
    assert_eq!(rt.block_on(count(&database, "created_users")), n);
    assert_eq!(rt.block_on(count(&database, "raw_users")), n);

    // The users are exactly the clone's users of that seed: pages 1-3 (5000, 5000, 2000).
    let generator = Generator::new();
    let expected: HashSet<String> = [(1, 5000), (2, 5000), (3, 2000)]
        .into_iter()
        .flat_map(|(page, results)| {
            let request = Request { seed: "ingest-test".into(), page, results, ..Request::default() };
            generator.page(&request).into_iter().map(|u| u.login.unwrap().uuid)
        })
        .collect();
    assert_eq!(rt.block_on(ids(&database, "created_users")), expected);

    let messages = consume_all(&brokers, &topic, n as usize);
    assert_eq!(messages.len(), n as usize, "exactly one message per user");
    let keys: HashSet<String> = messages.iter().map(|m| m.key.clone().unwrap()).collect();
    assert_eq!(keys, expected, "messages are keyed by the stable id");
    for message in messages.iter().take(100) {
        let row: Value = serde_json::from_str(&message.payload).unwrap();
        assert_eq!(row["id"].as_str(), message.key.as_deref());
        assert_eq!(message.header("rtds-schema"), Some("user/1"));
        assert!(message.header("rtds-lsn").is_some_and(|lsn| lsn.parse::<u64>().is_ok()), "the commit's LSN is in a header");
    }
    // The raw table keeps the API's record untouched.
    let client = rt.block_on(rtds::connectors::postgres::connect(&database)).unwrap();
    let row = rt.block_on(client.query_one("select raw, pg_typeof(raw)::text from raw_users limit 1", &[])).unwrap();
    let raw: Value = row.get(0);
    assert!(raw["login"]["sha256"].is_string() && raw["location"]["coordinates"].is_object());
    assert_eq!(row.get::<_, String>(1), "json", "kept as the text the API sent, not parsed into jsonb");

    // The same run again adds no PostgreSQL rows.
    let again = ingest(&api, &database, &brokers, &topic, &["--users", "12000", "--seed", "ingest-test", "--batch", "5000", "--partitions", "4"]);
    assert_eq!(again["fetched"], n);
    assert_eq!(again["stored"], 0);
    assert_eq!(rt.block_on(count(&database, "created_users")), n);
    assert_eq!(rt.block_on(count(&database, "raw_users")), n);
    // Nothing changed, so nothing more reached Kafka.
    assert_eq!(consume_all(&brokers, &topic, n as usize).len(), n as usize, "an unchanged page makes no change to stream");
}

#[test]
#[ignore = "needs PostgreSQL and Kafka: run scripts/test"]
fn ingest_keeps_storing_into_a_raw_users_table_made_with_jsonb() {
    let _stack = stack_lock();
    let brokers = kafka();
    let rt = runtime();
    let (api, _) = rt.block_on(spawn_local(Faults::default())).unwrap();
    let database = rt.block_on(fresh_database("ingest_jsonb"));
    let topic = unique("users_created");
    // raw_users as rtds made it before the column became json.
    let client = rt.block_on(rtds::connectors::postgres::connect(&database)).unwrap();
    rt.block_on(client.batch_execute(
        "create table raw_users (id uuid primary key, raw jsonb not null, api_version text, \
         ingested_at timestamptz not null default now())",
    ))
    .unwrap();

    let args = ["--users", "1500", "--seed", "jsonb-table", "--batch", "500"];
    assert_eq!(ingest(&api, &database, &brokers, &topic, &args)["stored"], 1500, "straight COPY into jsonb");
    // Again, with a page more: every page now conflicts and goes through the staging tables.
    let more = ["--users", "2000", "--seed", "jsonb-table", "--batch", "500"];
    assert_eq!(ingest(&api, &database, &brokers, &topic, &more)["stored"], 500, "through the staging tables into jsonb");
    assert_eq!(rt.block_on(count(&database, "raw_users")), 2000);
    let kind: String = rt.block_on(client.query_one("select pg_typeof(raw)::text from raw_users limit 1", &[])).unwrap().get(0);
    assert_eq!(kind, "jsonb", "an existing table keeps its column");
}

#[test]
#[ignore = "needs PostgreSQL and Kafka: run scripts/test"]
fn ingest_survives_server_errors_and_routes_bad_records() {
    let _stack = stack_lock();
    let brokers = kafka();
    let rt = runtime();
    let faults = Faults { error_rate: 0.3, malformed_rate: 0.05, ..Faults::default() };
    let (api, stats) = rt.block_on(spawn_local(faults)).unwrap();
    let database = rt.block_on(fresh_database("ingest_faults"));
    let topic = unique("users_created");

    let summary = ingest(&api, &database, &brokers, &topic, &["--users", "6000", "--seed", "faults", "--batch", "500", "--attempts", "25"]);
    let malformed = stats.malformed_records.load(std::sync::atomic::Ordering::Relaxed);
    assert!(stats.injected_errors.load(std::sync::atomic::Ordering::Relaxed) > 0, "the clone did fail some requests");
    assert!(malformed > 0);
    assert_eq!(summary["api_errors"], 0, "every failed request succeeded on a retry");
    assert_eq!(summary["fetched"], 6000);
    assert_eq!(summary["rejected"], malformed);
    assert_eq!(summary["stored"].as_u64().unwrap() + malformed, 6000);

    // Every bad record is in the rejected table with its reason (and not in Kafka).
    let client = rt.block_on(rtds::connectors::postgres::connect(&database)).unwrap();
    let rejected = rt.block_on(client.query("select raw, reason, source from rejected_users", &[])).unwrap();
    assert_eq!(rejected.len() as u64, malformed);
    let mut bad_ids = HashSet::new();
    for row in &rejected {
        let reason: String = row.get(1);
        assert!(reason.contains("name: invalid type"), "{reason}");
        assert_eq!(row.get::<_, String>(2), api);
        let raw: Value = serde_json::from_str(&row.get::<_, String>(0)).unwrap();
        bad_ids.insert(raw["login"]["uuid"].as_str().unwrap().to_string());
    }

    // Every good user is stored once: the seed's users minus the bad ones.
    let generator = Generator::new();
    let all: HashSet<String> = (1..=12)
        .flat_map(|page| {
            let request = Request { seed: "faults".into(), page, results: 500, ..Request::default() };
            generator.page(&request).into_iter().map(|u| u.login.unwrap().uuid)
        })
        .collect();
    let good: HashSet<String> = all.difference(&bad_ids).cloned().collect();
    assert_eq!(rt.block_on(ids(&database, "created_users")), good);
    let produced: Vec<String> = consume_all(&brokers, &topic, good.len()).into_iter().map(|m| m.key.unwrap()).collect();
    assert_eq!(produced.iter().cloned().collect::<HashSet<_>>(), good);
}

#[test]
fn ingest_names_the_service_it_cannot_reach() {
    let rt = runtime();
    let (api, _) = rt.block_on(spawn_local(Faults::default())).unwrap();
    let out = rtds()
        .args(["ingest", "--api", &api, "--users", "10", "--postgres", "postgres://postgres@127.0.0.1:1/rtds"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PostgreSQL is not reachable at postgres://postgres@127.0.0.1:1/rtds"), "{stderr}");
    assert!(stderr.contains("scripts/stack up"), "{stderr}");
}

#[test]
#[ignore = "needs PostgreSQL and Kafka: run scripts/test"]
fn ingest_serves_its_metrics_while_it_runs() {
    let _stack = stack_lock();
    let rt = runtime();
    let (api, _) = rt.block_on(spawn_local(Faults::default())).unwrap();
    let database = rt.block_on(fresh_database("ingestmetrics"));
    let mut command = rtds();
    command
        .args(["ingest", "--api", &api, "--postgres", &database])
        .args(["--users", "4000", "--rate", "1000", "--batch", "200", "--json", "--metrics-addr", "127.0.0.1:0"]);
    let mut ingest = crate::process::Running::spawn_keeping_stdout(command);
    // It listens on a port of its own choosing, and says which.
    let port = ingest.port_after("metrics on http://");
    // Scrape while it runs: the stored count rises and never passes the total.
    let url = format!("http://127.0.0.1:{port}/metrics");
    let mut seen = Vec::new();
    while ingest.child.try_wait().unwrap().is_none() {
        if let Ok(text) = rt.block_on(async { reqwest::get(&url).await?.text().await }) {
            let stored = text
                .lines()
                .find_map(|l| l.strip_prefix("rtds_ingest_rows_stored_total "))
                .map(|v| v.parse::<f64>().unwrap())
                .expect("the stored counter is there");
            assert!(text.contains("# TYPE rtds_ingest_rejected_total counter"), "{text}");
            seen.push(stored);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(ingest.child.wait().unwrap().success(), "{}", ingest.stderr());
    let summary: Value = serde_json::from_str(&ingest.stdout()).unwrap();
    assert_eq!(summary["stored"], 4000);
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "counters only rise: {seen:?}");
    assert!(seen.iter().any(|s| *s > 0.0 && *s < 4000.0), "a scrape mid-run saw partial progress: {seen:?}");
}
