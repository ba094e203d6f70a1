//! `rtds worker`: one process of the timely cluster, with timely's own flags.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::connectors::cassandra::CassandraConfig;
use crate::connectors::defaults;
use crate::connectors::kafka::KafkaConfig;
use crate::dataflow::{Dataflow, Sink, Source};
use crate::engine::agent::{AgentOptions, run_agent};
use crate::engine::cluster::{WorkerOptions, run_worker};

/// Where Kafka is and how to talk to it (`rtds worker`, `master` and `cdc`).
#[derive(Debug, Clone, Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap servers.
    #[arg(long, env = "RTDS_KAFKA", default_value = defaults::KAFKA)]
    pub kafka: String,
    /// A librdkafka property for every Kafka client, KEY=VALUE (repeat it), such as
    /// -X security.protocol=SASL_SSL; secrets come from RTDS_KAFKA_* variables instead
    /// (RTDS_KAFKA_SASL_PASSWORD sets sasl.password).
    #[arg(short = 'X', long = "kafka-option", value_name = "KEY=VALUE")]
    pub options: Vec<String>,
}

impl KafkaArgs {
    /// The configuration: `properties` (a dataflow's), then -X options, then the environment.
    pub fn config(&self, properties: &std::collections::BTreeMap<String, String>) -> anyhow::Result<KafkaConfig> {
        let mut config = KafkaConfig::new(&self.kafka).with_properties(properties).map_err(anyhow::Error::msg)?;
        for option in &self.options {
            config = config.with_option(option).map_err(anyhow::Error::msg)?;
        }
        Ok(config.with_environment(std::env::vars()))
    }
}

/// Where Cassandra is and how to log in (`rtds worker` and `master`).
#[derive(Debug, Clone, Args)]
pub struct CassandraArgs {
    /// Cassandra contact points, comma-separated.
    #[arg(long, env = "RTDS_CASSANDRA", default_value = defaults::CASSANDRA)]
    pub cassandra: String,
    /// Log in to Cassandra as this user; the password comes from RTDS_CASSANDRA_PASSWORD.
    #[arg(long, env = "RTDS_CASSANDRA_USERNAME", value_name = "USER")]
    pub cassandra_username: Option<String>,
    /// Connect to Cassandra over TLS, trusting the node certificates this CA (PEM) signed.
    #[arg(long, env = "RTDS_CASSANDRA_CA", value_name = "FILE")]
    pub cassandra_ca: Option<PathBuf>,
}

impl CassandraArgs {
    pub fn config(&self) -> CassandraConfig {
        let mut config = CassandraConfig::new(&self.cassandra);
        config.username = self.cassandra_username.clone();
        config.ca = self.cassandra_ca.clone();
        config.with_password_from_environment()
    }
}

/// The pipeline flags `rtds worker` and `rtds master` share; the master hands them on.
#[derive(Debug, Clone, Args)]
pub struct PipelineArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub cassandra: CassandraArgs,
    /// Topic to read [default: the dataflow's, users_created].
    #[arg(long)]
    pub topic: Option<String>,
    /// Pipeline definition [default: the built-in dataflows/users.sql].
    #[arg(long)]
    pub dataflow: Option<PathBuf>,
    /// Cassandra keyspace [default: the dataflow's, rtds].
    #[arg(long)]
    pub keyspace: Option<String>,
    /// Finish once no record arrived for this long in any worker of the process and all is
    /// durable (tests, benchmarks), e.g. 5s.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub idle_exit: Option<Duration>,
    /// Go on when Kafka's retention has deleted records the pipeline had not made durable:
    /// read on from the earliest offset Kafka holds and count the records skipped
    /// (rtds_records_skipped_total). Without it a worker stops, naming the partition and the
    /// offsets, and its master does not restart it.
    #[arg(long)]
    pub accept_lost_records: bool,
    /// The Schema Registry's Confluent API, to read Avro messages (rtds cdc --format avro) by
    /// their writer schema, e.g. http://127.0.0.1:8081/apis/ccompat/v7; JSON messages need none.
    #[arg(long, env = "RTDS_SCHEMA_REGISTRY", value_name = "URL")]
    pub schema_registry: Option<String>,
    /// Where each worker checkpoints its dedupe state and the views' inputs with every epoch,
    /// so a restart resumes from there rather than reading every stored row back from
    /// Cassandra (a folder KEYSPACE/TOPIC/worker-I for each) [default: $XDG_STATE_HOME/rtds, else
    /// ~/.local/state/rtds].
    #[arg(long, env = "RTDS_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Keep no checkpoint: each restart reads the stored rows back. Every process of a
    /// cluster must agree (it changes the dataflow's shape); a master hands it on.
    #[arg(long, conflicts_with = "state_dir")]
    pub no_checkpoint: bool,
}

