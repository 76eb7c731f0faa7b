//! What a running stream reports: how many changes each table took and how far behind the
//! source the lake is, as Prometheus text (a file a node exporter's textfile collector, or
//! anything else, reads), rewritten whole after every round.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::prometheus::label_value;

/// How long after their commit the changes of each applied batch reached the lake: the
/// latest few thousand batches.
#[derive(Debug, Default)]
pub struct Lags {
    recent: VecDeque<f64>,
    batches: u64,
}

/// Lag percentiles over the recent batches, in seconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct LagSummary {
    pub batches: u64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

const KEPT: usize = 4096;

impl Lags {
    pub fn record(&mut self, seconds: f64) {
        if self.recent.len() == KEPT {
            self.recent.pop_front();
        }
        self.recent.push_back(seconds);
        self.batches += 1;
    }

    pub fn summary(&self) -> LagSummary {
        let mut sorted: Vec<f64> = self.recent.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| match sorted.len() {
            0 => 0.0,
            n => sorted[((n as f64 * q).ceil() as usize).clamp(1, n) - 1],
        };
        LagSummary {
            batches: self.batches,
            p50: at(0.5),
            p99: at(0.99),
            max: sorted.last().copied().unwrap_or(0.0),
        }
    }
}

/// One snapshot of a stream's metrics.
pub struct Report<'a> {
    pub slot: &'a str,
    /// `(table, changes applied)`.
    pub applied: Vec<(&'a str, u64)>,
    pub lag: LagSummary,
    /// WAL between the server's flushed position and the slot's.
    pub lag_bytes: u64,
}

impl Report<'_> {
    pub fn text(&self) -> String {
        let slot = label_value(self.slot);
        let mut out = String::new();
        out.push_str("# HELP lakeshift_cdc_changes_applied_total Changes applied to the lake by this process.\n");
        out.push_str("# TYPE lakeshift_cdc_changes_applied_total counter\n");
        for (table, count) in &self.applied {
            let _ = writeln!(
                out,
                "lakeshift_cdc_changes_applied_total{{slot=\"{slot}\",table=\"{}\"}} {count}",
                label_value(table)
            );
        }
        out.push_str("# HELP lakeshift_cdc_apply_lag_seconds Time from a change's commit to its batch's Delta commit.\n");
        out.push_str("# TYPE lakeshift_cdc_apply_lag_seconds summary\n");
        for (q, v) in [
            ("0.5", self.lag.p50),
            ("0.99", self.lag.p99),
            ("1", self.lag.max),
        ] {
            let _ = writeln!(
                out,
                "lakeshift_cdc_apply_lag_seconds{{slot=\"{slot}\",quantile=\"{q}\"}} {v}"
            );
        }
        let _ = writeln!(
            out,
            "lakeshift_cdc_apply_lag_seconds_count{{slot=\"{slot}\"}} {}",
            self.lag.batches
        );
        out.push_str("# HELP lakeshift_cdc_lag_bytes WAL the server has flushed that the lake does not hold yet.\n");
        out.push_str("# TYPE lakeshift_cdc_lag_bytes gauge\n");
        let _ = writeln!(
            out,
            "lakeshift_cdc_lag_bytes{{slot=\"{slot}\"}} {}",
            self.lag_bytes
        );
        out
    }

    /// Replace the file at `path` with this report (written beside it, then renamed).
    pub fn publish(&self, path: &Path) -> Result<()> {
        let partial = path.with_extension("prom.partial");
        std::fs::write(&partial, self.text())
            .and_then(|()| std::fs::rename(&partial, path))
            .map_err(|e| Error::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_the_recent_batches() {
        let mut lags = Lags::default();
        for i in 1..=100 {
            lags.record(f64::from(i) / 10.0);
        }
        let s = lags.summary();
        assert_eq!((s.batches, s.p50, s.p99, s.max), (100, 5.0, 9.9, 10.0));
        assert_eq!(Lags::default().summary().p99, 0.0);
    }

    #[test]
    fn the_text_format_escapes_labels() {
        let report = Report {
            slot: "s",
            applied: vec![("public.\"odd\"", 3)],
            lag: LagSummary::default(),
            lag_bytes: 7,
        };
        let text = report.text();
        assert!(text.contains("table=\"public.\\\"odd\\\"\"} 3"), "{text}");
        assert!(text.contains("lakeshift_cdc_lag_bytes{slot=\"s\"} 7"));
    }
}
