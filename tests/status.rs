//! The master's live status page (`/`), seen the way a person sees it: headless Chromium,
//! driven through chromedriver's WebDriver protocol, watches a cluster move a stream of users
//! from Kafka to Cassandra, and what the page shows must match what Kafka and PostgreSQL hold.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use rtds::api::Faults;
use rtds::api::server::spawn_local;

use crate::cluster::harness::STATUS_PAGE_ON;
use crate::process::{Running, tail};
use crate::util::{cdc_args, consume_all, fresh_database, kafka, required_env, rtds, run_ingest, runtime, service, stack_lock, unique};

const CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL: &str = "install Debian's `chromium` and `chromium-driver` (`apt-get install chromium chromium-driver`; scripts/test does)";

/// Headless Chromium behind chromedriver, one WebDriver session.
pub(crate) struct Browser {
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
    session: String,
    base: String,
    driver: Running,
}

impl Browser {
    /// Starts chromedriver and a session; a missing Chromium or chromedriver fails the test.
    pub(crate) fn start() -> Browser {
        assert!(Path::new(CHROMIUM).exists(), "Chromium is missing ({CHROMIUM}): {INSTALL}");
        let chromedriver = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|dir| dir.join("chromedriver"))
            .find(|path| path.exists())
            .unwrap_or_else(|| panic!("chromedriver is not on PATH: {INSTALL}"));
        let mut command = Command::new(chromedriver);
        command.arg("--port=0");
        // chromedriver says where it listens on stdout.
        let driver = Running::spawn_keeping_stdout(command);
        let port = driver.port_in_stdout("was started successfully on port ");
        let rt = runtime();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let mut browser = Browser { http, rt, session: String::new(), base, driver };
        let started = Instant::now();
        while browser.call("GET", "/status", None).ok().and_then(|v| v["ready"].as_bool()) != Some(true) {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not start:\n{}", tail(&browser.driver.stderr()));
            std::thread::sleep(Duration::from_millis(100));
        }
        let args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--window-size=1400,1000"];
        let capabilities = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {"binary": CHROMIUM, "args": args}}}});
        let session = browser.call("POST", "/session", Some(capabilities)).unwrap_or_else(|e| panic!("{e}\n{}", tail(&browser.driver.stderr())));
        browser.session = session["sessionId"].as_str().expect("a session id").to_string();
        browser
    }

    /// One WebDriver command; its `value`, or the error it answered.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        self.rt.block_on(async {
            let url = format!("{}{path}", self.base);
            let request = match method {
                "GET" => self.http.get(&url),
                "DELETE" => self.http.delete(&url),
                _ => self.http.post(&url).header("content-type", "application/json").body(body.unwrap_or(json!({})).to_string()),
            };
            let text = request.send().await.map_err(|e| e.to_string())?.text().await.map_err(|e| e.to_string())?;
            let answer: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
            match answer["value"].get("error") {
                Some(error) => Err(format!("WebDriver {method} {path}: {error}: {}", answer["value"]["message"])),
                None => Ok(answer["value"].clone()),
            }
        })
    }

    pub(crate) fn goto(&self, url: &str) {
        self.call("POST", &format!("/session/{}/url", self.session), Some(json!({"url": url}))).unwrap();
    }

    /// Runs a script in the page and returns what it returns.
    pub(crate) fn script(&self, script: &str) -> Value {
        self.call("POST", &format!("/session/{}/execute/sync", self.session), Some(json!({"script": script, "args": []}))).unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
    }
}

/// What the page shows: the text of its numbered elements and of every view's value by key.
pub(crate) const READ_PAGE: &str = r#"
    const text = (id) => { const e = document.getElementById(id); return e ? e.textContent : null; };
    const views = {};
    for (const e of document.querySelectorAll("[data-view]")) {
        (views[e.dataset.view] = views[e.dataset.view] || {})[e.dataset.key] = e.textContent;
    }
    const panel = document.getElementById("alerts-panel");
    const alerts = { shown: !panel.hidden, summary: text("alerts-summary"), link: document.getElementById("alerts-link").href,
                     firing: [...document.querySelectorAll("[data-alert]")].map((e) => e.dataset.alert) };
    return { processed: text("processed"), ingested: text("high-watermark"), lag: text("lag"), rejected: text("rejected"),
             state: text("state"), banner: text("banner"), views, alerts };
