//! The randomuser.me side: a client for the real API and a compatible clone of it.
//!
//! - [`generator`]: deterministic 1.4 records for all 21 nationalities;
//! - [`server`]: `rtds api serve`, the HTTP clone with fault injection;
//! - [`ApiClient`]: fetches pages with timeouts and retries.

mod client;
pub mod generator;
mod query;
pub mod server;

pub use client::{ApiClient, FetchError, PageRequest, RANDOMUSER_URL, RetryPolicy};
pub use query::{ApiQuery, MAX_RESULTS, QueryError, random_seed};
pub use server::{Faults, ServerStats};
