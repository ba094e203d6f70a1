//! `rtds ingest`: randomuser API → PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::connectors::defaults;
use crate::ingest::{IngestOptions, IngestSummary};

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// randomuser-compatible API URL (`rtds api serve` for offline use).
    #[arg(long, env = "RTDS_API", default_value = crate::api::RANDOMUSER_URL)]
    pub api: String,
    /// PostgreSQL URL.
    #[arg(long, env = "RTDS_POSTGRES", default_value = defaults::POSTGRES)]
    pub postgres: String,
    /// Users per API request (1-5000).
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=5000))]
    pub batch: u32,
    /// Users to fetch per round [default without --duration: fetch for 60s, like the DAG].
    #[arg(long)]
    pub users: Option<u64>,
    /// How long a round fetches, e.g. 60s or 5m.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Repeat a round this often until interrupted, e.g. 10m (a schedule like the DAG's).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub every: Option<Duration>,
    /// API seed: the same seed fetches the same users; rounds continue page by page.
    #[arg(long)]
    pub seed: Option<String>,
    /// Nationalities, comma-separated (e.g. us,gb,fr).
    #[arg(long)]
    pub nat: Option<String>,
    /// Most users per second.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Attempts per API request and per page store before giving up.
    #[arg(long, default_value_t = 8)]
    pub attempts: u32,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Serve Prometheus metrics on this address (/metrics), e.g. 127.0.0.1:9101.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

pub fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    let duration = match (args.users, args.duration) {
        (None, None) => Some(Duration::from_secs(60)),
        (_, duration) => duration,
    };
    let options = IngestOptions {
        api: args.api,
        postgres: args.postgres,
        batch: args.batch,
        users: args.users,
        duration,
        every: args.every,
        seed: args.seed,
        nat: args.nat,
        rate: args.rate,
        attempts: args.attempts.max(1),
        progress: !args.json,
    };
    let runtime = super::runtime()?;
    let counters = Arc::new(crate::ingest::Counters::default());
    if let Some(addr) = args.metrics_addr {
        let counters = counters.clone();
        super::serve_metrics(&runtime, "ingest", addr, move || counters.prometheus_text())?;
    }
    let summary = super::until_interrupted(&runtime, "rtds ingest: stopping after the pages in flight", |stop| {
        crate::ingest::run(options, stop, counters)
    });
    let summary = summary.context("ingest failed")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary);
    }
    Ok(())
}

fn print_summary(s: &IngestSummary) {
    println!("rtds ingest: {} round(s), {:.2} s", s.rounds, s.seconds);
    println!("  fetched       {:>10}  users from the API", s.fetched);
    println!("  stored        {:>10}  new or changed rows in PostgreSQL", s.stored);
    println!("  rejected      {:>10}  -> rejected_users", s.rejected);
    println!("  api errors    {:>10}  requests that failed after retries", s.api_errors);
    println!("  rate          {:>10.0}  users/s", s.users_per_second);
}
