//! `rtds worker`: one process of the timely cluster, with timely's own flags.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::connectors::defaults;
use crate::dataflow::{Dataflow, Sink, Source};
use crate::engine::agent::{AgentOptions, run_agent};
use crate::engine::cluster::{WorkerOptions, run_worker};

/// The pipeline flags `rtds worker` and `rtds master` share; the master hands them on.
#[derive(Debug, Clone, Args)]
pub struct PipelineArgs {
    /// Kafka bootstrap servers.
    #[arg(long, env = "RTDS_KAFKA", default_value = defaults::KAFKA)]
    pub kafka: String,
    /// Cassandra contact points, comma-separated.
    #[arg(long, env = "RTDS_CASSANDRA", default_value = defaults::CASSANDRA)]
    pub cassandra: String,
    /// Topic to read [default: the dataflow's, users_created].
    #[arg(long)]
    pub topic: Option<String>,
    /// Pipeline definition [default: the built-in dataflows/users.toml].
    #[arg(long)]
    pub dataflow: Option<PathBuf>,
    /// Cassandra keyspace [default: the dataflow's, rtds].
    #[arg(long)]
    pub keyspace: Option<String>,
    /// Finish once no record arrived for this long and all is durable (tests, benchmarks), e.g. 5s.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub idle_exit: Option<Duration>,
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

    /// The flags as arguments, to hand to a worker process.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec!["--kafka".into(), self.kafka.clone(), "--cassandra".into(), self.cassandra.clone()];
        let optional = [
            ("--topic", self.topic.clone()),
            ("--dataflow", self.dataflow.as_ref().map(|p| p.display().to_string())),
            ("--keyspace", self.keyspace.clone()),
            ("--idle-exit", self.idle_exit.map(|d| humantime::format_duration(d).to_string())),
        ];
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
        return Ok(run_agent(&AgentOptions { master, advertise: args.advertise, program })?);
    }
    let options = WorkerOptions {
        timely: args.timely_config()?,
        kafka: args.pipeline.kafka.clone(),
        cassandra: args.pipeline.cassandra.clone(),
        dataflow: args.pipeline.dataflow()?,
        idle_exit: args.pipeline.idle_exit,
        progress: !args.report,
        report: args.report,
    };
    run_worker(options).with_context(|| format!("worker process {} of {}", args.process, args.processes))
}