impl PipelineArgs {
    /// The dataflow with the flags' overrides applied.
    pub fn dataflow(&self) -> anyhow::Result<Dataflow> {
        let mut dataflow = match &self.dataflow {
            Some(path) => Dataflow::load(path)?,
            None => Dataflow::users(),
        };
        if let (Some(topic), Source::Kafka(source)) = (&self.topic, &mut dataflow.source) {
            source.topic = topic.clone();
        }
        if let (Some(keyspace), Sink::Cassandra(sink)) = (&self.keyspace, &mut dataflow.sink) {
            sink.keyspace = keyspace.clone();
        }
        Ok(dataflow)
    }

    /// The Kafka configuration: the dataflow's properties, -X options and the environment.
    pub fn kafka_config(&self, dataflow: &Dataflow) -> anyhow::Result<KafkaConfig> {
        let properties = match &dataflow.source {
            Source::Kafka(source) => source.properties.clone(),
            Source::Generator(_) => Default::default(),
        };
        self.kafka.config(&properties)
    }

    /// Where the workers keep their checkpoints (none with `--no-checkpoint`).
    pub fn checkpoint_dir(&self) -> Option<PathBuf> {
        if self.no_checkpoint {
            return None;
        }
        if let Some(dir) = &self.state_dir {
            return Some(dir.clone());
        }
        let state_home = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()).map(PathBuf::from);
        let home = || std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("state"));
        Some(state_home.or_else(home).unwrap_or_else(|| PathBuf::from(".rtds-state")).join("rtds"))
    }

    /// The flags as arguments, to hand to a worker process. Secrets are not among them: a
    /// process on this machine inherits them with the environment, one on another machine
    /// has its own.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec!["--kafka".into(), self.kafka.kafka.clone(), "--cassandra".into(), self.cassandra.cassandra.clone()];
        for option in &self.kafka.options {
            args.extend(["-X".to_string(), option.clone()]);
        }
        let optional = [
            ("--cassandra-username", self.cassandra.cassandra_username.clone()),
            ("--cassandra-ca", self.cassandra.cassandra_ca.as_ref().map(|p| p.display().to_string())),
            ("--topic", self.topic.clone()),
            ("--dataflow", self.dataflow.as_ref().map(|p| p.display().to_string())),
            ("--keyspace", self.keyspace.clone()),
            ("--idle-exit", self.idle_exit.map(|d| humantime::format_duration(d).to_string())),
            ("--schema-registry", self.schema_registry.clone()),
            ("--state-dir", self.state_dir.as_ref().map(|p| p.display().to_string())),
        ];
        if self.accept_lost_records {
            args.push("--accept-lost-records".into());
        }
        if self.no_checkpoint {
            args.push("--no-checkpoint".into());
        }
        for (flag, value) in optional {
            if let Some(value) = value {
                args.push(flag.into());
                args.push(value);
            }
        }
        args
    }
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Timely worker threads in this process.
    #[arg(short = 'w', long = "workers", default_value_t = 1)]
    pub workers: usize,
    /// Processes in the cluster.
    #[arg(short = 'n', long = "processes", default_value_t = 1)]
    pub processes: usize,
    /// This process's index, 0..processes.
    #[arg(short = 'p', long = "process", default_value_t = 0)]
    pub process: usize,
    /// Hostfile: line i is process i's host:port [default: localhost:2101+i].
    #[arg(short = 'h', long = "hostfile")]
    pub hostfile: Option<PathBuf>,
    /// Process i's host:port, comma-separated, instead of a hostfile (how a master hands
    /// them on).
    #[arg(long, value_delimiter = ',', conflicts_with = "hostfile", hide = true)]
    pub peers: Option<Vec<String>>,
    /// Join the cluster of the master at HOST:PORT (its --listen) instead of running with
    /// -n/-p/-h: the master hands out the index, the hostfile and the pipeline flags.
    #[arg(long, value_name = "HOST:PORT", conflicts_with_all = ["processes", "process", "hostfile", "peers"])]
    pub master: Option<String>,
    /// With --master: the HOST:PORT other worker processes reach this one on for timely
    /// [default: the address this machine reaches the master from, and a free port].
    #[arg(long, value_name = "HOST:PORT", requires = "master")]
    pub advertise: Option<String>,
    /// A file holding the cluster token [default: the token in RTDS_CLUSTER_TOKEN]: with
    /// --master, the master's; with -n above 1, the one all processes prove to each other
    /// before timely runs over their connections.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// This process's timely listener, already bound, as an inherited file descriptor (how a
    /// master or an agent hands it over; see engine/cluster/network.rs).
    #[arg(long, value_name = "FD", hide = true, requires = "peers")]
    pub listen_fd: Option<i32>,
    /// Print a report line on stdout every second for a supervisor (the master sets it).
    #[arg(long, hide = true)]
    pub report: bool,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Print help (-h is timely's hostfile).
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

impl WorkerArgs {
    /// timely's configuration from these flags, as timely's own `-w -n -p -h` would make it:
    /// with more than one process, process i's address is line i of the hostfile (or of
    /// `--peers`), `localhost:2101+i` without either.
    pub fn timely_config(&self) -> anyhow::Result<timely::Config> {
        let (threads, processes) = (self.workers.max(1), self.processes.max(1));
        anyhow::ensure!(self.process < processes, "-p {} is not below -n {processes}", self.process);
        let communication = if processes == 1 {
            timely::CommunicationConfig::Process(threads)
        } else {
            let addresses: Vec<String> = match (&self.peers, &self.hostfile) {
                (Some(peers), _) => peers.clone(),
                (None, Some(path)) => std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the hostfile {}", path.display()))?
                    .lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty())
                    .map(String::from)
                    .collect(),
                (None, None) => (0..processes).map(|i| format!("localhost:{}", 2101 + i)).collect(),
            };
            anyhow::ensure!(addresses.len() >= processes, "{} addresses for -n {processes} processes: give one host:port per process", addresses.len());
            timely::CommunicationConfig::Cluster {
                threads,
                process: self.process,
                addresses: addresses.into_iter().take(processes).collect(),
                report: false,
                zerocopy: false,
            }
        };
        Ok(timely::Config { communication, worker: timely::WorkerConfig::default() })
    }
}

