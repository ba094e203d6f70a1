//! The alerts firing in Prometheus, for the status page (`rtds master --prometheus URL`): the
//! rules in `ops/prometheus/rules/` decide what is wrong; the page shows it beside the figures
//! and links to Prometheus for the rest.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::StatusState;

/// How often the master asks Prometheus.
const POLL_EVERY: Duration = Duration::from_secs(2);

/// The alerts, as last read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AlertsStatus {
    /// Where a reader finds Prometheus's own page of alerts.
    pub link: String,
    /// Alerts firing now, oldest first.
    pub firing: Vec<Alert>,
    /// Alerts whose condition holds but not yet for their rule's `for`.
    pub pending: usize,
    /// Why the alerts could not be read, when they could not.
    pub error: Option<String>,
}

/// One firing alert.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Alert {
    pub name: String,
    pub severity: String,
    pub summary: String,
    /// When its condition began to hold (RFC 3339, as Prometheus gives it).
    pub since: String,
    /// Its other labels (job, instance, process, …).
    pub labels: BTreeMap<String, String>,
}

/// Prometheus's `/api/v1/alerts` answer, as much of it as the page shows.
#[derive(Deserialize)]
struct Answer {
    data: AnswerData,
}

#[derive(Deserialize)]
struct AnswerData {
    alerts: Vec<RawAlert>,
}

#[derive(Deserialize)]
struct RawAlert {
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    state: String,
    #[serde(rename = "activeAt", default)]
    active_at: String,
}

/// The firing alerts of an `/api/v1/alerts` answer, oldest first, and how many are pending.
pub fn parse_alerts(body: &[u8]) -> Result<(Vec<Alert>, usize), serde_json::Error> {
    let answer: Answer = serde_json::from_slice(body)?;
    let pending = answer.data.alerts.iter().filter(|a| a.state == "pending").count();
    let mut firing: Vec<Alert> = answer
        .data
        .alerts
        .into_iter()
        .filter(|a| a.state == "firing")
        .map(|mut a| Alert {
            name: a.labels.remove("alertname").unwrap_or_default(),
            severity: a.labels.remove("severity").unwrap_or_default(),
            summary: a.annotations.remove("summary").unwrap_or_default(),
            since: a.active_at,
            labels: a.labels,
        })
        .collect();
    firing.sort_by(|a, b| (&a.since, &a.name).cmp(&(&b.since, &b.name)));
    Ok((firing, pending))
}

/// The address without a user and password, for a link on the page.
pub fn without_credentials(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.as_str().trim_end_matches('/').to_string()
        }
        Err(_) => String::new(),
    }
}

/// An error and its causes ("error sending request: client error (Connect): tcp connect error:
/// Connection refused"), without the URL reqwest names in its own message (it may hold a
/// password).
fn cause(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// Polls `url`'s alerts into `state` until the process ends. A Prometheus that does not
/// answer is shown as the error, never as "no alerts".
pub async fn poll_alerts(state: StatusState, url: String, link: String) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("an HTTP client builds");
    let endpoint = format!("{}/api/v1/alerts", url.trim_end_matches('/'));
    let shown = without_credentials(&url);
    loop {
        let read = async {
            let answer = client.get(&endpoint).send().await?.error_for_status()?;
            Ok::<_, reqwest::Error>(answer.bytes().await?)
        };
        let status = match read.await {
            Ok(body) => match parse_alerts(&body) {
                Ok((firing, pending)) => AlertsStatus { link: link.clone(), firing, pending, error: None },
                Err(e) => AlertsStatus { link: link.clone(), error: Some(format!("Prometheus at {shown} answered something else than its alerts: {e}")), ..Default::default() },
            },
            Err(e) => AlertsStatus { link: link.clone(), error: Some(format!("cannot read the alerts of Prometheus at {shown}: {}", cause(e))), ..Default::default() },
        };
        *state.alerts.lock().expect("status") = Some(status);
        tokio::time::sleep(POLL_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firing_alerts_are_read_and_pending_ones_counted() {
        let body = br#"{"status":"success","data":{"alerts":[
            {"labels":{"alertname":"RtdsWorkerProcessDied","severity":"warning","job":"rtds-master","instance":"127.0.0.1:8080"},
             "annotations":{"summary":"an rtds worker process died"},"state":"firing","activeAt":"2026-12-06T10:00:02Z","value":"1e+00"},
            {"labels":{"alertname":"RtdsMasterDown","severity":"critical"},"annotations":{},"state":"firing","activeAt":"2026-12-06T10:00:01Z","value":"0"},
            {"labels":{"alertname":"RtdsKafkaLagGrowing","severity":"warning"},"annotations":{},"state":"pending","activeAt":"2026-12-06T10:00:03Z","value":"5"}]}}"#;
        let (firing, pending) = parse_alerts(body).unwrap();
        assert_eq!(pending, 1);
        assert_eq!(firing.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["RtdsMasterDown", "RtdsWorkerProcessDied"], "oldest first");
        let died = &firing[1];
        assert_eq!((died.severity.as_str(), died.summary.as_str()), ("warning", "an rtds worker process died"));
        assert_eq!(died.labels.get("job").map(String::as_str), Some("rtds-master"));
        assert!(!died.labels.contains_key("alertname"));
    }

    #[test]
    fn a_page_that_is_not_prometheus_is_an_error() {
        assert!(parse_alerts(b"<html>login</html>").is_err());
        assert!(parse_alerts(br#"{"status":"success","data":{}}"#).is_err());
    }

    #[test]
    fn links_carry_no_credentials() {
        assert_eq!(without_credentials("http://ops:s3cret@prometheus:9090/"), "http://prometheus:9090");
        assert_eq!(without_credentials("http://127.0.0.1:9090"), "http://127.0.0.1:9090");
        assert_eq!(without_credentials("not a url"), "");
    }
}
