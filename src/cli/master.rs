//! `rtds master`: runs and watches the cluster, serves its status.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::worker::PipelineArgs;
use crate::dataflow::{Sink, Source};
use crate::engine::control::ClusterToken;
use crate::engine::master::{CdcStage, Launch, MasterOptions, run_cdc_stage, supervise};
use crate::engine::status::{StatusState, poll_pipeline, serve};

#[derive(Debug, Args)]
pub struct MasterArgs {
    /// Worker processes in the cluster.
    #[arg(short = 'n', long = "processes", default_value_t = 2)]
    pub processes: usize,
    /// Timely worker threads per process.
    #[arg(short = 'w', long = "workers", default_value_t = 1)]
    pub workers: usize,
    /// Start the worker processes on this machine, instead of waiting for workers of other
    /// machines to register (`rtds worker --master HOST:PORT`).
    #[arg(long)]
    pub local: bool,
    /// With --local: process i listens for timely on 127.0.0.1:(base-port + i) [default: ports
    /// the kernel picks, which the master binds and hands to the processes].
    #[arg(long)]
    pub base_port: Option<u16>,
    /// Without --local: where workers register (`rtds worker --master` this address).
    #[arg(long, default_value = "127.0.0.1:7077", conflicts_with = "local")]
    pub listen: SocketAddr,
    /// Without --local: a file holding the cluster token workers must prove they know
    /// [default: the token in RTDS_CLUSTER_TOKEN]; the same on every worker.
    #[arg(long, value_name = "FILE", conflicts_with = "local")]
    pub token_file: Option<std::path::PathBuf>,
    /// Address of the status page, /status JSON and /metrics.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
    /// Give up when the cluster had to restart this many times within --restart-window.
    #[arg(long, default_value_t = 100)]
    pub max_restarts: u32,
    /// The window --max-restarts counts over: a cluster that crashed now and then over a
    /// week is not one crash from giving up.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub restart_window: std::time::Duration,
    /// PostgreSQL URL, to show the CDC stage's replication slot (and warn when it holds back
    /// much WAL).
    #[arg(long, env = "RTDS_POSTGRES")]
    pub postgres: Option<String>,
    /// The CDC stage's replication slot [default: rtds_DATABASE, as `rtds cdc`].
    #[arg(long)]
    pub slot: Option<String>,
    /// Run the CDC stage too (`rtds cdc` from --postgres into the pipeline's topic), and start
    /// it again whenever it exits; the status page shows its changes/s.
    #[arg(long, requires = "postgres")]
    pub cdc: bool,
    /// How the CDC stage writes rows (`rtds cdc --format`): json, or avro under a schema
    /// registered in --schema-registry.
    #[arg(long, value_enum, default_value = "json", requires = "cdc")]
    pub cdc_format: super::cdc::FormatArg,
    /// Prometheus that scrapes this master with the rules of ops/prometheus/rules: the status
    /// page shows the alerts firing there, e.g. http://127.0.0.1:9090.
    #[arg(long, env = "RTDS_PROMETHEUS", value_name = "URL")]
    pub prometheus: Option<String>,
    /// Where the page's link to Prometheus points, when readers reach it at another address
    /// than the master does [default: --prometheus without its credentials].
    #[arg(long, env = "RTDS_PROMETHEUS_LINK", value_name = "URL", requires = "prometheus")]
    pub prometheus_link: Option<String>,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

pub fn master(args: MasterArgs) -> anyhow::Result<()> {
    let dataflow = args.pipeline.dataflow()?;
    let (Source::Kafka(source), Sink::Cassandra(sink)) = (&dataflow.source, &dataflow.sink) else {
        anyhow::bail!("dataflow {:?} is not a cluster pipeline (a kafka source and a cassandra sink)", dataflow.name);
    };
    let launch = if args.local {
        Launch::Local {
            program: std::env::current_exe().context("cannot find the rtds binary")?,
            base_port: args.base_port,
        }
    } else {
        let token = ClusterToken::from_file_or_env(args.token_file.as_deref())?;
        Launch::Remote { listen: args.listen, token }
    };
    let options = MasterOptions {
        launch,
        processes: args.processes.max(1),
        workers: args.workers.max(1),
        pipeline_args: args.pipeline.to_args(),
        max_restarts: args.max_restarts,
        restart_window: args.restart_window,
    };
    let state = StatusState::default();

    let runtime = super::runtime()?;
    let kafka = args.pipeline.kafka_config(&dataflow)?;
    let replication = sink.replication().map_err(|e| anyhow::anyhow!("dataflow {:?}: {e}", dataflow.name))?;
    let (cassandra, topic) = (args.pipeline.cassandra.config(), source.topic.clone());
    let (keyspace, table, epoch_ms) = (sink.keyspace.clone(), sink.table.clone(), source.epoch_ms);
    let stage_kafka = kafka.clone();
    let program = dataflow.program.clone();
    let poll_state = state.clone();
    runtime.spawn(async move {
        // Until Cassandra answers, the status says why; once connected, the driver and the
        // Kafka client reconnect by themselves when a service goes away and comes back.
        let sink = loop {
            let prepared = async {
                let session = Arc::new(crate::connectors::cassandra::connect(&cassandra).await?);
                crate::connectors::cassandra::CassandraTables::prepare(session, &keyspace, &table, &program, &replication).await
            };
            match prepared.await {
                Ok(sink) => break sink,
                Err(e) => poll_state.pipeline.lock().expect("status").error = Some(format!("{e}; trying again")),
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        };
        poll_state.pipeline.lock().expect("status").error = None;
        poll_pipeline(poll_state, Arc::new(sink), kafka, topic, epoch_ms).await
    });
    if let Some(url) = args.postgres.clone() {
        let slot = args.slot.clone().unwrap_or_else(|| crate::connectors::postgres::default_slot(&url));
        runtime.spawn(crate::engine::status::poll_slot(state.clone(), url.clone(), slot));
        if args.cdc {
            // The stage gets the same Kafka properties; its secrets come with the environment.
            let mut stage_args = vec!["--topic".to_string(), source.topic.clone()];
            stage_args.extend(stage_kafka.to_args());
            if let Some(slot) = &args.slot {
                stage_args.extend(["--slot".to_string(), slot.clone()]);
            }
            if args.cdc_format == super::cdc::FormatArg::Avro {
                let registry = args.pipeline.schema_registry.clone().context("--cdc-format avro needs --schema-registry (or RTDS_SCHEMA_REGISTRY)")?;
                stage_args.extend(["--format".to_string(), "avro".to_string(), "--schema-registry".to_string(), registry]);
            }
            let program = std::env::current_exe().context("cannot find the rtds binary")?;
            let stage = CdcStage { program, postgres: url, kafka: stage_kafka.brokers.clone(), args: stage_args };
            run_cdc_stage(stage, state.cdc_stage.clone());
        }
    }
    if let Some(url) = args.prometheus.clone() {
        let link = args.prometheus_link.clone().unwrap_or_else(|| crate::engine::status::without_credentials(&url));
        runtime.spawn(crate::engine::status::poll_alerts(state.clone(), url, link));
    }
    let listener = runtime.block_on(tokio::net::TcpListener::bind(args.http)).with_context(|| format!("cannot listen on {}", args.http))?;
    runtime.spawn(serve(listener, state.clone()));

    supervise(&options, state.cluster.clone(), state.telemetry.clone())?;
    Ok(())
}
