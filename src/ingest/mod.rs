//! `rtds ingest`: the Airflow DAG's job done properly. Pages of users are fetched from a
//! randomuser-compatible API (several requests in flight), formatted, and each page is stored
//! in PostgreSQL in one transaction (raw records, formatted rows and rejected records, upserted
//! by id), two pages at once on two connections so that no stage waits for another. A page is
//! in PostgreSQL whole or not at all; a failed page is retried (storing it again changes
//! nothing), and bad records go to `rejected_users` with their reason.
//!
//! PostgreSQL is the one write: `rtds cdc` ([`crate::cdc`]) streams the committed changes
//! into Kafka.

mod batch;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backon::BackoffBuilder;
use futures::StreamExt;
use serde::Serialize;

use crate::api::{ApiClient, PageRequest, RetryPolicy, random_seed};
use crate::connectors::{ServiceError, retry};

use crate::connectors::postgres::{Batch, UserStore};
use crate::metrics::Progress;

pub use batch::{postgres_refuses, split_response};

/// Pages fetched (and split into rows) ahead of the ones being stored.
const FETCHES_IN_FLIGHT: usize = 3;

/// Pages stored at once, each on its own PostgreSQL connection: while PostgreSQL works on one
/// page, the next one is being encoded and sent.
const STORES_IN_FLIGHT: usize = 2;

/// What to ingest, and where to.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub api: String,
    pub postgres: String,
    /// Users per API request (1–5000).
    pub batch: u32,
    /// Users to fetch per round.
    pub users: Option<u64>,
    /// How long a round fetches.
    pub duration: Option<Duration>,
    /// Start a round this often, until interrupted.
    pub every: Option<Duration>,
    /// API seed; with it, rounds continue where the last one stopped (page by page).
    pub seed: Option<String>,
    pub nat: Option<String>,
    /// Most users per second.
    pub rate: Option<f64>,
    /// Attempts per API request and per store before giving up.
    pub attempts: u32,
    pub progress: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestSummary {
    pub rounds: u64,
    /// Records received from the API (good and bad).
    pub fetched: u64,
    /// Users new to PostgreSQL's `created_users`, or changed there (latest version wins).
    pub stored: u64,
    /// Records (or failed pages) sent to `rejected_users`.
    pub rejected: u64,
    /// API requests that still failed after their retries.
    pub api_errors: u64,
    /// Pages whose store had to be retried.
    pub store_retries: u64,
    pub seconds: f64,
    pub users_per_second: f64,
}

/// Why ingest stopped.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("{0}")]
    Api(#[from] crate::api::FetchError),
    #[error("{service} still failing after {attempts} attempts to store a page: {last}")]
    GaveUp { service: &'static str, attempts: u32, last: ServiceError },
}

/// What ingest has done so far, shared with its metrics endpoint (`--metrics-addr`).
#[derive(Debug, Default)]
pub struct Counters {
    /// Users and rejected records taken from API answers.
    pub fetched: AtomicU64,
    /// New or changed rows in PostgreSQL.
    pub stored: AtomicU64,
    /// Records sent to rejected_users.
    pub rejected: AtomicU64,
    /// API requests that failed after their retries.
    pub api_errors: AtomicU64,
    /// Page stores retried after PostgreSQL failed.
    pub store_retries: AtomicU64,
    /// Rounds started.
    pub rounds: AtomicU64,
}

impl Counters {
    /// The counters in Prometheus text format (names in README.md).
    ///
    /// ```
    /// let counters = rtds::ingest::Counters::default();
    /// counters.stored.fetch_add(3, std::sync::atomic::Ordering::Relaxed);
    /// assert!(counters.prometheus_text().contains("rtds_ingest_rows_stored_total 3"));
    /// ```
    pub fn prometheus_text(&self) -> String {
        let (rss, cpu) = crate::metrics::process_usage();
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed) as f64;
        let metrics = [
            ("rtds_ingest_users_fetched_total", "counter", "Users and rejected records taken from API answers", get(&self.fetched)),
            ("rtds_ingest_rows_stored_total", "counter", "New or changed rows in PostgreSQL created_users", get(&self.stored)),
            ("rtds_ingest_rejected_total", "counter", "Records sent to rejected_users", get(&self.rejected)),
            ("rtds_ingest_api_errors_total", "counter", "API requests that failed after their retries", get(&self.api_errors)),
            ("rtds_ingest_store_retries_total", "counter", "Page stores retried after PostgreSQL failed", get(&self.store_retries)),
            ("rtds_ingest_rounds_total", "counter", "Ingest rounds started", get(&self.rounds)),
            ("rtds_ingest_resident_memory_bytes", "gauge", "Resident memory of the ingest process", rss as f64),
            ("rtds_ingest_cpu_seconds_total", "counter", "CPU time of the ingest process, user + system", cpu),
        ];
        let mut text = crate::metrics::prometheus::PrometheusText::default();
        for (name, kind, help, value) in metrics {
            text.metric(name, kind, help, vec![(String::new(), value)]);
        }
        text.finish()
    }
}

