//! A run's report: the JSON `run --out` writes (its schema is documented in
//! docs/case-studies/README.md), the table `run` prints, and the before/after comparison of
//! `compare`.

use std::fmt::Write as _;

use ragtrace_core::trace_store::summary::{Bucket, Latency};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::case::{Case, Phase};
use crate::target::Metrics;

/// The version of the report's shape; `compare` refuses reports of another.
pub const SCHEMA: u32 = 1;

/// One stage over a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageStat {
    /// The stage's `ragtrace.stage` value.
    pub stage: String,
    /// Median of the stage's time per request, milliseconds.
    pub p50_ms: f64,
    /// 95th percentile of it, milliseconds.
    pub p95_ms: f64,
    /// Share of the requests' critical-path time, 0..1.
    pub share: f64,
}

/// What one run of one phase of one case measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// [`SCHEMA`].
    pub schema: u32,
    /// The case study.
    pub case: Case,
    /// Before or after the fix.
    pub phase: Phase,
    /// When the run started, RFC 3339.
    pub started_at: String,
    /// How long the load ran, seconds.
    pub seconds: f64,
    /// Requests the app served (transcription: audio chunks).
    pub requests: u64,
    /// Of them, those the service failed (5xx, or an error event mid-stream; transcription:
    /// chunks not transcribed).
    pub errors: u64,
    /// `errors / requests`.
    pub error_rate: f64,
    /// End-to-end latency from the requests' traces, milliseconds (transcription: the job).
    pub latency_ms: Latency,
    /// Its distribution.
    pub histogram: Vec<Bucket>,
    /// Traces the latency and stages come from (fewer than `requests` when traces are sampled).
    pub traces: u64,
    /// Per stage, on the critical path.
    pub stages: Vec<StageStat>,
    /// The stage whose speed-up would shorten the requests most.
    pub slowest_stage: Option<String>,
    /// Pairs of stages that ran at the same time.
    pub overlapped: Vec<(String, String)>,
    /// Share of answer-cache lookups that hit.
    pub cache_hit_rate: f64,
    /// Share of product-search cache lookups that hit (`null` when it was never looked up).
    pub catalog_cache_hit_rate: Option<f64>,
    /// Estimated LLM spend per 1,000 requests, USD.
    pub cost_usd_per_1k_requests: f64,
    /// The scenario and fixes in force, and what was driven.
    pub settings: Value,
    /// Transcription: audio chunks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<u64>,
    /// Transcription: chunks not transcribed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_chunks: Option<u64>,
    /// Transcription: peak resident memory of the job, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
}

/// `part / whole`, or `None` when `whole` is zero.
fn ratio(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| part / whole)
}

/// The request counts, cache hit rates and cost of a run, from the metrics it moved.
pub struct Counted {
    /// Chat requests answered or failed (rejected ones are the caller's).
    pub requests: u64,
    /// Of them, failed by the service.
    pub errors: u64,
    /// Answer-cache hit rate.
    pub cache_hit_rate: f64,
    /// Product-search cache hit rate.
    pub catalog_cache_hit_rate: Option<f64>,
    /// Spend, USD.
    pub cost_usd: f64,
}

impl Counted {
    /// What `delta` (the run's metrics minus those before it) says.
    pub fn from_metrics(delta: &Metrics) -> Self {
        let requests = |outcome| delta.sum("ragtrace_chat_requests_total", &[("outcome", outcome)]);
        let cache = |cache, result| {
            delta.sum(
                "ragtrace_cache_requests_total",
                &[("cache", cache), ("result", result)],
            )
        };
        let (ok, error) = (requests("ok"), requests("error"));
        let answer = cache("answer", "hit") + cache("answer", "miss");
        let catalog = cache("catalog", "hit") + cache("catalog", "miss");
        Self {
            requests: (ok + error).round() as u64,
            errors: error.round() as u64,
            cache_hit_rate: ratio(cache("answer", "hit"), answer).unwrap_or(0.0),
            catalog_cache_hit_rate: ratio(cache("catalog", "hit"), catalog),
            cost_usd: delta.sum("ragtrace_llm_cost_microusd_total", &[]) / 1e6,
        }
    }
}

