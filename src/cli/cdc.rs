//! `rtds cdc`: PostgreSQL's committed changes → Kafka, exactly once.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::cdc::{CdcOptions, CdcSummary, Format};
use crate::connectors::defaults;

#[derive(Debug, Args)]
pub struct CdcArgs {
    /// PostgreSQL URL (the server needs wal_level=logical, the user REPLICATION).
    #[arg(long, env = "RTDS_POSTGRES", default_value = defaults::POSTGRES)]
    pub postgres: String,
    #[command(flatten)]
    pub kafka: super::worker::KafkaArgs,
    /// Topic for the changes; dead letters go to TOPIC.dlq, the resume point to TOPIC.cdc-offsets.
    #[arg(long, default_value = "users_created")]
    pub topic: String,
    /// Partitions of the topic when it is created.
    #[arg(long, default_value_t = 8)]
    pub partitions: i32,
    /// Replication slot, created when missing [default: rtds_DATABASE].
    #[arg(long)]
    pub slot: Option<String>,
    /// Publication of created_users, created when missing.
    #[arg(long, default_value = "rtds_users")]
    pub publication: String,
    /// Most changes in one Kafka transaction (PostgreSQL transactions are never split).
    #[arg(long, default_value_t = 20_000)]
    pub max_batch: usize,
    /// The longest a change waits for more before its Kafka transaction, e.g. 10ms: once the
    /// stream has nothing more ready, changes go as soon as the last transaction is that old.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10ms")]
    pub linger: Duration,
    /// Finish once nothing changed for this long and every commit is in Kafka, e.g. 2s.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub idle_exit: Option<Duration>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Print a report line (JSON) on stdout every second, for a master that runs the stage.
    #[arg(long, hide = true)]
    pub report: bool,
    /// How rows are written: json (the formatted row, header rtds-schema: user/1) or avro
    /// (the Confluent wire format, the schema registered under TOPIC-value, BACKWARD).
    #[arg(long, value_enum, default_value = "json")]
    pub format: FormatArg,
    /// The Schema Registry's Confluent API (for --format avro),
    /// e.g. http://127.0.0.1:8081/apis/ccompat/v7.
    #[arg(long, env = "RTDS_SCHEMA_REGISTRY", value_name = "URL")]
    pub schema_registry: Option<String>,
    /// Serve Prometheus metrics on this address (/metrics), e.g. 127.0.0.1:9102.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Json,
    Avro,
}

pub fn cdc(args: CdcArgs) -> anyhow::Result<()> {
    let format = match (args.format, args.schema_registry) {
        (FormatArg::Json, _) => Format::Json,
        (FormatArg::Avro, Some(registry)) => Format::Avro { registry },
        (FormatArg::Avro, None) => anyhow::bail!(
            "--format avro needs a Schema Registry: pass --schema-registry URL or set RTDS_SCHEMA_REGISTRY \
             (scripts/stack up starts one at http://127.0.0.1:8081/apis/ccompat/v7)"
        ),
    };
    let options = CdcOptions {
        format,
        slot: args.slot.unwrap_or_else(|| crate::connectors::postgres::default_slot(&args.postgres)),
        postgres: args.postgres,
        kafka: args.kafka.config(&Default::default())?,
        topic: args.topic,
        partitions: args.partitions,
        publication: args.publication,
        max_batch: args.max_batch.max(1),
        linger: args.linger,
        idle_exit: args.idle_exit,
        progress: !args.json,
    };
    let runtime = super::runtime()?;
    let counters = Arc::new(crate::cdc::Counters::default());
    if let Some(addr) = args.metrics_addr {
        let counters = counters.clone();
        super::serve_metrics(&runtime, "cdc", addr, move || counters.prometheus_text())?;
    }
    if args.report {
        let counters = counters.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                println!("{}", crate::cdc::CdcReport::of(&counters).to_line());
            }
        });
    }
    let summary = super::until_interrupted(&runtime, "rtds cdc: stopping after the changes in flight", |stop| {
        crate::cdc::run(options, stop, counters)
    });
    let summary = summary.context("cdc failed")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary);
    }
    Ok(())
}

fn print_summary(s: &CdcSummary) {
    println!("rtds cdc: {:.2} s, up to LSN {}", s.seconds, s.committed_lsn);
    println!("  snapshot      {:>10}  rows of the table as the slot began", s.snapshot_rows);
    println!("  upserts       {:>10}  inserts and updates", s.upserts);
    println!("  deletes       {:>10}  tombstones", s.deletes);
    println!("  dead letters  {:>10}  -> the .dlq topic", s.dead_letters);
    println!("  transactions  {:>10}  Kafka transactions ({} sent again)", s.transactions, s.retries);
    println!("  latency       {:>10}  ms p50, {} ms p99, PostgreSQL commit to Kafka commit", s.latency_p50_ms, s.latency_p99_ms);
    println!("  rate          {:>10.0}  changes/s", s.changes_per_second);
}
