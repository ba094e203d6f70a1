//! The `rtds` command line. Library errors are `thiserror` types; here they become `anyhow`.

mod cdc;
mod check;
mod format;
mod ingest;
mod master;
mod run;
mod worker;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// rtds: realtime data streaming on timely and differential dataflow.
///
/// With no command, runs the embedded pipeline: built-in generator -> dataflow -> JSON lines.
#[derive(Debug, Parser)]
#[command(name = "rtds", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: run::RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the embedded pipeline (the default): no services needed.
    Run(run::RunArgs),
    /// Format one randomuser API response (any version) into rows, as JSON lines.
    Format(format::FormatArgs),
    /// Fetch users from a randomuser API into PostgreSQL.
    Ingest(ingest::IngestArgs),
    /// Stream PostgreSQL's committed changes of created_users into Kafka, exactly once.
    Cdc(cdc::CdcArgs),
    /// Start, watch and restart the cluster's worker processes; serve status and metrics.
    Master(master::MasterArgs),
    /// One process of the timely cluster: Kafka partitions to Cassandra (timely's -w -n -p -h).
    #[command(disable_help_flag = true)]
    Worker(worker::WorkerArgs),
    /// Validate a dataflow file; run its expectations over a PostgreSQL table or a JSON lines file.
    Check(check::CheckArgs),
    /// The randomuser-compatible API: serve the clone, or fetch a page.
    #[command(subcommand)]
    Api(ApiCommand),
}

#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Serve a randomuser-compatible API backed by the deterministic generator.
    Serve(ServeArgs),
    /// Fetch one page from an API (the real one by default) and print the body.
    Fetch(FetchArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,
    /// Share of requests (0-1) answered 500/503 with the API's error body.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Requests per second above which requests get 429.
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// Delay added to every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of records (0-1) sent with a field of the wrong type.
    #[arg(long, default_value_t = 0.0)]
    pub malformed_rate: f64,
    /// Seed that decides which requests fail and which records are corrupted (the same seed
    /// gives the same faults).
    #[arg(long, default_value_t = 0)]
    pub fault_seed: u64,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// API URL.
    #[arg(long, env = "RTDS_API", default_value = crate::api::RANDOMUSER_URL)]
    pub url: String,
    /// Users to ask for (1-5000).
    #[arg(long, default_value_t = 1)]
    pub results: u32,
    #[arg(long)]
    pub seed: Option<String>,
    #[arg(long)]
    pub page: Option<u32>,
    /// Nationalities, comma-separated (e.g. us,gb).
    #[arg(long)]
    pub nat: Option<String>,
    /// Give up after this many attempts.
    #[arg(long, default_value_t = 8)]
    pub attempts: u32,
}

/// Parses the command line and runs it.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RTDS_LOG").unwrap_or_else(|_| "warn,rtds=info,scylla=error".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        None => run::run(cli.run),
        Some(Command::Run(args)) => run::run(args),
        Some(Command::Format(args)) => format::format(args),
        Some(Command::Ingest(args)) => ingest::ingest(args),
        Some(Command::Cdc(args)) => cdc::cdc(args),
        Some(Command::Check(args)) => check::check(args),
        Some(Command::Worker(args)) => worker::worker(args),
        Some(Command::Master(args)) => master::master(args),
        Some(Command::Api(ApiCommand::Serve(args))) => serve(args),
        Some(Command::Api(ApiCommand::Fetch(args))) => fetch(args),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let faults = crate::api::Faults {
        error_rate: args.error_rate,
        rate_limit: args.rate_limit,
        latency: Duration::from_millis(args.latency_ms),
        malformed_rate: args.malformed_rate,
        seed: args.fault_seed,
    };
    eprintln!("rtds api serve: randomuser-compatible API on http://{}/api/", args.addr);
    runtime()?.block_on(crate::api::server::serve(args.addr, faults))?;
    Ok(())
}

fn fetch(args: FetchArgs) -> anyhow::Result<()> {
    let retry = crate::api::RetryPolicy { max_attempts: args.attempts.max(1), ..Default::default() };
    let client = crate::api::ApiClient::new(&args.url, retry)?;
    let page = crate::api::PageRequest {
        results: args.results,
        page: args.page,
        seed: args.seed,
        nat: args.nat,
        ..Default::default()
    };
    let body = runtime()?.block_on(client.fetch(&page))?;
    println!("{body}");
    Ok(())
}

/// Serves `/metrics` (Prometheus text from `text`) on `addr` while `runtime` runs, and says
/// where on stderr (`command` names who; port 0 takes a free port).
pub(crate) fn serve_metrics(
    runtime: &tokio::runtime::Runtime,
    command: &str,
    addr: std::net::SocketAddr,
    text: impl Fn() -> String + Clone + Send + Sync + 'static,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let listener = runtime.block_on(tokio::net::TcpListener::bind(addr)).with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let text = text();
            async move { ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text) }
        }),
    );
    eprintln!("rtds {command}: metrics on http://{bound}/metrics");
    runtime.spawn(async move { axum::serve(listener, app).await });
    Ok(())
}

/// Runs `work` on `runtime`: the first Ctrl-C sets the flag `work` was given (finish what is in
/// flight, saying `stopping`), a second one exits at once.
pub(crate) fn until_interrupted<T, F>(
    runtime: &tokio::runtime::Runtime,
    stopping: &'static str,
    work: impl FnOnce(std::sync::Arc<std::sync::atomic::AtomicBool>) -> F,
) -> T
where
    F: std::future::Future<Output = T>,
{
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let on_signal = stop.clone();
    runtime.block_on(async move {
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("{stopping} (Ctrl-C again to abort)");
                on_signal.store(true, std::sync::atomic::Ordering::Relaxed);
                let _ = tokio::signal::ctrl_c().await;
                std::process::exit(130);
            }
        });
        work(stop).await
    })
}

/// A multi-threaded tokio runtime for commands that do network I/O.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}
