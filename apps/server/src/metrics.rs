//! A small Prometheus registry: labelled counters and histograms on atomics, rendered in the
//! text exposition format (version 0.0.4) by hand.
//!
//! Families: `kav_webhook_requests_total` and `kav_webhook_duration_seconds` by route and
//! status, `kav_turn_stage_duration_seconds` by stage (`stt`, `llm`, `tts`),
//! `kav_provider_errors_total` by provider and stage, `kav_jobs_total` by job kind and outcome
//! (`done`, `retry`, `parked`, `released`), and the `kav_active_calls` gauge (read from the
//! store when scraped).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Histogram buckets in seconds, chosen around Twilio's 15 s webhook limit.
pub const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0,
];

#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// Sum in nanoseconds.
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

/// A family of series keyed by label values, in a stable (sorted) order.
#[derive(Debug)]
struct Family<T> {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    series: Mutex<BTreeMap<Vec<String>, Arc<T>>>,
}

impl<T: Default> Family<T> {
    const fn new(name: &'static str, help: &'static str, labels: &'static [&'static str]) -> Self {
        Self {
            name,
            help,
            labels,
            series: Mutex::new(BTreeMap::new()),
        }
    }

    fn get(&self, values: &[&str]) -> Arc<T> {
        debug_assert_eq!(values.len(), self.labels.len());
        let key: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(series.entry(key).or_default())
    }

    fn snapshot(&self) -> Vec<(Vec<String>, Arc<T>)> {
        let series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        series
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect()
    }

    fn label_text(&self, values: &[String], extra: Option<(&str, &str)>) -> String {
        let mut out = String::new();
        let pairs = self
            .labels
            .iter()
            .copied()
            .zip(values.iter().map(String::as_str))
            .chain(extra);
        for (i, (name, value)) in pairs.enumerate() {
            out.push(if i == 0 { '{' } else { ',' });
            let _ = write!(out, "{name}=\"{}\"", escape(value));
        }
        if !out.is_empty() {
            out.push('}');
        }
        out
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn render_counters(out: &mut String, family: &Family<AtomicU64>) {
    let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
    let _ = writeln!(out, "# TYPE {} counter", family.name);
    for (labels, value) in family.snapshot() {
        let _ = writeln!(
            out,
            "{}{} {}",
            family.name,
            family.label_text(&labels, None),
            value.load(Ordering::Relaxed)
        );
    }
}

fn render_histograms(out: &mut String, family: &Family<Histogram>) {
    let name = family.name;
    let _ = writeln!(out, "# HELP {name} {}", family.help);
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (labels, h) in family.snapshot() {
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS.iter().zip(&h.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = bound.to_string();
            let _ = writeln!(
                out,
                "{name}_bucket{} {cumulative}",
                family.label_text(&labels, Some(("le", &le)))
            );
        }
        let count = h.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "{name}_bucket{} {count}",
            family.label_text(&labels, Some(("le", "+Inf")))
        );
        #[allow(clippy::cast_precision_loss)] // nanosecond sums fit f64 well enough
        let sum = h.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let plain = family.label_text(&labels, None);
        let _ = writeln!(out, "{name}_sum{plain} {sum}");
        let _ = writeln!(out, "{name}_count{plain} {count}");
    }
}

/// The server's metrics. Share it in an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    webhook_requests: Family<AtomicU64>,
    webhook_duration: Family<Histogram>,
    turn_stage_duration: Family<Histogram>,
    provider_errors: Family<AtomicU64>,
    jobs: Family<AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// A stage of a caller turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// Speech to text.
    Stt,
    /// The language model.
    Llm,
    /// Text to speech.
    Tts,
}

impl Stage {
    /// The label value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stt => "stt",
            Self::Llm => "llm",
            Self::Tts => "tts",
        }
    }
}