/// Runs ingest to the end: one round, or rounds `every` interval until `stop` is set.
pub async fn run(options: IngestOptions, stop: Arc<AtomicBool>, counters: Arc<Counters>) -> Result<IngestSummary, IngestError> {
    let client = ApiClient::new(&options.api, RetryPolicy { max_attempts: options.attempts, ..Default::default() })?;
    let mut idle = Vec::with_capacity(STORES_IN_FLIGHT);
    for _ in 0..STORES_IN_FLIGHT {
        idle.push(UserStore::connect(&options.postgres).await?);
    }
    tracing::info!(api = %options.api, "ingest started");

    let started = Instant::now();
    let mut progress = Progress::new();
    let mut rounds = 0;
    let mut next_page = 1u32;
    loop {
        let round_started = Instant::now();
        rounds += 1;
        counters.rounds.fetch_add(1, Ordering::Relaxed);
        let seed = options.seed.clone().unwrap_or_else(random_seed);
        let pages = plan_pages(&options, &seed, &mut next_page, round_started, stop.clone());
        // Each fetch runs as its own task and splits its answer on the blocking pool, so pages
        // keep arriving and being parsed while earlier ones are stored.
        let mut fetched = pages
            .map(|request| {
                let client = client.clone();
                tokio::spawn(async move {
                    let answer = match client.fetch(&request).await {
                        Ok(body) => Ok(tokio::task::spawn_blocking(move || split_response(&body)).await),
                        Err(e) => Err(e),
                    };
                    (answer, request)
                })
            })
            .buffered(FETCHES_IN_FLIGHT);
        // Pages being stored, each on a connection of its own; a connection is idle again
        // once PostgreSQL committed its page.
        let mut storing = futures::stream::FuturesUnordered::new();
        let mut exhausted = false;
        loop {
            tokio::select! {
                biased;
                Some(done) = storing.next(), if !storing.is_empty() => {
                    idle.push(done?);
                    if options.progress {
                        progress.tick(|seconds| progress_line(&counters, seconds));
                    }
                }
                next = fetched.next(), if !exhausted && !idle.is_empty() => {
                    let Some(joined) = next else {
                        exhausted = true;
                        continue;
                    };
                    let (answer, request) = joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
                    let batch = match answer {
                        Ok(split) => split.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())),
                        Err(e) => {
                            counters.api_errors.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(error = %e, page = ?request.page, "API request failed; recorded as rejected");
                            Batch { rejected: vec![batch::failed_page(&request, &e)], ..Batch::default() }
                        }
                    };
                    counters.fetched.fetch_add(batch.users.len() as u64 + batch.rejected.len() as u64, Ordering::Relaxed);
                    let mut store = idle.pop().expect("an idle connection");
                    let (options, counters) = (&options, &*counters);
                    storing.push(async move {
                        store_batch(&mut store, options, &batch, counters).await.map(|()| store)
                    });
                }
                else => break,
            }
        }
        match options.every {
            Some(every) if !stop.load(Ordering::Relaxed) => {
                let wait = every.saturating_sub(round_started.elapsed());
                tracing::info!(round = rounds, next_in = ?wait, "round done");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = wait_for(stop.clone()) => break,
                }
            }
            _ => break,
        }
    }
    if options.progress {
        progress.finish(|seconds| progress_line(&counters, seconds));
    }
    let seconds = started.elapsed().as_secs_f64();
    let fetched = counters.fetched.load(Ordering::Relaxed);
    Ok(IngestSummary {
        rounds,
        fetched,
        stored: counters.stored.load(Ordering::Relaxed),
        rejected: counters.rejected.load(Ordering::Relaxed),
        api_errors: counters.api_errors.load(Ordering::Relaxed),
        store_retries: counters.store_retries.load(Ordering::Relaxed),
        seconds,
        users_per_second: fetched as f64 / seconds.max(1e-9),
    })
}

