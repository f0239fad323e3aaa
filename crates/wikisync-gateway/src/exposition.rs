//! The Prometheus text exposition format (0.0.4) of `/metrics`.
//!
//! ```
//! use wikisync_gateway::exposition::Exposition;
//!
//! let mut e = Exposition::default();
//! e.family("jobs_total", "counter", "Jobs done.", &[("{kind=\"a\"}", 2), ("{kind=\"b\"}", 0)]);
//! e.family("queue", "gauge", "Jobs waiting.", &[("", 7)]);
//! let expected = [
//!     "# HELP jobs_total Jobs done.",
//!     "# TYPE jobs_total counter",
//!     "jobs_total{kind=\"a\"} 2",
//!     "jobs_total{kind=\"b\"} 0",
//!     "# HELP queue Jobs waiting.",
//!     "# TYPE queue gauge",
//!     "queue 7",
//! ];
//! assert_eq!(e.into_text(), expected.join("\n") + "\n");
//! ```

use std::fmt::Write;

/// Metric families written one after the other.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// Appends a family: its `HELP` and `TYPE` lines, then one line per sample, each given as
    /// (label set including braces, or `""`, value).
    pub fn family(&mut self, name: &str, kind: &str, help: &str, samples: &[(&str, u64)]) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(self.text, "{name}{labels} {value}");
        }
    }

    /// The text to serve.
    pub fn into_text(self) -> String {
        self.text
    }
}