pub fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    if let Some(master) = args.master {
        let program = std::env::current_exe().context("cannot find the rtds binary")?;
        let token = crate::engine::control::ClusterToken::from_file_or_env(args.token_file.as_deref())?;
        return Ok(run_agent(&AgentOptions { master, advertise: args.advertise, program, token })?);
    }
    let timely = args.timely_config()?;
    // The processes of a cluster prove the token to each other (engine/cluster/network.rs):
    // without one, stop before connecting to anything.
    let token = match timely.communication {
        timely::CommunicationConfig::Cluster { .. } => Some(crate::engine::control::ClusterToken::from_file_or_env(args.token_file.as_deref())?),
        _ => None,
    };
    let dataflow = args.pipeline.dataflow()?;
    let listener = args.listen_fd.map(inherited_listener).transpose()?;
    let options = WorkerOptions {
        timely,
        listener,
        token,
        kafka: args.pipeline.kafka_config(&dataflow)?,
        cassandra: args.pipeline.cassandra.config(),
        dataflow,
        idle_exit: args.pipeline.idle_exit,
        progress: !args.report,
        report: args.report,
        accept_lost_records: args.pipeline.accept_lost_records,
        schema_registry: args.pipeline.schema_registry.clone(),
        state_dir: args.pipeline.checkpoint_dir(),
    };
    run_worker(options).with_context(|| format!("worker process {} of {}", args.process, args.processes))
}

/// The listener a supervisor bound for this process and left open as file descriptor `fd`.
fn inherited_listener(fd: i32) -> anyhow::Result<std::net::TcpListener> {
    use std::os::fd::FromRawFd;
    // SAFETY: the supervisor handed this descriptor over for this use; nothing else in the
    // process owns it. It is checked to be a listening TCP socket before it is used.
    let listener = unsafe { std::net::TcpListener::from_raw_fd(fd) };
    listener.local_addr().with_context(|| format!("--listen-fd {fd} is not a listening socket"))?;
    Ok(listener)
}
