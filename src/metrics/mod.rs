//! Counters shared by a pipeline's workers, and the progress line drawn from them.

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
    expected: u64,
}

impl Progress {
    /// Progress towards `expected` records in.
    pub fn new(expected: u64) -> Progress {
        let now = Instant::now();
        Progress { started: now, last: now, terminal: std::io::stderr().is_terminal(), expected }
    }

    /// Draws the line if it is time to.
    pub fn tick(&mut self, counters: &Counters) {
        let every = if self.terminal { Duration::from_millis(200) } else { Duration::from_secs(2) };
        if self.last.elapsed() >= every {
            self.last = Instant::now();
            self.draw(counters);
        }
    }

    /// Draws the line now, and ends it.
    pub fn finish(&mut self, counters: &Counters) {
        if self.terminal {
            self.draw(counters);
            eprintln!();
        }
    }

    fn draw(&self, counters: &Counters) {
        let (records_in, rejected, rows_out) = counters.snapshot();
        let seconds = self.started.elapsed().as_secs_f64().max(1e-9);
        let percent = if self.expected > 0 { 100.0 * records_in as f64 / self.expected as f64 } else { 0.0 };
        let line = format!(
            "{percent:5.1}%  in {records_in}  out {rows_out}  rejected {rejected}  {:.0} records/s",
            records_in as f64 / seconds
        );
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }
}
