//! Prometheus text format, for the master's and ingest's `/metrics`.

use std::fmt::Write as _;

/// Prometheus text exposition, built metric by metric.
///
/// ```
/// let mut text = rtds::metrics::prometheus::PrometheusText::default();
/// text.metric("rtds_up", "gauge", "1 when up", vec![(String::new(), 1.0)]);
/// assert_eq!(text.finish(), "# HELP rtds_up 1 when up\n# TYPE rtds_up gauge\nrtds_up 1\n");
/// ```
#[derive(Debug, Default)]
pub struct PrometheusText(String);

impl PrometheusText {
    /// One metric: `samples` are (labels without braces, value); empty labels for none.
    pub fn metric(&mut self, name: &str, kind: &str, help: &str, samples: Vec<(String, f64)>) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            if labels.is_empty() {
                let _ = writeln!(self.0, "{name} {value}");
            } else {
                let _ = writeln!(self.0, "{name}{{{labels}}} {value}");
            }
        }
    }

    /// The text.
    pub fn finish(self) -> String {
        self.0
    }

    /// A histogram from cumulative bucket counts (upper bound, count), the total count and sum.
    pub fn histogram(&mut self, name: &str, help: &str, buckets: impl Iterator<Item = (f64, u64)>, count: u64, sum: f64) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, cumulative) in buckets {
            let _ = writeln!(self.0, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(self.0, "{name}_bucket{{le=\"+Inf\"}} {count}\n{name}_sum {sum}\n{name}_count {count}");
    }
}

/// A label value with `\`, `"` and newlines escaped.
pub fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
