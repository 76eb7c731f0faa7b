//! Counters for `GET /metrics`, rendered in the Prometheus text format: requests and their
//! latency by route and status, rows inserted and records rejected by table.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use crate::prometheus::label_value;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default, Clone)]
struct Latency {
    count: u64,
    sum: f64,
    /// Observations per bucket (not cumulative; summed when rendered).
    buckets: [u64; BUCKETS.len()],
}

#[derive(Default, Clone, Copy)]
struct TableCounts {
    inserted: u64,
    rejected: u64,
}

type RouteKey = (String, String, u16);

/// The service's metrics.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<RouteKey, Latency>>,
    tables: Mutex<BTreeMap<String, TableCounts>>,
}

impl Metrics {
    /// Count one answered request.
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let mut requests = self.requests.lock().expect("metrics lock");
        let entry = requests
            .entry((route.to_string(), method.to_string(), status))
            .or_default();
        entry.count += 1;
        entry.sum += seconds;
        if let Some(bucket) = BUCKETS.iter().position(|&le| seconds <= le) {
            entry.buckets[bucket] += 1;
        }
    }

    /// Count the outcome of one ingestion.
    pub fn ingested(&self, table: &str, inserted: usize, rejected: usize) {
        let mut tables = self.tables.lock().expect("metrics lock");
        let entry = tables.entry(table.to_string()).or_default();
        entry.inserted += inserted as u64;
        entry.rejected += rejected as u64;
    }

    /// Everything in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let requests = self.requests.lock().expect("metrics lock").clone();
        let tables = self.tables.lock().expect("metrics lock").clone();
        let mut out = String::new();
        out.push_str("# HELP lakeshift_http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE lakeshift_http_requests_total counter\n");
        for ((route, method, status), latency) in &requests {
            let _ = writeln!(
                out,
                "lakeshift_http_requests_total{{{}}} {}",
                labels(route, method, *status),
                latency.count
            );
        }
        out.push_str("# HELP lakeshift_http_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE lakeshift_http_request_duration_seconds histogram\n");
        for ((route, method, status), latency) in &requests {
            let labels = labels(route, method, *status);
            let mut cumulative = 0;
            for (le, n) in BUCKETS.iter().zip(latency.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "lakeshift_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "lakeshift_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n\
                 lakeshift_http_request_duration_seconds_sum{{{labels}}} {}\n\
                 lakeshift_http_request_duration_seconds_count{{{labels}}} {}",
                latency.count, latency.sum, latency.count
            );
        }
        for (name, help, pick) in [
            (
                "lakeshift_ingest_rows_inserted_total",
                "Rows inserted through the API.",
                (|c: &TableCounts| c.inserted) as fn(&TableCounts) -> u64,
            ),
            (
                "lakeshift_ingest_records_rejected_total",
                "Records the API rejected.",
                |c: &TableCounts| c.rejected,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (table, counts) in &tables {
                let _ = writeln!(
                    out,
                    "{name}{{table=\"{}\"}} {}",
                    label_value(table),
                    pick(counts)
                );
            }
        }
        out
    }
}

fn labels(route: &str, method: &str, status: u16) -> String {
    format!(
        "route=\"{}\",method=\"{}\",status=\"{status}\"",
        label_value(route),
        label_value(method)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.observe("ingest_jobs", "POST", 200, 0.003);
        metrics.observe("ingest_jobs", "POST", 200, 0.2);
        metrics.observe("auth_token", "POST", 401, 0.05);
        metrics.ingested("public.jobs", 7, 2);
        let text = metrics.render();
        let labels = r#"route="ingest_jobs",method="POST",status="200""#;
        assert!(
            text.contains(&format!("lakeshift_http_requests_total{{{labels}}} 2")),
            "{text}"
        );
        assert!(text.contains(&format!(
            "lakeshift_http_request_duration_seconds_bucket{{{labels},le=\"0.005\"}} 1"
        )));
        assert!(text.contains(&format!(
            "lakeshift_http_request_duration_seconds_bucket{{{labels},le=\"0.25\"}} 2"
        )));
        assert!(text.contains("lakeshift_ingest_rows_inserted_total{table=\"public.jobs\"} 7"));
        assert!(text.contains("lakeshift_ingest_records_rejected_total{table=\"public.jobs\"} 2"));
        assert_eq!(label_value("a\"b\\"), "a\\\"b\\\\");
    }
}
