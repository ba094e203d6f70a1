//! rtds against secured services: Kafka's SASL_SSL listener with a SCRAM-SHA-512 user, and
//! PostgreSQL's password login over verified TLS, with the CA `scripts/stack up` makes (it
//! exports `RTDS_TEST_*` for these tests). Secrets reach rtds through its environment only.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::cluster::harness::Pipeline;
use crate::process::{Running, finish};
use crate::util::{postgres, required_env, rtds, service, stack_lock, unique};

/// What `scripts/stack up` exports for the secured listeners.
struct Secured {
    kafka: String,
    user: String,
    password: String,
    ca: String,
    postgres_tls: String,
}

fn secured() -> Secured {
    let get = |name: &str| required_env(name, "the stack's secured listeners", "scripts/stack up");
    Secured {
        kafka: get("RTDS_TEST_KAFKA_SASL"),
        user: get("RTDS_TEST_KAFKA_USER"),
        password: get("RTDS_TEST_KAFKA_PASSWORD"),
        ca: get("RTDS_TEST_TLS_CA"),
        postgres_tls: get("RTDS_TEST_POSTGRES_TLS"),
    }
}

impl Secured {
    /// The Kafka flags of a SASL_SSL client; the password goes in the environment.
    fn kafka_flags(&self) -> Vec<String> {
        let properties = ["security.protocol=SASL_SSL", "sasl.mechanism=SCRAM-SHA-512", &format!("sasl.username={}", self.user), &format!("ssl.ca.location={}", self.ca)];
        let mut flags = vec!["--kafka".to_string(), self.kafka.clone()];
        for property in properties {
            flags.extend(["-X".to_string(), property.to_string()]);
        }
        flags
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
#[ignore = "needs PostgreSQL, Kafka (with its SASL_SSL listener) and Cassandra: run scripts/test"]
fn the_pipeline_runs_over_kafka_with_sasl_ssl_and_scram() {
    let _stack = stack_lock();
    let secure = secured();
    let pipeline = Pipeline::new("sasl");
    let ingest = rtds()
        .args(["ingest", "--api", &pipeline.api, "--postgres", &pipeline.database, "--users", "3000", "--seed", &pipeline.seed, "--json"])
        .output()
        .unwrap();
    assert!(ingest.status.success(), "{}", stderr(&ingest));

    // CDC into Kafka over SASL_SSL: the password from RTDS_KAFKA_SASL_PASSWORD.
    let cdc = |password: &str, extra: &[&str]| {
        rtds()
            .args(["cdc", "--postgres", &pipeline.database, "--topic", &pipeline.topic, "--idle-exit", "1s", "--json"])
            .args(secure.kafka_flags())
            .args(extra)
            .env("RTDS_KAFKA_SASL_PASSWORD", password)
            .output()
            .unwrap()
    };
    let streamed = cdc(&secure.password, &[]);
    assert!(streamed.status.success(), "{}", stderr(&streamed));
    let summary: Value = serde_json::from_slice(&streamed.stdout).unwrap();
    assert_eq!(summary["snapshot_rows"].as_u64().unwrap() + summary["upserts"].as_u64().unwrap(), 3000, "{summary}");

    // The master and its workers read it over SASL_SSL too.
    let mut command = rtds();
    command
        .args(["master", "--local", "-n", "2", "-w", "1", "--http", "127.0.0.1:0"])
        .args(secure.kafka_flags())
        .args(["--cassandra", &service("RTDS_CASSANDRA"), "--topic", &pipeline.topic, "--keyspace", &pipeline.keyspace, "--idle-exit", "4s"])
        .env("RTDS_KAFKA_SASL_PASSWORD", &secure.password);
    finish(Running::spawn(command), "rtds master over SASL_SSL", Duration::from_secs(180));
    pipeline.assert_cassandra_equals_postgres(3000);

    // The same user with SASL PLAIN (Confluent Cloud's and Event Hubs' mechanism), over TLS too.
    let plain = cdc(&secure.password, &["-X", "sasl.mechanism=PLAIN"]);
    assert!(plain.status.success(), "{}", stderr(&plain));

    // A wrong password is refused by Kafka, and no message shows it.
    let wrong = "not-the-password-8d1f";
    let refused = cdc(wrong, &[]);
    let said = stderr(&refused);
    assert!(!refused.status.success(), "a wrong password must not stream: {said}");
    assert!(said.to_lowercase().contains("authentication"), "the error says authentication failed: {said}");
    assert!(!said.contains(wrong), "no message shows the password: {said}");

    // A password on the command line is refused before anything connects.
    let on_command_line = cdc(&secure.password, &["-X", &format!("sasl.password={}", secure.password)]);
    let said = stderr(&on_command_line);
    assert!(!on_command_line.status.success() && said.contains("set it in the environment as RTDS_KAFKA_SASL_PASSWORD"), "{said}");
}

#[test]
#[ignore = "needs PostgreSQL (with TLS and a password user) and Kafka: run scripts/test"]
fn ingest_and_cdc_log_in_to_postgres_with_a_password_over_verified_tls() {
    let _stack = stack_lock();
    let secure = secured();
    let rt = crate::util::runtime();
    // A database the password user owns, so CDC may publish its table.
    let database = unique("tls");
    rt.block_on(async { postgres().await.batch_execute(&format!("create database {database} owner rtds_secure")).await.unwrap() });
    let (base, query) = secure.postgres_tls.split_once('?').expect("the TLS URL has its sslmode");
    let cut = base.rfind('/').expect("a URL ends with /DATABASE");
    let url = |query: &str| format!("{}/{database}?{query}", &base[..cut]);
    let password = base[..cut].rsplit_once('@').and_then(|(credentials, _)| credentials.rsplit_once(':')).map(|(_, p)| p.to_string()).unwrap();

    let pipeline = Pipeline::new("pgtls");
    let ingest = |postgres: &str| {
        rtds().args(["ingest", "--api", &pipeline.api, "--users", "2000", "--seed", &pipeline.seed, "--json"]).env("RTDS_POSTGRES", postgres).output().unwrap()
    };
    let stored = ingest(&url(query));
    assert!(stored.status.success(), "{}", stderr(&stored));
    assert_eq!(serde_json::from_slice::<Value>(&stored.stdout).unwrap()["stored"], 2000);
    // The replication connection goes over TLS with the same settings.
    let cdc = rtds()
        .args(["cdc", "--kafka", &pipeline.brokers, "--topic", &pipeline.topic, "--idle-exit", "1s", "--json"])
        .env("RTDS_POSTGRES", url(query))
        .output()
        .unwrap();
    assert!(cdc.status.success(), "{}", stderr(&cdc));
    let summary: Value = serde_json::from_slice(&cdc.stdout).unwrap();
    assert_eq!(summary["snapshot_rows"].as_u64().unwrap() + summary["upserts"].as_u64().unwrap(), 2000, "{summary}");

    // The server refuses this user without TLS; the error names the server, not the password.
    let plain = ingest(&url("sslmode=disable"));
    let said = stderr(&plain);
    assert!(!plain.status.success(), "{said}");
    assert!(said.contains(&format!("rtds_secure@127.0.0.1:5432/{database}")) && !said.contains(&password), "{said}");
    // verify-full with CAs that did not sign the server's certificate fails.
    let untrusted = ingest(&url("sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt"));
    let said = stderr(&untrusted);
    assert!(!untrusted.status.success() && said.contains("certificate"), "{said}");
}