impl RunReport {
    /// A chat case's report: counts from `counted`, latency and stages from the trace `summary`
    /// (`GET /api/summary`) of the run's requests.
    pub fn from_run(
        case: Case,
        phase: Phase,
        started_at: String,
        seconds: f64,
        counted: &Counted,
        summary: &Value,
        settings: Value,
    ) -> anyhow::Result<Self> {
        let stages = summary["stages"]
            .as_array()
            .map(|stages| {
                stages
                    .iter()
                    .map(|s| StageStat {
                        stage: s["stage"].as_str().unwrap_or_default().to_owned(),
                        p50_ms: s["p50_ms"].as_f64().unwrap_or(0.0),
                        p95_ms: s["p95_ms"].as_f64().unwrap_or(0.0),
                        share: s["share"].as_f64().unwrap_or(0.0),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            schema: SCHEMA,
            case,
            phase,
            started_at,
            seconds,
            requests: counted.requests,
            errors: counted.errors,
            error_rate: ratio(counted.errors as f64, counted.requests as f64).unwrap_or(0.0),
            latency_ms: serde_json::from_value(summary["latency_ms"].clone())?,
            histogram: serde_json::from_value(summary["histogram"].clone())?,
            traces: summary["requests"].as_u64().unwrap_or(0),
            stages,
            slowest_stage: summary["slowest_stage"].as_str().map(str::to_owned),
            overlapped: serde_json::from_value(summary["overlapped"].clone()).unwrap_or_default(),
            cache_hit_rate: counted.cache_hit_rate,
            catalog_cache_hit_rate: counted.catalog_cache_hit_rate,
            cost_usd_per_1k_requests: ratio(counted.cost_usd * 1000.0, counted.requests as f64)
                .unwrap_or(0.0),
            settings,
            chunks: None,
            failed_chunks: None,
            peak_rss_bytes: None,
        })
    }

    /// The run as a short table.
    pub fn table(&self) -> String {
        if self.case == Case::Transcription {
            return self.transcription_table();
        }
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} / {}: {} requests in {:.0} s, {} failed ({})",
            self.case.as_str(),
            phase(self.phase),
            self.requests,
            self.seconds,
            self.errors,
            pct(self.error_rate)
        );
        let l = &self.latency_ms;
        let _ = writeln!(
            out,
            "  response            mean {}  p50 {}  p95 {}  p99 {}  ({} traces)",
            dur(l.mean),
            dur(l.p50),
            dur(l.p95),
            dur(l.p99),
            self.traces
        );
        for s in &self.stages {
            let _ = writeln!(
                out,
                "  {:<20}p50 {:>8}  p95 {:>8}  {:>5} of the critical path",
                stage_label(&s.stage),
                dur(s.p50_ms),
                dur(s.p95_ms),
                pct(s.share)
            );
        }
        if let Some(s) = &self.slowest_stage {
            let _ = writeln!(out, "  slowest stage       {}", stage_label(s));
        }
        if !self.overlapped.is_empty() {
            let _ = writeln!(out, "  overlapped          {}", pairs(&self.overlapped));
        }
        let _ = writeln!(
            out,
            "  cache hits          answers {}{}",
            pct(self.cache_hit_rate),
            self.catalog_cache_hit_rate
                .map(|r| format!(", product searches {}", pct(r)))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "  cost                ${:.4} per 1,000 requests",
            self.cost_usd_per_1k_requests
        );
        out
    }