"#;

/// A number as the page writes it ("12,345"); None for a placeholder.
fn number(text: &Value) -> Option<i64> {
    let digits: String = text.as_str()?.chars().filter(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[test]
#[ignore = "needs PostgreSQL, Kafka, Cassandra and Chromium: run scripts/test"]
fn the_status_page_follows_the_pipeline_live() {
    let _stack = stack_lock();
    let prometheus = required_env("RTDS_PROMETHEUS", "Prometheus", "scripts/stack up");
    let browser = Browser::start();
    let brokers = kafka();
    let rt = runtime();
    let (api, _) = rt.block_on(spawn_local(Faults::default())).unwrap();
    let database = rt.block_on(fresh_database("statuspage"));
    let (topic, keyspace) = (unique("statuspage"), unique("ks"));
    let first = run_ingest(&api, &database, &brokers, &topic, &["--users", "2000", "--seed", &unique("seed"), "--partitions", "8", "--batch", "1000"]);

    // The cluster finishes after 15 s without a record: the page is read well before that.
    let mut command = rtds();
    command
        .args(["master", "--local", "-n", "2", "-w", "2", "--http", "127.0.0.1:0"])
        .args(["--kafka", &brokers, "--cassandra", &service("RTDS_CASSANDRA"), "--topic", &topic, "--keyspace", &keyspace])
        .args(["--idle-exit", "15s", "--postgres", &database, "--prometheus", &prometheus]);
    let mut master = Running::spawn(command);
    let http = master.port_after(STATUS_PAGE_ON);
    let page = format!("http://127.0.0.1:{http}/");
    let started = Instant::now();
    loop {
        let answer = rt.block_on(async { reqwest::get(&page).await.map(|r| r.status()) });
        match answer {
            Ok(status) if status.is_success() => break,
            Ok(status) if started.elapsed() > Duration::from_secs(30) => panic!("rtds master answers {status} at /, not the status page"),
            _ => assert!(started.elapsed() < Duration::from_secs(30), "rtds master serves nothing at {page}:\n{}", tail(&master.stderr())),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    browser.goto(&page);

    // 8,000 more users over about 10 s: the page must show them arriving, not only the end.
    let mut command = rtds();
    command
        .args(["ingest", "--api", &api, "--postgres", &database, "--json"])
        .args(["--users", "8000", "--seed", &unique("seed"), "--batch", "1000", "--rate", "800", "--attempts", "20"]);
    let mut more = Running::spawn_keeping_stdout(command);
    // The CDC stage streams the new users into Kafka as ingest stores them.
    let mut cdc = rtds();
    cdc.args(cdc_args(&database, &brokers, &topic));
    let _cdc = Running::spawn(cdc);

    let mut shown: Vec<i64> = Vec::new();
    let mut produced = None;
    let mut last = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(120);
    let (top_country, postgres_count) = loop {
        assert!(
            Instant::now() < deadline,
            "the page did not catch up within 120 s; it shows {last:#}\nprocessed counts seen: {shown:?}\nrtds master:\n{}",
            tail(&master.stderr())
        );
        last = browser.script(READ_PAGE);
        if let Some(processed) = number(&last["processed"]) {
            if shown.last() != Some(&processed) {
                shown.push(processed);
            }
        }
        if produced.is_none() {
            if let Some(status) = more.child.try_wait().unwrap() {
                assert!(status.success(), "the background ingest failed ({status}):\n{}", tail(&more.stderr()));
                let summary: Value = serde_json::from_str(&more.stdout()).unwrap();
                produced = Some(first["stored"].as_i64().unwrap() + summary["stored"].as_i64().unwrap());
            }
        }
        let Some(total) = produced else {
            std::thread::sleep(Duration::from_millis(250));
            continue;
        };
        let caught_up = number(&last["processed"]) == Some(total) && number(&last["ingested"]) == Some(total) && number(&last["lag"]) == Some(0);
        if caught_up {
            // The most common country, as PostgreSQL counts it, against the page's live view.
            let (country, count) = rt.block_on(async {
                let client = rtds::connectors::postgres::connect(&database).await.unwrap();
                let row = client
                    .query_one("select coalesce(country, 'unknown'), count(*) from created_users group by 1 order by 2 desc, 1 limit 1", &[])
                    .await
                    .unwrap();
                (row.get::<_, String>(0), row.get::<_, i64>(1))
            });
            if number(&last["views"]["users_by_country"][&country]) == Some(count) {
                break (country, count);
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let total = produced.unwrap();
    assert_eq!(total, 10_000, "PostgreSQL stored every user");
    // Kafka got every user once: the topic's committed messages, read back, one per id, each
    // keyed by its id.
    let messages = consume_all(&brokers, &topic, total as usize);
    let ids: HashSet<String> = messages
        .iter()
        .map(|m| {
            let row: Value = serde_json::from_str(&m.payload).unwrap_or_else(|e| panic!("a message of {topic} is not a row ({e}): {:?}", m.payload));
            let id = row["id"].as_str().expect("a row has an id").to_string();
            assert_eq!(m.key.as_deref(), Some(id.as_str()), "a message is keyed by its row's id");
            id
        })
        .collect();
    assert_eq!((messages.len(), ids.len()), (10_000, 10_000), "Kafka got every user once (messages, distinct ids)");
    assert!(
        shown.iter().any(|&n| n > 0 && n < total),
        "the page showed the count rising while users streamed in, not only the end: {shown:?}"
    );
    assert!(shown.windows(2).all(|w| w[0] <= w[1]), "the processed count never went back: {shown:?}");
    assert_eq!(last["state"].as_str().map(str::trim), Some("running"), "{last:#}");
    assert_eq!(number(&last["rejected"]).unwrap_or(0), 0, "no user was rejected: {last:#}");
    assert_eq!(last["banner"].as_str().map(str::trim), Some(""), "no error banner: {last:#}");
    assert_eq!(number(&last["views"]["users_by_country"][&top_country]), Some(postgres_count), "users from {top_country}");
    // The alerts of Prometheus: a panel linking to its page (a firing one: cluster::alerts).
    let alerts = &last["alerts"];
    assert_eq!(alerts["shown"], true, "{last:#}");
    assert_eq!(alerts["link"].as_str(), Some(format!("{}/alerts", prometheus.trim_end_matches('/')).as_str()), "{alerts:#}");
    assert!(alerts["summary"].as_str().is_some_and(|s| s.split(' ').nth(1) == Some("firing")), "{alerts:#}");
    // The CDC stage's slot, as the master shows it: read by the running stage, holding back
    // little, no warning.
    let status: Value = rt.block_on(async { serde_json::from_str(&reqwest::get(format!("http://127.0.0.1:{http}/status")).await.unwrap().text().await.unwrap()).unwrap() });
    let slot = &status["cdc"];
    assert_eq!((slot["exists"].as_bool(), slot["active"].as_bool()), (Some(true), Some(true)), "{slot:#}");
    assert!(slot["warning"].is_null() && slot["lag_bytes"].as_i64().is_some_and(|lag| lag >= 0), "{slot:#}");

    // The cluster goes idle and finishes by itself, its worker processes with it.
    let idle = Instant::now();
    while master.child.try_wait().unwrap().is_none() {
        assert!(idle.elapsed() < Duration::from_secs(90), "rtds master did not finish after going idle:\n{}", tail(&master.stderr()));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(master.child.wait().unwrap().success(), "rtds master failed:\n{}", tail(&master.stderr()));
}