/// The round's requests: pages of `batch` users until `users` are asked for or `duration`
/// has passed, paced to `rate`, stopping early when `stop` is set.
fn plan_pages(
    options: &IngestOptions,
    seed: &str,
    next_page: &mut u32,
    started: Instant,
    stop: Arc<AtomicBool>,
) -> futures::stream::BoxStream<'static, PageRequest> {
    let batch = options.batch.clamp(1, crate::api::MAX_RESULTS) as u64;
    let users = options.users.unwrap_or(u64::MAX);
    let (duration, rate) = (options.duration, options.rate);
    let first_page = *next_page;
    // With a seed the pages continue across rounds; without one every request is fresh users.
    let pages_in_round = users.div_ceil(batch).min(u32::MAX as u64) as u32;
    if options.seed.is_some() {
        *next_page = next_page.saturating_add(pages_in_round);
    }
    let template = PageRequest { seed: Some(seed.to_string()), nat: options.nat.clone(), ..PageRequest::default() };
    futures::stream::unfold(0u64, move |asked| {
        let (template, stop) = (template.clone(), stop.clone());
        async move {
            if asked >= users || stop.load(Ordering::Relaxed) || duration.is_some_and(|d| started.elapsed() >= d) {
                return None;
            }
            let results = batch.min(users - asked);
            if let Some(rate) = rate {
                let due = Duration::from_secs_f64(asked as f64 / rate.max(1e-6));
                tokio::time::sleep(due.saturating_sub(started.elapsed())).await;
            }
            let page = first_page + (asked / batch) as u32;
            Some((PageRequest { results: results as u32, page: Some(page), ..template }, asked + results))
        }
    })
    .boxed()
}

/// Stores a page in PostgreSQL in one transaction, retrying with backoff until it succeeds
/// (up to `attempts`); storing a page again changes nothing, so a retry is harmless.
async fn store_batch(store: &mut UserStore, options: &IngestOptions, batch: &Batch, counters: &Counters) -> Result<(), IngestError> {
    // The shared policy (exponential, with jitter), with longer waits: a page waits out a
    // service restart within the default 8 attempts (waits of 0.5 s doubling to 16 s, 45 s and more in all).
    let mut waits = retry::backoff().with_min_delay(Duration::from_millis(500)).with_max_delay(Duration::from_secs(16)).build();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let error = match store.store(batch, &options.api).await {
            Ok(stored) => {
                counters.stored.fetch_add(stored.users, Ordering::Relaxed);
                counters.rejected.fetch_add(batch.rejected.len() as u64, Ordering::Relaxed);
                return Ok(());
            }
            Err(e) => e,
        };
        if attempt >= options.attempts.max(1) {
            return Err(IngestError::GaveUp { service: "PostgreSQL", attempts: attempt, last: error });
        }
        counters.store_retries.fetch_add(1, Ordering::Relaxed);
        let wait = waits.next().unwrap_or(Duration::from_secs(16));
        tracing::warn!(error = %error, attempt, ?wait, "storing a page failed; retrying");
        tokio::time::sleep(wait).await;
        // The connection may be gone: reconnect (the schema statements are idempotent).
        match UserStore::connect(&options.postgres).await {
            Ok(fresh) => *store = fresh,
            Err(e) => tracing::warn!(error = %e, "reconnecting to PostgreSQL failed"),
        }
    }
}

fn progress_line(counters: &Counters, seconds: f64) -> String {
    let fetched = counters.fetched.load(Ordering::Relaxed);
    format!(
        "fetched {fetched}  stored {}  rejected {}  api errors {}  {:.0} users/s",
        counters.stored.load(Ordering::Relaxed),
        counters.rejected.load(Ordering::Relaxed),
        counters.api_errors.load(Ordering::Relaxed),
        fetched as f64 / seconds.max(1e-9)
    )
}

async fn wait_for(stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