    /// Transcription's table: one job, its chunks, its memory.
    fn transcription_table(&self) -> String {
        let mut out = String::new();
        let minutes = self.settings["minutes"].as_u64().unwrap_or(0);
        let _ = writeln!(
            out,
            "transcription / {}: a {minutes}-minute meeting in {} chunks, transcribed in {}",
            phase(self.phase),
            self.chunks.unwrap_or(self.requests),
            dur(self.latency_ms.mean)
        );
        let _ = writeln!(
            out,
            "  failed chunks       {} ({})",
            self.failed_chunks.unwrap_or(self.errors),
            pct(self.error_rate)
        );
        let _ = writeln!(
            out,
            "  peak memory         {}",
            self.peak_rss_bytes.map_or("n/a".into(), mib)
        );
        let fixes = &self.settings["fixes"];
        let _ = writeln!(
            out,
            "  strategy            {}{}",
            fixes["strategy"].as_str().unwrap_or("?"),
            fixes["batch_size"]
                .as_u64()
                .map(|n| format!(", batches of {n} chunks"))
                .unwrap_or_default()
        );
        out
    }
}

/// A stage id in the case studies' words.
pub fn stage_label(stage: &str) -> &str {
    match stage {
        "cache" => "answer cache",
        "embeddings" => "embeddings",
        "retrieval" => "vector search",
        "external_api" => "product search API",
        "prompt" => "prompt build",
        "llm" => "LLM call",
        "postprocess" => "post-processing",
        other => other,
    }
}

