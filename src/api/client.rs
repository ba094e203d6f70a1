//! The API client: reqwest with timeouts, and retries with exponential backoff and full
//! jitter on 429, 5xx, timeouts and refused connections.

use std::time::Duration;

use rand::Rng;
use reqwest::StatusCode;

/// The real API, the default source.
pub const RANDOMUSER_URL: &str = "https://randomuser.me/api/";

/// How hard to try before giving up.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles after each failure.
    pub base_delay: Duration,
    /// Longest single backoff.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_attempts: 8, base_delay: Duration::from_millis(200), max_delay: Duration::from_secs(10) }
    }
}

impl RetryPolicy {
    /// Full jitter: a uniform wait in `0..=min(max, base·2^failures)`.
    fn backoff(&self, failures: u32) -> Duration {
        let ceiling = self.base_delay.saturating_mul(1 << failures.min(16)).min(self.max_delay);
        ceiling.mul_f64(rand::rng().random_range(0.0..=1.0))
    }
}

/// One page to ask for; `None` leaves a parameter out.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub results: u32,
    pub page: Option<u32>,
    pub seed: Option<String>,
    pub nat: Option<String>,
    pub gender: Option<String>,
    pub inc: Option<String>,
    pub exc: Option<String>,
    pub noinfo: bool,
}

/// Why a fetch failed for good.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("randomuser API at {url} still failing after {attempts} attempts: {last}")]
    GaveUp { url: String, attempts: u32, last: String },
    #[error("randomuser API at {url} refused the request with {status}: {body}")]
    Refused { url: String, status: StatusCode, body: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// A randomuser API client.
///
/// ```no_run
/// # async fn demo() -> Result<(), rtds::api::FetchError> {
/// let client = rtds::api::ApiClient::new(rtds::api::RANDOMUSER_URL, Default::default())?;
/// let body = client.fetch(&rtds::api::PageRequest { results: 10, ..Default::default() }).await?;
/// let response = rtds::model::parse_response(&body).unwrap();
/// assert_eq!(response.results.len(), 10);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    url: String,
    retry: RetryPolicy,
}

impl ApiClient {
    /// A client for `url` (e.g. [`RANDOMUSER_URL`] or `http://127.0.0.1:8000/api/`).
    pub fn new(url: &str, retry: RetryPolicy) -> Result<ApiClient, FetchError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("rtds/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Client(e.to_string()))?;
        Ok(ApiClient { http, url: url.to_string(), retry })
    }

    /// The URL this client asks.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Fetches one page and returns the body text, retrying what may pass on a second try.
    pub async fn fetch(&self, page: &PageRequest) -> Result<String, FetchError> {
        let query = page.query_pairs();
        let mut failures = 0;
        loop {
            let outcome = self.http.get(&self.url).query(&query).send().await;
            let (retry_after, last) = match outcome {
                Ok(response) if response.status().is_success() => match response.text().await {
                    Ok(body) => return Ok(body),
                    Err(e) => (None, format!("reading the body: {e}")),
                },
                Ok(response) => {
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let body = response.text().await.unwrap_or_default();
                    if status != StatusCode::TOO_MANY_REQUESTS && !status.is_server_error() {
                        return Err(FetchError::Refused { url: self.url.clone(), status, body });
                    }
                    (retry_after, format!("{status}: {}", body.chars().take(200).collect::<String>()))
                }
                Err(e) => (None, describe(&e)),
            };
            failures += 1;
            if failures >= self.retry.max_attempts {
                return Err(FetchError::GaveUp { url: self.url.clone(), attempts: failures, last });
            }
            let wait = retry_after.map_or_else(|| self.retry.backoff(failures), |d| d.min(self.retry.max_delay));
            tracing::debug!(url = %self.url, failures, ?wait, %last, "API request failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

impl PageRequest {
    fn query_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![("results", self.results.to_string())];
        let optional = [
            ("page", self.page.map(|p| p.to_string())),
            ("seed", self.seed.clone()),
            ("nat", self.nat.clone()),
            ("gender", self.gender.clone()),
            ("inc", self.inc.clone()),
            ("exc", self.exc.clone()),
        ];
        pairs.extend(optional.into_iter().filter_map(|(k, v)| Some((k, v?))));
        if self.noinfo {
            pairs.push(("noinfo", String::new()));
        }
        pairs
    }
}

/// reqwest's error with its causes, which hold the useful part ("connection refused").
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
