//! The multi-node tier: rtds against a secured, replicated cluster that `scripts/cluster up`
//! starts (README's test command runs it after the single-node tests) and describes in
//! `RTDS_CLUSTER_*`: three Kafka brokers reached over SASL_SSL with a SCRAM user (topics of
//! factor 3, `min.insync.replicas=2`), three Cassandra nodes with `PasswordAuthenticator` and
//! TLS (the keyspace of factor 3, written and read at QUORUM), on a bridge (10.77.0.0/24), and
//! worker machines in network namespaces of their own (`scripts/cluster host add`).
//! PostgreSQL is the stack's, on loopback.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use rtds::connectors::cassandra::CassandraConfig;
use rtds::engine::control::TOKEN_ENV;

use crate::cluster::harness::{Pipeline, STATUS_PAGE_ON, stop, wait_durable, wait_for};
use crate::process::{Running, finish, tail};
use crate::util::{required_env, root, rtds, stack_lock, unique};

/// The secured cluster, as `scripts/cluster up` exports it.
struct Cluster {
    kafka: String,
    kafka_user: String,
    kafka_password: String,
    cassandra: String,
    cassandra_user: String,
    cassandra_password: String,
    ca: String,
}

fn cluster() -> Cluster {
    let get = |name: &str| required_env(name, "the multi-node cluster", "scripts/cluster up");
    Cluster {
        kafka: get("RTDS_CLUSTER_KAFKA"),
        kafka_user: get("RTDS_CLUSTER_KAFKA_USER"),
        kafka_password: get("RTDS_CLUSTER_KAFKA_PASSWORD"),
        cassandra: get("RTDS_CLUSTER_CASSANDRA"),
        cassandra_user: get("RTDS_CLUSTER_CASSANDRA_USER"),
        cassandra_password: get("RTDS_CLUSTER_CASSANDRA_PASSWORD"),
        ca: get("RTDS_CLUSTER_TLS_CA"),
    }
}

impl Cluster {
    /// Kafka over SASL_SSL, the password from the environment (see [`Cluster::secrets`]).
    fn kafka_flags(&self) -> Vec<String> {
        let mut flags = vec!["--kafka".to_string(), self.kafka.clone()];
        for property in
            ["security.protocol=SASL_SSL".to_string(), "sasl.mechanism=SCRAM-SHA-512".to_string(), format!("sasl.username={}", self.kafka_user), format!("ssl.ca.location={}", self.ca)]
        {
            flags.extend(["-X".to_string(), property]);
        }
        flags
    }

    /// Cassandra with a login and TLS.
    fn cassandra_flags(&self) -> Vec<String> {
        ["--cassandra", &self.cassandra, "--cassandra-username", &self.cassandra_user, "--cassandra-ca", &self.ca].iter().map(|s| s.to_string()).collect()
    }

    /// The passwords, as every rtds process takes them: from its environment.
    fn secrets<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        command.env("RTDS_KAFKA_SASL_PASSWORD", &self.kafka_password).env("RTDS_CASSANDRA_PASSWORD", &self.cassandra_password)
    }

    fn cassandra_config(&self) -> CassandraConfig {
        CassandraConfig::new(&self.cassandra).with_credentials(&self.cassandra_user, &self.cassandra_password).with_ca(&self.ca)
    }

    /// The cluster pipeline, replicated three times and written at QUORUM.
    fn dataflow(&self) -> tempfile::NamedTempFile {
        let text = rtds::dataflow::USERS_SQL
            .replace("    connector = 'cassandra',\n", "    connector = 'cassandra',\n    replication_factor = 3, datacenter = 'datacenter1', consistency = 'quorum',\n");
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    /// `rtds cdc` into the cluster's Kafka, in the background, until stopped: how long the
    /// pipeline takes on a cluster just started (a new keyspace refuses QUORUM writes for a
    /// while) is not the stage's to guess, so it never idles out.
    fn cdc(&self, pipeline: &Pipeline) -> Running {
        let mut command = rtds();
        command.args(["cdc", "--postgres", &pipeline.database, "--topic", &pipeline.topic, "--json"]).args(self.kafka_flags());
        self.secrets(&mut command);
        Running::spawn_keeping_stdout(command)
    }

    /// The pipeline flags of a master on the cluster.
    fn pipeline_flags(&self, pipeline: &Pipeline, dataflow: &tempfile::NamedTempFile, idle: &str) -> Vec<String> {
        let mut flags = self.kafka_flags();
        flags.extend(self.cassandra_flags());
        flags.extend(["--dataflow".to_string(), dataflow.path().display().to_string()]);
        flags.extend(["--topic", &pipeline.topic, "--keyspace", &pipeline.keyspace, "--idle-exit", idle].iter().map(|s| s.to_string()));
        flags
    }
}

