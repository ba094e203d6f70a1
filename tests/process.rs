//! Processes a test starts: their output in files, the address a server printed, waiting
//! for them with a time limit, and killing them.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::unique;

/// A process started by a test, its stderr going to a file (a pipe nobody reads while it
/// runs would fill up and block it); killed when dropped, so a failed test leaves nothing
/// running.
pub struct Running {
    pub child: Child,
    pub log: std::path::PathBuf,
    /// Where stdout goes, when kept.
    pub out: Option<std::path::PathBuf>,
    /// The command line, to name the process in a failed test's output.
    command: String,
}

impl Running {
    pub fn spawn(command: Command) -> Running {
        Running::start(command, None)
    }

    /// The same, keeping stdout in a file (a worker's report and summary lines).
    pub fn spawn_keeping_stdout(command: Command) -> Running {
        Running::start(command, Some(std::env::temp_dir().join(unique("out"))))
    }

    fn start(mut command: Command, out: Option<std::path::PathBuf>) -> Running {
        match &out {
            Some(out) => command.stdout(std::fs::File::create(out).unwrap()),
            None => command.stdout(Stdio::null()),
        };
        let log = std::env::temp_dir().join(unique("log"));
        let child = command.stderr(std::fs::File::create(&log).unwrap()).spawn().unwrap();
        let args = command.get_args().map(|arg| redacted(&arg.to_string_lossy())).collect::<Vec<_>>().join(" ");
        let command = format!("{} {args}", command.get_program().to_string_lossy());
        Running { child, log, out, command }
    }

    /// Waits (up to a minute) until the process printed `prefix` and an address on stderr, and
    /// returns the address's port: servers of tests listen on port 0 and say where they are.
    pub fn port_after(&self, prefix: &str) -> u16 {
        let started = Instant::now();
        loop {
            let log = self.stderr();
            let port = log.lines().find_map(|line| {
                let rest = &line[line.find(prefix)? + prefix.len()..];
                let address = rest.split(['/', ' ', '`']).next()?;
                address.rsplit(':').next()?.parse::<u16>().ok()
            });
            if let Some(port) = port {
                return port;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{} never printed {prefix:?}:\n{}", self.command, tail(&log));
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the process printed on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to a minute) until the process printed `prefix` and a port on stdout (kept
    /// with `spawn_keeping_stdout`), and returns the port.
    pub fn port_in_stdout(&self, prefix: &str) -> u16 {
        let started = Instant::now();
        loop {
            let port = self.stdout().lines().find_map(|line| {
                let rest = &line[line.find(prefix)? + prefix.len()..];
                rest.trim_end_matches(|c: char| !c.is_ascii_digit()).parse::<u16>().ok()
            });
            if let Some(port) = port {
                return port;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "the process never printed {prefix:?}:\n{}", tail(&self.stderr()));
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the process printed on stdout so far (kept with `spawn_keeping_stdout`).
    pub fn stdout(&self) -> String {
        self.out.as_ref().map(|out| std::fs::read_to_string(out).unwrap_or_default()).unwrap_or_default()
    }

    /// Kills the process at once (SIGKILL), as a crash would; returns its stderr.
    pub fn kill9(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log);
        text
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A failing test shows what its processes said: in CI this is all there is to go on.
        if std::thread::panicking() {
            let exited = match self.child.try_wait() {
                Ok(Some(status)) => format!("exited: {status}"),
                _ => "still running".to_string(),
            };
            eprintln!("--- {} ({exited}), stderr's end:\n{}\n---", self.command, tail(&self.stderr()));
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits for a process with a time limit; returns its stderr.
pub fn finish(mut running: Running, what: &str, limit: Duration) -> String {
    let started = Instant::now();
    let stderr = |log: &std::path::Path| std::fs::read_to_string(log).unwrap_or_default();
    loop {
        if let Some(status) = running.child.try_wait().unwrap() {
            let text = stderr(&running.log);
            let _ = std::fs::remove_file(&running.log);
            assert!(status.success(), "{what} failed ({status}):\n{}", tail(&text));
            return text;
        }
        if started.elapsed() > limit {
            let _ = running.child.kill();
            let _ = running.child.wait();
            panic!("{what} did not finish within {limit:?}:\n{}", tail(&stderr(&running.log)));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An argument with the password of a URL in it (`scheme://user:password@host`) blanked out:
/// a failed test prints its processes' command lines.
fn redacted(arg: &str) -> String {
    let Some(scheme_end) = arg.find("://") else { return arg.to_string() };
    let rest = &arg[scheme_end + 3..];
    match (rest.find(':'), rest.find('@')) {
        (Some(colon), Some(at)) if colon < at && !rest[..at].contains('/') => format!("{}{}:***{}", &arg[..scheme_end + 3], &rest[..colon], &rest[at..]),
        _ => arg.to_string(),
    }
}

pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

