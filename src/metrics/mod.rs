//! Counters shared by a pipeline's workers, the progress line drawn from them, and the
//! process's own CPU and memory.

pub mod prometheus;
mod worker;

pub use worker::{Latencies, ProcessCounters, drain_histogram};

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What a pipeline has done so far; every worker adds to the same counters.
#[derive(Debug, Default)]
pub struct Counters {
    /// Records read from the source (replays included).
    pub records_in: AtomicU64,
    /// Records rejected by parsing or checks.
    pub rejected: AtomicU64,
    /// Rows written by the sink after dedupe.
    pub rows_out: AtomicU64,
}

impl Counters {
    /// Reads all counters at once.
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.records_in.load(Ordering::Relaxed),
            self.rejected.load(Ordering::Relaxed),
            self.rows_out.load(Ordering::Relaxed),
        )
    }
}

/// Draws progress on stderr: a line redrawn in place on a terminal, a line every few
/// seconds otherwise (logs, CI).
pub struct Progress {
    started: Instant,
    last: Instant,
    terminal: bool,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    /// Starts the clock.
    pub fn new() -> Progress {
        let now = Instant::now();
        Progress { started: now, last: now, terminal: std::io::stderr().is_terminal() }
    }

    /// Seconds since the start.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Draws the line `line` makes, if it is time to.
    pub fn tick(&mut self, line: impl FnOnce(f64) -> String) {
        let every = if self.terminal { Duration::from_millis(200) } else { Duration::from_secs(2) };
        if self.last.elapsed() >= every {
            self.last = Instant::now();
            self.draw(&line(self.elapsed()));
        }
    }

    /// Draws the last line and ends it (on a terminal; logs already have their lines).
    pub fn finish(&mut self, line: impl FnOnce(f64) -> String) {
        if self.terminal {
            self.draw(&line(self.elapsed()));
            eprintln!();
        }
    }

    fn draw(&self, line: &str) {
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }
}

/// This process's resident memory (bytes) and CPU time (user + system seconds): memory from
/// `/proc/self/statm` in pages of the system's size (0 where /proc is not there), CPU from
/// `getrusage`.
///
/// ```
/// let (rss, cpu) = rtds::metrics::process_usage();
/// assert!(rss > 0 && cpu >= 0.0);
/// ```
pub fn process_usage() -> (u64, f64) {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(0) as u64;
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page);
    let usage = rusage();
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (rss, seconds(usage.ru_utime) + seconds(usage.ru_stime))
}

/// This process's peak resident memory in bytes (`getrusage`'s `ru_maxrss`, kilobytes on Linux).
///
/// ```
/// assert!(rtds::metrics::peak_rss() >= rtds::metrics::process_usage().0 / 2);
/// ```
pub fn peak_rss() -> u64 {
    rusage().ru_maxrss.max(0) as u64 * 1024
}

/// The CPU time (seconds) the calling thread has used: beside its wall time, it tells work from
/// waiting for a core (a restart's checkpoints open while Cassandra compacts).
///
/// ```
/// assert!(rtds::metrics::thread_cpu_seconds() >= 0.0);
/// ```
pub fn thread_cpu_seconds() -> f64 {
    // SAFETY: clock_gettime fills the struct it is given; all-zero is a valid timespec.
    let time = unsafe {
        let mut time: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time);
        time
    };
    time.tv_sec as f64 + time.tv_nsec as f64 / 1e9
}

fn rusage() -> libc::rusage {
    // SAFETY: getrusage fills the struct it is given; all-zero is a valid rusage.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    }
}