impl Metrics {
    /// An empty registry.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            webhook_requests: Family::new(
                "kav_webhook_requests_total",
                "Webhook requests by route and HTTP status.",
                &["route", "status"],
            ),
            webhook_duration: Family::new(
                "kav_webhook_duration_seconds",
                "Webhook handling time by route and HTTP status.",
                &["route", "status"],
            ),
            turn_stage_duration: Family::new(
                "kav_turn_stage_duration_seconds",
                "Time spent in each stage of a caller turn.",
                &["stage"],
            ),
            provider_errors: Family::new(
                "kav_provider_errors_total",
                "Provider failures by provider and stage.",
                &["provider", "stage"],
            ),
            jobs: Family::new(
                "kav_jobs_total",
                "Background job runs by kind and outcome.",
                &["kind", "outcome"],
            ),
        }
    }

    /// Counts one webhook request and its duration.
    pub fn observe_webhook(&self, route: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        self.webhook_requests
            .get(&[route, &status])
            .fetch_add(1, Ordering::Relaxed);
        self.webhook_duration
            .get(&[route, &status])
            .observe(elapsed);
    }

    /// Records the time one turn stage took.
    pub fn observe_stage(&self, stage: Stage, elapsed: Duration) {
        self.turn_stage_duration
            .get(&[stage.as_str()])
            .observe(elapsed);
    }

    /// Counts a provider failure.
    pub fn provider_error(&self, provider: &str, stage: Stage) {
        self.provider_errors
            .get(&[provider, stage.as_str()])
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one job run ending with `outcome` (`done`, `retry`, `parked`, `released`).
    pub fn job_outcome(&self, kind: &str, outcome: &str) {
        self.jobs
            .get(&[kind, outcome])
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text. `active_calls` is `None` when the store could not be read (the
    /// gauge is then left out rather than reported wrong).
    #[must_use]
    pub fn render(&self, active_calls: Option<i64>) -> String {
        let mut out = String::with_capacity(4096);
        render_counters(&mut out, &self.webhook_requests);
        render_histograms(&mut out, &self.webhook_duration);
        render_histograms(&mut out, &self.turn_stage_duration);
        render_counters(&mut out, &self.provider_errors);
        render_counters(&mut out, &self.jobs);
        out.push_str("# HELP kav_active_calls Calls not yet ended, from the store.\n");
        out.push_str("# TYPE kav_active_calls gauge\n");
        if let Some(n) = active_calls {
            let _ = writeln!(out, "kav_active_calls {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_format() {
        let m = Metrics::new();
        m.observe_webhook("/webhook/call_status", 200, Duration::from_millis(30));
        m.observe_webhook("/webhook/call_status", 200, Duration::from_millis(3));
        m.observe_webhook("/webhook/call_status", 403, Duration::from_secs(20));
        m.observe_stage(Stage::Llm, Duration::from_millis(700));
        m.provider_error("openai", Stage::Stt);
        let text = m.render(Some(2));
        for line in [
            "# TYPE kav_webhook_requests_total counter",
            "kav_webhook_requests_total{route=\"/webhook/call_status\",status=\"200\"} 2",
            "kav_webhook_requests_total{route=\"/webhook/call_status\",status=\"403\"} 1",
            "# TYPE kav_webhook_duration_seconds histogram",
            "kav_webhook_duration_seconds_bucket{route=\"/webhook/call_status\",status=\"200\",le=\"0.005\"} 1",
            "kav_webhook_duration_seconds_bucket{route=\"/webhook/call_status\",status=\"200\",le=\"0.05\"} 2",
            "kav_webhook_duration_seconds_bucket{route=\"/webhook/call_status\",status=\"403\",le=\"15\"} 0",
            "kav_webhook_duration_seconds_bucket{route=\"/webhook/call_status\",status=\"403\",le=\"+Inf\"} 1",
            "kav_webhook_duration_seconds_sum{route=\"/webhook/call_status\",status=\"200\"} 0.033",
            "kav_webhook_duration_seconds_count{route=\"/webhook/call_status\",status=\"200\"} 2",
            "kav_turn_stage_duration_seconds_bucket{stage=\"llm\",le=\"0.5\"} 0",
            "kav_turn_stage_duration_seconds_bucket{stage=\"llm\",le=\"1\"} 1",
            "kav_provider_errors_total{provider=\"openai\",stage=\"stt\"} 1",
            "kav_active_calls 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(
            !m.render(None)
                .lines()
                .any(|l| l.starts_with("kav_active_calls "))
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new();
        m.provider_error("a\"b\\c\nd", Stage::Tts);
        assert!(m.render(None).contains(r#"provider="a\"b\\c\nd""#));
    }
}
