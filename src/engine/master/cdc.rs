//! The CDC stage run by the master (`rtds master --cdc`): one `rtds cdc` child process,
//! started again whenever it exits, with its report lines kept for the status page.
//!
//! The stage is independent of the cluster: it keeps streaming while worker processes
//! restart, and a restart of the stage costs the cluster nothing (the stage resumes from its
//! last resume point in Kafka, exactly once). Connection strings reach the child through its
//! environment (`RTDS_POSTGRES`, `RTDS_KAFKA`), never its command line, which `ps` shows.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};

use crate::cdc::CdcReport;
use crate::engine::control;
use crate::engine::status::CdcStageStatus;

/// A stage that ran this long before it exited is started again at once (after the first
/// delay); one that keeps failing sooner waits longer each time, up to 30 s.
const HEALTHY_AFTER: Duration = Duration::from_secs(60);

/// How to start the stage.
#[derive(Debug, Clone)]
pub struct CdcStage {
    /// The rtds binary.
    pub program: PathBuf,
    pub postgres: String,
    pub kafka: String,
    /// Further flags of `rtds cdc` (`--topic`, `--slot`).
    pub args: Vec<String>,
}

/// Runs the stage on a thread of its own until the master exits (the child dies with it).
pub fn run_cdc_stage(stage: CdcStage, status: Arc<Mutex<Option<CdcStageStatus>>>) {
    *status.lock().expect("status") = Some(CdcStageStatus::default());
    std::thread::spawn(move || {
        let delays = || ExponentialBuilder::default().with_min_delay(Duration::from_secs(1)).with_max_delay(Duration::from_secs(30)).without_max_times().build();
        let mut delay = delays();
        loop {
            let started = Instant::now();
            let exit = run_once(&stage, &status);
            if started.elapsed() >= HEALTHY_AFTER {
                delay = delays();
            }
            let wait = delay.next().unwrap_or(Duration::from_secs(30));
            eprintln!("rtds master: the CDC stage exited ({exit}); starting it again in {}", humantime::format_duration(wait));
            {
                let mut status = status.lock().expect("status");
                let status = status.get_or_insert_with(Default::default);
                status.running = false;
                status.pid = None;
                status.restarts += 1;
                status.last_exit = Some(exit);
                status.changes_per_second = 0.0;
            }
            std::thread::sleep(wait);
        }
    });
}

/// Starts the stage once and waits for it to exit; returns how it exited.
fn run_once(stage: &CdcStage, status: &Arc<Mutex<Option<CdcStageStatus>>>) -> String {
    let spawned = control::die_with_parent(&mut Command::new(&stage.program))
        .arg("cdc")
        .arg("--report")
        .args(&stage.args)
        .env("RTDS_POSTGRES", &stage.postgres)
        .env("RTDS_KAFKA", &stage.kafka)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => return format!("cannot start {}: {e}", stage.program.display()),
    };
    eprintln!("rtds master: started the CDC stage (pid {})", child.id());
    {
        let mut status = status.lock().expect("status");
        let status = status.get_or_insert_with(Default::default);
        status.running = true;
        status.pid = Some(child.id());
    }
    super::local::relay_lines(child.stderr.take(), "[cdc]".to_string());
    let reports = child.stdout.take().map(|stdout| {
        let status = status.clone();
        std::thread::spawn(move || {
            let mut last = Instant::now();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                match CdcReport::parse_line(&line) {
                    Some(report) => {
                        let mut status = status.lock().expect("status");
                        status.get_or_insert_with(Default::default).update(report, last.elapsed().as_secs_f64());
                        last = Instant::now();
                    }
                    None => eprintln!("[cdc] {line}"),
                }
            }
        })
    });
    let exit = child.wait().map_or_else(|e| e.to_string(), |status| status.to_string());
    if let Some(reports) = reports {
        let _ = reports.join();
    }
    exit
}
