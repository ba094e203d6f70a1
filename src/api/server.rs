//! `rtds api serve`: a randomuser.me-compatible HTTP server backed by the generator, with
//! fault injection for tests and benchmarks.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::generator::{self, GeneratedUser, Generator};
use super::query::ApiQuery;
use crate::model::Info;

/// The API version the clone speaks.
pub const VERSION: &str = "1.4";

/// The body randomuser.me sends when it fails.
pub const ERROR_BODY: &str = r#"{"error":"Uh oh, something has gone wrong. Please tell us on GitHub or Twitter!"}"#;

/// Faults to inject, all off by default.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Share (0–1) of requests answered 500 or 503 with [`ERROR_BODY`].
    pub error_rate: f64,
    /// Requests per second above which requests are answered 429.
    pub rate_limit: Option<u32>,
    /// Delay added before every answer.
    pub latency: Duration,
    /// Share (0–1) of records sent with a field of the wrong type (`"name": 12345`).
    pub malformed_rate: f64,
    /// Where the faults fall is drawn from this seed, not from chance: the n-th request of a
    /// server fails, or a page's record is corrupted, the same way on every run, so a test or
    /// benchmark that relies on faults gets the same ones every time.
    pub seed: u64,
}

impl Faults {
    /// Whether request number `n` (from 0) of this server is answered with an error.
    fn fails_request(&self, n: u64) -> bool {
        self.error_rate > 0.0 && draw(self.seed, &[b"request", &n.to_le_bytes()[..]]) < self.error_rate
    }

    /// Whether record `index` of `page` under API seed `seed` is sent corrupted: the same
    /// records of a page on every request, so a retried page brings the same bad records.
    fn corrupts_record(&self, seed: &str, page: u32, index: usize) -> bool {
        self.malformed_rate > 0.0
            && draw(self.seed, &[b"record", seed.as_bytes(), &page.to_le_bytes()[..], &(index as u64).to_le_bytes()[..]])
                < self.malformed_rate
    }
}

/// A number in [0, 1) fixed by the fault seed and `parts` (SHA-256: stable across builds and
/// platforms, unlike std's hasher).
fn draw(seed: u64, parts: &[&[u8]]) -> f64 {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    hasher.update(seed.to_le_bytes());
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    let bytes: [u8; 8] = hasher.finalize()[..8].try_into().expect("8 bytes");
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// What the server has answered, for logs and tests.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub requests: AtomicU64,
    pub users: AtomicU64,
    pub injected_errors: AtomicU64,
    pub rate_limited: AtomicU64,
    pub malformed_records: AtomicU64,
}

struct AppState {
    generator: Generator,
    faults: Faults,
    stats: Arc<ServerStats>,
    window: std::sync::Mutex<(Instant, u32)>,
}

/// The router, for embedding the clone in another server or a test.
pub fn router(faults: Faults, stats: Arc<ServerStats>) -> Router {
    let state = Arc::new(AppState {
        generator: Generator::new(),
        faults,
        stats,
        window: std::sync::Mutex::new((Instant::now(), 0)),
    });
    Router::new()
        .route("/api", get(latest))
        .route("/api/", get(latest))
        .route("/api/{version}", get(versioned))
        .route("/api/{version}/", get(versioned))
        .with_state(state)
}

/// Binds `addr` and serves until the process ends. Prints the address it listens on.
pub async fn serve(addr: SocketAddr, faults: Faults) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "randomuser-compatible API listening");
    axum::serve(listener, router(faults, Arc::default())).await
}

/// Starts the clone on an ephemeral loopback port in the background; returns its base URL
/// (`http://127.0.0.1:PORT/api/`). For tests, benchmarks and the embedded pipeline.
pub async fn spawn_local(faults: Faults) -> std::io::Result<(String, Arc<ServerStats>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/api/", listener.local_addr()?);
    let stats = Arc::new(ServerStats::default());
    let app = router(faults, stats.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, stats))
}

async fn latest(state: State<Arc<AppState>>, params: Query<HashMap<String, String>>) -> Response {
    answer(&state, &params).await
}

async fn versioned(
    state: State<Arc<AppState>>,
    Path(version): Path<String>,
    params: Query<HashMap<String, String>>,
) -> Response {
    if version != VERSION {
        let body = format!(r#"{{"error":"rtds api serve speaks API version {VERSION} only, not {version:?}"}}"#);
        return json(StatusCode::NOT_FOUND, body);
    }
    answer(&state, &params).await
}

async fn answer(state: &AppState, params: &HashMap<String, String>) -> Response {
    let stats = &state.stats;
    let request = stats.requests.fetch_add(1, Ordering::Relaxed);
    if !state.faults.latency.is_zero() {
        tokio::time::sleep(state.faults.latency).await;
    }
    if let Some(limit) = state.faults.rate_limit {
        if over_rate(&state.window, limit) {
            stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            let mut response = json(StatusCode::TOO_MANY_REQUESTS, ERROR_BODY.to_string());
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            return response;
        }
    }
    if state.faults.fails_request(request) {
        stats.injected_errors.fetch_add(1, Ordering::Relaxed);
        let status = if request % 2 == 0 { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::SERVICE_UNAVAILABLE };
        return json(status, ERROR_BODY.to_string());
    }
    let query = match ApiQuery::from_params(params) {
        Ok(query) => query,
        Err(e) => return json(StatusCode::BAD_REQUEST, serde_json::json!({ "error": e.to_string() }).to_string()),
    };
    let generator = state.generator.clone();
    let faults = state.faults.clone();
    let stats = state.stats.clone();
    let body = tokio::task::spawn_blocking(move || {
        let users = generator.page(&query.request);
        stats.users.fetch_add(users.len() as u64, Ordering::Relaxed);
        render(&query, &users, &faults, &stats)
    })
    .await
    .expect("generator task");
    json(StatusCode::OK, body)
}

/// Counts requests in the current one-second window; true when this one exceeds the limit.
fn over_rate(window: &std::sync::Mutex<(Instant, u32)>, limit: u32) -> bool {
    let mut window = window.lock().expect("rate window");
    if window.0.elapsed() >= Duration::from_secs(1) {
        *window = (Instant::now(), 0);
    }
    window.1 += 1;
    window.1 > limit
}

/// The response body: `{"results": [...], "info": {...}}`, records written one by one so a
/// share of them can be corrupted on purpose.
fn render(query: &ApiQuery, users: &[GeneratedUser], faults: &Faults, stats: &ServerStats) -> String {
    let mut out = Vec::with_capacity(users.len() * 1200 + 100);
    out.extend_from_slice(b"{\"results\":[");
    for (i, user) in users.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if faults.corrupts_record(&query.request.seed, query.request.page, i) {
            stats.malformed_records.fetch_add(1, Ordering::Relaxed);
            out.extend_from_slice(generator::malformed_json(user).as_bytes());
        } else {
            generator::write_json(user, &mut out);
        }
    }
    out.push(b']');
    if !query.noinfo {
        let info = Info {
            seed: Some(query.request.seed.clone()),
            results: Some(users.len() as u64),
            page: Some(query.request.page as u64),
            version: Some(VERSION.to_string()),
        };
        out.extend_from_slice(b",\"info\":");
        serde_json::to_writer(&mut out, &info).expect("serializable");
    }
    out.push(b'}');
    let body = String::from_utf8(out).expect("serde_json writes UTF-8");
    if query.pretty {
        let value: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
        serde_json::to_string_pretty(&value).expect("serializable")
    } else {
        body
    }
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body).into_response()
}
