//! Prometheus metrics: one recorder per process, installed from the declarations in
//! [`crate::semconv::metric`] (buckets and help text come from there), and the functions every
//! call site records through: [`counter`], [`gauge`] and [`histogram`] take a declared metric and
//! its label values, so label keys live with the metric and cannot drift.
//!
//! Every series a dashboard or an alert expects is registered at zero at start, so `/metrics`
//! shows the whole set from the first scrape.

pub mod openmetrics;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use metrics::{Label, SharedString};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::semconv::Stage;
use crate::semconv::metric::{self, Kind, Metric, Unit};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Content type of the Prometheus text exposition served on `/metrics`.
pub const EXPOSITION_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The body of a `/metrics` scrape: every metric of this process. The app, the simulator and
/// the ingest worker all serve this.
pub fn render() -> String {
    let handle = handle();
    process_collector().collect();
    handle.render()
}

/// The `/metrics` body and its content type for a scrape that sent `accept`: OpenMetrics, with
/// the exemplars of `with_exemplars`, when asked for; the Prometheus text format otherwise.
pub fn render_for(
    accept: Option<&str>,
    with_exemplars: &[&'static Metric],
) -> (&'static str, String) {
    let text = render();
    if openmetrics::accepted(accept) {
        (
            openmetrics::CONTENT_TYPE,
            openmetrics::render(&text, with_exemplars),
        )
    } else {
        (EXPOSITION_CONTENT_TYPE, text)
    }
}

/// The standard `process_*` series (CPU seconds, resident and virtual memory, open and maximum
/// file descriptors, threads, start time), refreshed at every scrape.
fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

/// The process's Prometheus handle, installing the recorder on first use. Every binary and every
/// in-process test app shares it (a process can have only one global recorder).
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let mut builder = PrometheusBuilder::new();
            for m in metric::APP.iter().chain(&metric::INGEST) {
                if m.kind == Kind::Histogram {
                    builder = builder
                        .set_buckets_for_metric(Matcher::Full(m.name.to_owned()), m.buckets)
                        .expect("every declared histogram has buckets");
                }
            }
            let handle = builder
                .install_recorder()
                .expect("no other metrics recorder is installed in this process");
            for m in metric::APP.iter().chain(&metric::INGEST) {
                describe(m);
            }
            process_collector().describe();
            // Upkeep bounds histogram memory between scrapes; render() does it too.
            let h = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(std::time::Duration::from_secs(5));
                        h.run_upkeep();
                    }
                })
                .expect("spawn metrics upkeep thread");
            handle
        })
        .clone()
}

fn describe(m: &Metric) {
    let unit = match m.unit {
        Unit::Seconds => Some(metrics::Unit::Seconds),
        Unit::Bytes => Some(metrics::Unit::Bytes),
        Unit::Count => None,
    };
    metrics::with_recorder(|r| {
        let help = SharedString::const_str(m.help);
        let key = m.name.into();
        match m.kind {
            Kind::Counter => r.describe_counter(key, unit, help),
            Kind::Gauge => r.describe_gauge(key, unit, help),
            Kind::Histogram => r.describe_histogram(key, unit, help),
        }
    });
}

fn labels<const N: usize>(m: &Metric, values: [&str; N]) -> Vec<Label> {
    debug_assert_eq!(
        N,
        m.labels.len(),
        "{} takes the labels {:?}",
        m.name,
        m.labels
    );
    m.labels
        .iter()
        .zip(values)
        .map(|(k, v)| Label::new(*k, v.to_owned()))
        .collect()
}

/// The counter `m` with these label values, in the order `m.labels` declares them.
pub fn counter<const N: usize>(m: &Metric, values: [&str; N]) -> metrics::Counter {
    debug_assert_eq!(m.kind, Kind::Counter, "{} is not a counter", m.name);
    metrics::counter!(m.name, labels(m, values))
}

/// The gauge `m` with these label values, in the order `m.labels` declares them.
pub fn gauge<const N: usize>(m: &Metric, values: [&str; N]) -> metrics::Gauge {
    debug_assert_eq!(m.kind, Kind::Gauge, "{} is not a gauge", m.name);
    metrics::gauge!(m.name, labels(m, values))
}

/// The histogram `m` with these label values, in the order `m.labels` declares them.
pub fn histogram<const N: usize>(m: &Metric, values: [&str; N]) -> metrics::Histogram {
    debug_assert_eq!(m.kind, Kind::Histogram, "{} is not a histogram", m.name);
    metrics::histogram!(m.name, labels(m, values))
}