/// `scripts/cluster ARGS`, which must succeed.
fn script(args: &[&str]) {
    let out = Command::new(root().join("scripts/cluster")).args(args).output().unwrap();
    assert!(out.status.success(), "scripts/cluster {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

/// Nodes killed by a test, started again when dropped, even when the test fails.
struct Killed(Vec<&'static str>);

impl Drop for Killed {
    fn drop(&mut self) {
        for node in &self.0 {
            let _ = Command::new(root().join("scripts/cluster")).args(["start", node]).status();
        }
    }
}

/// A network namespace playing a worker machine, removed when dropped.
struct Host(&'static str);

impl Host {
    fn add(name: &'static str, address: &str) -> Host {
        let _ = Command::new(root().join("scripts/cluster")).args(["host", "del", name]).output();
        script(&["host", "add", name, address]);
        Host(name)
    }

    /// `rtds ARGS` on this host.
    fn rtds(&self) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &format!("rtds-{}", self.0), env!("CARGO_BIN_EXE_rtds")]);
        command
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/cluster")).args(["link", "up", self.0]).output();
        let _ = Command::new(root().join("scripts/cluster")).args(["host", "del", self.0]).output();
    }
}

/// Stores `users` users in PostgreSQL before anything streams.
fn ingest_first(pipeline: &Pipeline, users: u64) {
    let users = users.to_string();
    let out = rtds().args(["ingest", "--api", &pipeline.api, "--postgres", &pipeline.database, "--users", &users, "--seed", &pipeline.seed, "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The nodes the master's status shows down.
fn down(status: &Value) -> Vec<String> {
    status["pipeline"]["nodes"].as_array().into_iter().flatten().filter(|n| n["up"] == false).map(|n| format!("{} {}", n["service"].as_str().unwrap(), n["address"].as_str().unwrap())).collect()
}

#[test]
#[ignore = "needs the multi-node cluster (scripts/cluster up) and PostgreSQL: run scripts/test"]
fn a_broker_and_a_cassandra_node_killed_mid_stream_lose_nothing_and_double_nothing() {
    let _cluster = stack_lock();
    let c = cluster();
    let pipeline = Pipeline::on("nodes", c.kafka.clone(), c.cassandra_config());
    let dataflow = c.dataflow();
    ingest_first(&pipeline, 5000);
    // Neither may take a pause for the end: a killed broker that led partitions or coordinated
    // the CDC stage's transactions holds the stream up for seconds. The master is stopped
    // once every user is durable.
    let cdc = c.cdc(&pipeline);

    let mut command = rtds();
    command
        .args(["master", "--local", "-n", "2", "-w", "1", "--http", "127.0.0.1:0"])
        .args(c.pipeline_flags(&pipeline, &dataflow, "1h"));
    c.secrets(&mut command);
    let master = Running::spawn(command);
    let http = master.port_after(STATUS_PAGE_ON);
    let before = wait_durable(&pipeline, http, 5000);
    assert!(down(&before).is_empty(), "every node is up at first: {:#}", before["pipeline"]["nodes"]);
    let nodes = before["pipeline"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.iter().filter(|n| n["service"] == "kafka").count(), 3, "{nodes:?}");
    assert_eq!(nodes.iter().filter(|n| n["service"] == "cassandra").count(), 3, "{nodes:?}");

    // 20,000 more users stream in while one broker and one Cassandra node are killed.
    let more = pipeline.ingest_only_in_background(20_000, 1_000);
    wait_durable(&pipeline, http, 8000);
    let killed = Killed(vec!["kafka-2", "cassandra-3"]);
    script(&["kill", "kafka-2"]);
    script(&["kill", "cassandra-3"]);
    let status = wait_for(&pipeline, http, |s| down(s).len() == 2);
    let down_now = down(&status);
    assert!(down_now.iter().any(|n| n.starts_with("kafka 10.77.0.12")) && down_now.iter().any(|n| n.starts_with("cassandra 10.77.0.13")), "{down_now:?}");
    assert!(pipeline.metrics(http).contains("rtds_node_up{service=\"cassandra\",address=\"10.77.0.13:9042\"} 0"));

    // The pipeline goes on with two of three of each: every user becomes durable.
    finish(more, "background ingest", Duration::from_secs(180));
    wait_durable(&pipeline, http, 25_000);
    assert_eq!(down(&pipeline.status(http).unwrap()).len(), 2, "the nodes were down all along");
    drop(killed);
    stop(cdc);
    let stderr = stop(master);
    assert!(!stderr.contains("restarting the cluster"), "the cluster rode the node failures out:\n{}", tail(&stderr));
    pipeline.assert_cassandra_equals_postgres(25_000);
}

#[test]
#[ignore = "needs the multi-node cluster (scripts/cluster up), PostgreSQL and root (network namespaces): run scripts/test"]
fn workers_on_other_hosts_survive_a_cut_link() {
    let _cluster = stack_lock();
    let c = cluster();
    let pipeline = Pipeline::on("hosts", c.kafka.clone(), c.cassandra_config());
    let dataflow = c.dataflow();
    let token = unique("multi-host-cluster-token");
    ingest_first(&pipeline, 5000);
    let cdc = c.cdc(&pipeline);

    // The master listens on the bridge, where the worker machines reach it.
    let mut command = rtds();
    command
        .args(["master", "-n", "2", "-w", "1", "--listen", "10.77.0.1:0", "--http", "127.0.0.1:0"])
        .args(c.pipeline_flags(&pipeline, &dataflow, "15s"))
        .env(TOKEN_ENV, &token);
    c.secrets(&mut command);
    let master = Running::spawn(command);
    let (http, listen) = (master.port_after(STATUS_PAGE_ON), master.port_after("rtds worker --master "));
    let hosts = [Host::add("w1", "10.77.0.21"), Host::add("w2", "10.77.0.22")];
    let agents: Vec<Running> = hosts
        .iter()
        .map(|host| {
            let mut command = host.rtds();
            command.args(["worker", "--master", &format!("10.77.0.1:{listen}")]).env(TOKEN_ENV, &token);
            c.secrets(&mut command);
            Running::spawn(command)
        })
        .collect();
    let running = wait_durable(&pipeline, http, 5000);
    let addresses: Vec<&str> = running["cluster"]["processes"].as_array().unwrap().iter().filter_map(|p| p["address"].as_str()).collect();
    assert!(addresses.iter().any(|a| a.starts_with("10.77.0.21")) && addresses.iter().any(|a| a.starts_with("10.77.0.22")), "{addresses:?}");

    // Cut one worker machine's link mid-stream: the master declares it dead and waits for it.
    let more = pipeline.ingest_only_in_background(15_000, 1_000);
    let before = wait_durable(&pipeline, http, 7000)["cluster"]["restarts"].as_u64().unwrap_or(0);
    script(&["link", "down", "w2"]);
    // A restart before the cut (a process that failed at start) does not count.
    let cut = wait_for(&pipeline, http, |s| s["cluster"]["restarts"].as_u64() > Some(before));
    assert_ne!(cut["cluster"]["state"], "running", "with one machine cut off the cluster cannot run");
    script(&["link", "up", "w2"]);
    // Back: it registers again and the cluster runs on, from the last durable epoch.
    wait_for(&pipeline, http, |s| s["cluster"]["state"] == "running" && s["cluster"]["registered"].as_u64() == Some(2));
    finish(more, "background ingest", Duration::from_secs(180));
    wait_durable(&pipeline, http, 20_000);
    stop(cdc);
    let stderr = finish(master, "rtds master", Duration::from_secs(300));
    assert!(stderr.contains("restarting the cluster"), "{}", tail(&stderr));
    for (index, agent) in agents.into_iter().enumerate() {
        let log = finish(agent, &format!("agent {index}"), Duration::from_secs(60));
        assert!(log.contains("the master says the cluster finished"), "{}", tail(&log));
    }
    drop(hosts);
    pipeline.assert_cassandra_equals_postgres(20_000);
}