fn pairs(p: &[(String, String)]) -> String {
    p.iter()
        .map(|(a, b)| format!("{} ‖ {}", stage_label(a), stage_label(b)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn phase(p: Phase) -> &'static str {
    match p {
        Phase::Before => "before",
        Phase::After => "after",
    }
}

/// `1.23 s` or `45 ms`.
pub fn dur(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn pct(r: f64) -> String {
    format!("{:.1} %", r * 100.0)
}

fn mib(b: u64) -> String {
    format!("{:.0} MiB", b as f64 / 1_048_576.0)
}

/// Why two reports cannot be compared.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CompareError {
    /// Reports of two different cases.
    #[error("BEFORE is a {0} run and AFTER a {1} run: compare two runs of one case")]
    DifferentCases(&'static str, &'static str),
    /// A report of another schema version.
    #[error("a report has schema {0}; this ragtrace-lab reads schema {SCHEMA}")]
    Schema(u32),
}

/// `before → after` as "N× faster" or "N× slower".
fn speedup(before: f64, after: f64) -> String {
    if after <= 0.0 || before <= 0.0 {
        return String::new();
    }
    if before >= after {
        format!("{:.1}× faster", before / after)
    } else {
        format!("{:.1}× slower", after / before)
    }
}

/// `before → after` of a quantity where less is better, as "N× less" or "N× more".
fn reduction(before: f64, after: f64, unit: &str) -> String {
    if after <= 0.0 || before <= 0.0 {
        return String::new();
    }
    if before >= after {
        format!(", {:.1}× {unit}", before / after)
    } else {
        format!(", {:.1}× more", after / before)
    }
}

/// The before/after table of two reports of one case, in the case study's words: "mean response
/// 9.80 s → 2.50 s, 3.9× faster; product search API 6.00 s → 20 ms; error rate …; cost per 1k …".
pub fn compare(before: &RunReport, after: &RunReport) -> Result<String, CompareError> {
    for r in [before, after] {
        if r.schema != SCHEMA {
            return Err(CompareError::Schema(r.schema));
        }
    }
    if before.case != after.case {
        return Err(CompareError::DifferentCases(
            before.case.as_str(),
            after.case.as_str(),
        ));
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: before {} → after {}",
        before.case.as_str(),
        before.started_at,
        after.started_at
    );
    if before.case == Case::Transcription {
        compare_transcription(&mut out, before, after);
    } else {
        compare_chat(&mut out, before, after);
    }
    Ok(out)
}

fn compare_chat(out: &mut String, before: &RunReport, after: &RunReport) {
    let (b, a) = (&before.latency_ms, &after.latency_ms);
    for (what, x, y) in [
        ("mean response", b.mean, a.mean),
        ("p50 response", b.p50, a.p50),
        ("p95 response", b.p95, a.p95),
    ] {
        let _ = writeln!(
            out,
            "  {what:<19} {} → {}, {}",
            dur(x),
            dur(y),
            speedup(x, y)
        );
    }
    for s in &before.stages {
        let after_stage = after.stages.iter().find(|x| x.stage == s.stage);
        let _ = writeln!(
            out,
            "  {:<19} {} → {} (p50), {} → {} of the critical path",
            stage_label(&s.stage),
            dur(s.p50_ms),
            after_stage.map_or("—".to_owned(), |x| dur(x.p50_ms)),
            pct(s.share),
            after_stage.map_or("—".to_owned(), |x| pct(x.share))
        );
    }
    let label = |s: &Option<String>| s.as_deref().map_or("—", stage_label).to_owned();
    let _ = writeln!(
        out,
        "  slowest stage       {} → {}",
        label(&before.slowest_stage),
        label(&after.slowest_stage)
    );
    let _ = writeln!(
        out,
        "  error rate          {} → {}",
        pct(before.error_rate),
        pct(after.error_rate)
    );
    let _ = writeln!(
        out,
        "  requests            {} in {:.0} s → {} in {:.0} s",
        before.requests, before.seconds, after.requests, after.seconds
    );
    let _ = writeln!(
        out,
        "  cost per 1k         ${:.4} → ${:.4}",
        before.cost_usd_per_1k_requests, after.cost_usd_per_1k_requests
    );
    if let (Some(x), Some(y)) = (before.catalog_cache_hit_rate, after.catalog_cache_hit_rate) {
        let _ = writeln!(out, "  product cache hits  {} → {}", pct(x), pct(y));
    }
}

fn compare_transcription(out: &mut String, before: &RunReport, after: &RunReport) {
    let _ = writeln!(
        out,
        "  error rate          {} → {}",
        pct(before.error_rate),
        pct(after.error_rate)
    );
    if let (Some(x), Some(y)) = (before.failed_chunks, after.failed_chunks) {
        let _ = writeln!(
            out,
            "  failed chunks       {x} → {y} of {}",
            after.chunks.unwrap_or(after.requests)
        );
    }
    if let (Some(x), Some(y)) = (before.peak_rss_bytes, after.peak_rss_bytes) {
        let _ = writeln!(
            out,
            "  peak memory         {} → {}{}",
            mib(x),
            mib(y),
            reduction(x as f64, y as f64, "less")
        );
    }
    let (x, y) = (before.latency_ms.mean, after.latency_ms.mean);
    let _ = writeln!(
        out,
        "  job time            {} → {}, {}",
        dur(x),
        dur(y),
        speedup(x, y)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(case: Case, phase: Phase, mean: f64, product_search_p50: f64) -> RunReport {
        RunReport {
            schema: SCHEMA,
            case,
            phase,
            started_at: "2026-12-02T10:00:00Z".into(),
            seconds: 60.0,
            requests: 40,
            errors: if phase == Phase::Before { 2 } else { 0 },
            error_rate: if phase == Phase::Before { 0.05 } else { 0.0 },
            latency_ms: Latency {
                mean,
                p50: mean,
                p95: mean * 1.2,
                p99: mean * 1.3,
                max: mean * 1.4,
            },
            histogram: Vec::new(),
            traces: 40,
            stages: vec![
                StageStat {
                    stage: "external_api".into(),
                    p50_ms: product_search_p50,
                    p95_ms: product_search_p50,
                    share: 0.6,
                },
                StageStat {
                    stage: "llm".into(),
                    p50_ms: 2400.0,
                    p95_ms: 2900.0,
                    share: 0.4,
                },
            ],
            slowest_stage: Some("external_api".into()),
            overlapped: Vec::new(),
            cache_hit_rate: 0.0,
            catalog_cache_hit_rate: None,
            cost_usd_per_1k_requests: 0.42,
            settings: serde_json::json!({}),
            chunks: None,
            failed_chunks: None,
            peak_rss_bytes: None,
        }
    }

    /// The table says the case study's sentence: "mean response 9.80 s → 2.50 s, 3.9× faster;
    /// product search 6.00 s → 20 ms", with the error rate and the cost.
    #[test]
    fn compare_computes_the_ratios() {
        let before = report(Case::Chatbot, Phase::Before, 9800.0, 6000.0);
        let after = report(Case::Chatbot, Phase::After, 2500.0, 20.0);
        let table = compare(&before, &after).unwrap();
        assert!(
            table.contains("mean response       9.80 s → 2.50 s, 3.9× faster"),
            "{table}"
        );
        assert!(
            table.contains("p95 response        11.76 s → 3.00 s, 3.9× faster"),
            "{table}"
        );
        assert!(
            table.contains("product search API  6.00 s → 20 ms (p50)"),
            "{table}"
        );
        assert!(
            table.contains("error rate          5.0 % → 0.0 %"),
            "{table}"
        );
        assert!(
            table.contains("cost per 1k         $0.4200 → $0.4200"),
            "{table}"
        );
        let slower = compare(&after, &before).unwrap();
        assert!(slower.contains("3.9× slower"), "{slower}");
    }

    /// Transcription is compared by its errors and memory, and the job's time, not by requests.
    #[test]
    fn transcription_compares_errors_and_memory() {
        let job = |phase, failed: u64, rss: u64, ms: f64| RunReport {
            chunks: Some(120),
            failed_chunks: Some(failed),
            errors: failed,
            error_rate: failed as f64 / 120.0,
            peak_rss_bytes: Some(rss),
            settings: serde_json::json!({"minutes": 60, "fixes": {"strategy": "bounded", "batch_size": 4}}),
            ..report(Case::Transcription, phase, ms, 0.0)
        };
        let before = job(Phase::Before, 18, 600 << 20, 20_000.0);
        let after = job(Phase::After, 0, 100 << 20, 50_000.0);
        let table = compare(&before, &after).unwrap();
        assert!(
            table.contains("error rate          15.0 % → 0.0 %"),
            "{table}"
        );
        assert!(
            table.contains("failed chunks       18 → 0 of 120"),
            "{table}"
        );
        assert!(
            table.contains("peak memory         600 MiB → 100 MiB, 6.0× less"),
            "{table}"
        );
        assert!(
            table.contains("job time            20.00 s → 50.00 s, 2.5× slower"),
            "{table}"
        );
        assert!(!table.contains("cost per 1k"), "{table}");
        let run = after.table();
        assert!(
            run.starts_with(
                "transcription / after: a 60-minute meeting in 120 chunks, transcribed in 50.00 s"
            ),
            "{run}"
        );
        assert!(run.contains("bounded, batches of 4 chunks"), "{run}");
    }

    /// Two reports of different cases, or of another schema, are not compared.
    #[test]
    fn compare_refuses_mismatched_reports() {
        let a = report(Case::Chatbot, Phase::Before, 1.0, 1.0);
        let b = report(Case::DocSearch, Phase::After, 1.0, 1.0);
        assert_eq!(
            compare(&a, &b).unwrap_err(),
            CompareError::DifferentCases("chatbot", "doc-search")
        );
        let mut old = report(Case::Chatbot, Phase::After, 1.0, 1.0);
        old.schema = 0;
        assert_eq!(compare(&a, &old).unwrap_err(), CompareError::Schema(0));
    }

    /// A report survives JSON both ways.
    #[test]
    fn reports_round_trip_through_json() {
        let r = report(Case::DocSearch, Phase::After, 1200.0, 0.0);
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"case\":\"doc-search\""), "{json}");
        assert_eq!(serde_json::from_str::<RunReport>(&json).unwrap(), r);
    }
}