/// A series named by addresses: the metric's name and up to three label values, all `'static`
/// strings, so the same addresses always mean the same text (the same text at two addresses is
/// two entries for one series, which is harmless).
type SeriesKey = ((usize, usize), [(usize, usize); 3]);

thread_local! {
    // Looking a series up in the registry builds its labels and key and hashes them (a few
    // thousand instructions); these keep each thread's handles of the hot series.
    static COUNTERS: RefCell<HashMap<SeriesKey, metrics::Counter>> = RefCell::new(HashMap::new());
    static HISTOGRAMS: RefCell<HashMap<SeriesKey, metrics::Histogram>> = RefCell::new(HashMap::new());
}

/// The key of a series whose handle may be kept: only once the recorder is installed (a handle
/// taken before is a no-op one), and only for up to three labels.
fn series_key<const N: usize>(m: &Metric, values: &[&'static str; N]) -> Option<SeriesKey> {
    if N > 3 || HANDLE.get().is_none() {
        return None;
    }
    let at = |s: &str| (s.as_ptr().addr(), s.len());
    let mut labels = [(0, 0); 3];
    for (slot, v) in labels.iter_mut().zip(values) {
        *slot = at(v);
    }
    Some((at(m.name), labels))
}

/// The handle of `m` with `values` from `kept` (this thread's handles), looked up with
/// `look_up` the first time.
fn kept<H: Clone, const N: usize>(
    kept: &'static std::thread::LocalKey<RefCell<HashMap<SeriesKey, H>>>,
    look_up: fn(&Metric, [&str; N]) -> H,
    m: &Metric,
    values: [&'static str; N],
) -> H {
    match series_key(m, &values) {
        Some(key) => kept.with(|k| {
            k.borrow_mut()
                .entry(key)
                .or_insert_with(|| look_up(m, values))
                .clone()
        }),
        None => look_up(m, values),
    }
}

/// [`counter`] for label values fixed in the code: each thread looks the series up once.
pub fn counter_static<const N: usize>(m: &Metric, values: [&'static str; N]) -> metrics::Counter {
    kept(&COUNTERS, counter, m, values)
}

/// [`histogram`] for label values fixed in the code: each thread looks the series up once.
pub fn histogram_static<const N: usize>(
    m: &Metric,
    values: [&'static str; N],
) -> metrics::Histogram {
    kept(&HISTOGRAMS, histogram, m, values)
}

/// Installs the process's recorder (once) and registers every series the app exposes at zero:
/// the chat series for the configured models and the ingest series (the app runs the embedded
/// worker).
pub fn install(llm: &crate::config::LlmSettings) {
    register_series(&llm.chat_model, &llm.embedding_model);
    register_ingest_series();
}

/// Registers the labelled series a dashboard or alert expects before the first event: error
/// types, cache results, stages, outcomes, and the models in use.
pub fn register_series(chat_model: &str, embedding_model: &str) {
    let _ = handle();
    for t in metric::ERROR_TYPES {
        counter(&metric::ERRORS_TOTAL, [t]).increment(0);
    }
    for cache in ["answer", "catalog"] {
        for result in ["hit", "miss", "error"] {
            counter(&metric::CACHE_REQUESTS_TOTAL, [cache, result]).increment(0);
        }
    }
    for outcome in ["ok", "error", "rejected"] {
        for hit in ["true", "false"] {
            counter(&metric::CHAT_REQUESTS_TOTAL, [outcome, hit]).increment(0);
        }
    }
    for outcome in ["exported", "failed", "dropped"] {
        counter(&metric::SPANS_EXPORTED_TOTAL, [outcome]).increment(0);
    }
    for model in [chat_model, embedding_model] {
        counter(&metric::COST_MICROUSD_TOTAL, [model]).increment(0);
    }
    for kind in ["input", "output"] {
        counter(&metric::TOKENS_TOTAL, [chat_model, kind]).increment(0);
    }
    for stage in Stage::ALL {
        let _ = histogram(&metric::STAGE_DURATION, [stage.as_str()]);
    }
    let _ = histogram(
        &metric::GEN_AI_TIME_TO_FIRST_CHUNK,
        ["chat", crate::semconv::PROVIDER, chat_model],
    );
}

/// Registers the ingest pipeline's series at zero, so dashboards and alerts see them before the
/// first document.
pub fn register_ingest_series() {
    let _ = handle();
    for outcome in ["ingested", "unchanged", "failed"] {
        counter(&metric::INGEST_DOCUMENTS_TOTAL, [outcome]).increment(0);
    }
    for result in ["upserted", "skipped", "deleted"] {
        counter(&metric::INGEST_CHUNKS_TOTAL, [result]).increment(0);
    }
    counter(&metric::INGEST_TOKENS_TOTAL, []).increment(0);
    let _ = histogram(&metric::INGEST_EMBED_BATCH_DURATION, []);
    for outcome in ["queued", "done", "failed"] {
        counter(&metric::INGEST_JOBS_TOTAL, [outcome]).increment(0);
    }
    counter(&metric::INGEST_ERRORS_TOTAL, ["embed", "rate_limited"]).increment(0);
    gauge(&metric::INGEST_CHUNK_BUFFER_BYTES, []).set(0.0);
    update_resident_memory();
    for strategy in ["naive", "bounded"] {
        let _ = histogram(&metric::INGEST_TRANSCRIBE_BATCH_DURATION, [strategy]);
        for outcome in ["ok", "error"] {
            counter(&metric::INGEST_TRANSCRIBE_CHUNKS_TOTAL, [strategy, outcome]).increment(0);
        }
    }
}

/// Resident memory of this process in bytes, where the platform reports it (Linux, macOS,
/// Windows, the BSDs).
pub fn resident_memory_bytes() -> Option<u64> {
    metrics_process::collector::collect().resident_memory_bytes
}

/// Peak resident memory of this process in bytes (`getrusage`'s `ru_maxrss`), `None` where the
/// platform has no such figure.
pub fn peak_resident_memory_bytes() -> Option<u64> {
    #[cfg(unix)]
    {
        use nix::sys::resource::{UsageWho, getrusage};
        let max = u64::try_from(getrusage(UsageWho::RUSAGE_SELF).ok()?.max_rss()).ok()?;
        // macOS reports bytes; Linux and the BSDs kibibytes.
        Some(if cfg!(target_os = "macos") {
            max
        } else {
            max * 1024
        })
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Sets the resident-memory gauge from the platform's process figures.
pub fn update_resident_memory() {
    if let Some(b) = resident_memory_bytes() {
        gauge(&metric::INGEST_RESIDENT_MEMORY, []).set(b as f64);
    }
}

/// Adds an estimated cost (USD) to the spend counter, carrying sub-micro-dollar fractions over
/// to the next call so that many cheap calls still add up.
pub fn add_cost(model: &str, cost_usd: f64) {
    static CARRY: OnceLock<Mutex<HashMap<String, f64>>> = OnceLock::new();
    if !(cost_usd.is_finite() && cost_usd > 0.0) {
        return;
    }
    let whole = {
        let mut carry = CARRY
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let acc = carry.entry(model.to_owned()).or_insert(0.0);
        *acc += cost_usd * 1_000_000.0;
        let whole = acc.floor();
        *acc -= whole;
        whole as u64
    };
    if whole > 0 {
        counter(&metric::COST_MICROUSD_TOTAL, [model]).increment(whole);
    }
}

/// Records a stage's duration.
pub fn record_stage(stage: Stage, seconds: f64) {
    histogram_static(&metric::STAGE_DURATION, [stage.as_str()]).record(seconds);
}

/// Counts an error of `kind` (one of [`metric::ERROR_TYPES`]).
pub fn count_error(kind: &'static str) {
    counter_static(&metric::ERRORS_TOTAL, [kind]).increment(1);
}

/// Counts a cache lookup.
pub fn count_cache(cache: &'static str, result: &'static str) {
    counter_static(&metric::CACHE_REQUESTS_TOTAL, [cache, result]).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// A kept handle counts in the series the registry shows, as a looked-up one does, on every
    /// thread (each keeps its own handle of the same series).
    #[test]
    fn kept_handles_count_in_the_registrys_series() {
        let label = "kept-handle-test";
        let counted = r#"ragtrace_errors_total{type="kept-handle-test"}"#;
        let timed = r#"ragtrace_stage_duration_seconds_count{stage="kept-handle-test"}"#;
        let text = render();
        let (counted0, timed0) = (sample(&text, counted), sample(&text, timed));
        for _ in 0..2 {
            counter_static(&metric::ERRORS_TOTAL, [label]).increment(1);
            histogram_static(&metric::STAGE_DURATION, [label]).record(0.5);
        }
        std::thread::spawn(move || {
            counter_static(&metric::ERRORS_TOTAL, [label]).increment(1);
            histogram_static(&metric::STAGE_DURATION, [label]).record(0.5);
        })
        .join()
        .unwrap();
        counter(&metric::ERRORS_TOTAL, [label]).increment(1);
        let text = render();
        assert_eq!(sample(&text, counted), counted0 + 4.0, "{text}");
        assert_eq!(sample(&text, timed), timed0 + 3.0, "{text}");
    }
}
