// Checks the Compare page's pure functions (compare-model.js): `node tests/ui/check-compare-model.mjs`.
// Prints "ok: N checks" and exits 0, or throws at the first wrong answer.

import assert from "node:assert/strict";
import {
  fmtSeconds,
  fromLocalInput,
  headline,
  histogramScale,
  normaliseReport,
  normaliseSummary,
  pointsChange,
  refusal,
  relativeChange,
  speedup,
  stagePairs,
  toLocalInput,
  warnings,
  windowQuery,
} from "../../app/ui/compare-model.js";
import { setStages } from "../../app/ui/util.js";

import { check, done } from "./harness.mjs";

setStages([
  { id: "cache", label: "Cache", budget_ms: 50 },
  { id: "embeddings", label: "Embeddings", budget_ms: 500 },
  { id: "retrieval", label: "Retrieval", budget_ms: 500 },
  { id: "external_api", label: "Product search API", budget_ms: 1000 },
  { id: "prompt", label: "Prompt build", budget_ms: 100 },
  { id: "llm", label: "LLM call", budget_ms: 3000 },
  { id: "postprocess", label: "Post-processing", budget_ms: 200 },
]);

/** A report as lab/src/report.rs writes it (the shape of its unit test). */
function report(kase, phase, mean, productSearchP50, extra = {}) {
  return {
    schema: 1,
    case: kase,
    phase,
    started_at: "2026-12-02T10:00:00Z",
    seconds: 60,
    requests: 40,
    errors: phase === "before" ? 2 : 0,
    error_rate: phase === "before" ? 0.05 : 0,
    latency_ms: { mean, p50: mean, p95: mean * 1.2, p99: mean * 1.3, max: mean * 1.4 },
    histogram: [
      { le_ms: 1000, count: phase === "before" ? 0 : 10 },
      { le_ms: 3000, count: phase === "before" ? 0 : 30 },
      { le_ms: 6000, count: phase === "before" ? 4 : 0 },
      { le_ms: 10000, count: phase === "before" ? 36 : 0 },
      { le_ms: null, count: 0 },
    ],
    traces: 40,
    stages: [
      { stage: "external_api", p50_ms: productSearchP50, p95_ms: productSearchP50, share: 0.6 },
      { stage: "llm", p50_ms: 2400, p95_ms: 2900, share: 0.4 },
    ],
    slowest_stage: "external_api",
    overlapped: phase === "after" ? [["embeddings", "external_api"]] : [],
    cache_hit_rate: 0,
    catalog_cache_hit_rate: null,
    cost_usd_per_1k_requests: 0.42,
    settings: { scenario: "slow-catalog", fixes: {}, target: "in-process" },
    ...extra,
  };
}

const before = normaliseReport(report("chatbot", "before", 9800, 6000), "before.json");
const after = normaliseReport(report("chatbot", "after", 2500, 20), "after.json");

check("a report normalises", () => {
  assert.equal(before.kind, "report");
  assert.equal(before.case, "chatbot");
  assert.equal(before.requests, 40);
  assert.equal(before.errorRate, 0.05);
  assert.equal(before.latency.mean, 9800);
  assert.equal(before.scenario, "slow-catalog");
  assert.equal(before.costPer1k, 0.42);
  assert.equal(before.costTotal, null);
  assert.deepEqual(after.overlapped, [["embeddings", "external_api"]]);
  assert.equal(before.catalogCacheHitRate, null);
});

check("the headline says it in the case study's words", () => {
  const hl = headline(before, after);
  assert.equal(hl.text, "Mean response 9.8 s → 2.5 s, 3.9× faster; Product search API p50 6.0 s → 0.02 s; error rate 5.0 % → 0.0 %");
  assert.equal(hl.focus, "external_api");
  assert.equal(hl.speedup.direction, "faster");
  // The other way round it is slower.
  assert.match(headline(after, before).text, /^Mean response 2\.5 s → 9\.8 s, 3\.9× slower; /);
});

check("speed-up ratios", () => {
  assert.equal(speedup(9800, 2500).text, "3.9× faster");
  assert.equal(speedup(1000, 2000).text, "2.0× slower");
  assert.equal(speedup(1000, 1020).direction, "same");
  assert.equal(speedup(0, 100), null);
  assert.equal(speedup(100, 0), null);
  assert.equal(speedup(null, 100), null);
  assert.ok(Math.abs(speedup(9800, 2500).ratio - 3.92) < 1e-9);
});

check("headline durations", () => {
  assert.equal(fmtSeconds(9800), "9.8 s");
  assert.equal(fmtSeconds(6000), "6.0 s");
  assert.equal(fmtSeconds(20), "0.02 s");
  assert.equal(fmtSeconds(150), "0.15 s");
  assert.equal(fmtSeconds(0), "0 s");
  assert.equal(fmtSeconds(125000), "125 s");
  assert.equal(fmtSeconds(null), "—");
});

check("two reports of different cases are refused", () => {
  const doc = normaliseReport(report("doc-search", "after", 1200, 0), "doc.json");
  assert.equal(refusal(before, doc), "Before is a chatbot run and after a doc-search run: compare two runs of one case.");
  assert.equal(refusal(before, after), null);
  const win = normaliseSummary({ requests: 1, errors: 0, latency_ms: { mean: 1, p50: 1, p95: 1, p99: 1, max: 1 }, histogram: [], stages: [], slowest_stage: null, overlapped: [], cache_hits: 0, cost_usd: 0 });
  assert.equal(refusal(doc, win), null, "a report against a window is allowed");
});

check("bad reports are named", () => {
  assert.throws(() => normaliseReport([], "x.json"), /x\.json is not a ragtrace-lab report: it is not a JSON object/);
  assert.throws(() => normaliseReport({ ...report("chatbot", "before", 1, 1), case: "other" }, "x.json"), /"case" is "other"/);
  assert.throws(() => normaliseReport({ ...report("chatbot", "before", 1, 1), schema: 2 }, "x.json"), /schema 2/);
  assert.throws(() => normaliseReport({ ...report("chatbot", "before", 1, 1), latency_ms: undefined }, "x.json"), /latency_ms/);
  assert.throws(() => normaliseReport({ requests: 3, traces: [] }, "summary.json"), /"case"/);
});

check("swapped sides are warned about", () => {
  assert.deepEqual(warnings(after, before), ["The before side is an after run and the after side a before run: are they swapped?"]);
  assert.deepEqual(warnings(before, after), []);
});

const summary = {
  requests: 50,
  errors: 5,
  latency_ms: { mean: 3100, p50: 2900, p95: 5200, p99: 6000, max: 6100 },
  histogram: [
    { le_ms: 100, count: 0 },
    { le_ms: 250, count: 0 },
    { le_ms: 3000, count: 30 },
    { le_ms: 6000, count: 19 },
    { le_ms: 8000, count: 1 },
    { le_ms: null, count: 0 },
  ],
  stages: [
    { stage: "retrieval", count: 50, total_ms: 20000, critical_ms: 15000, share: 0.3, p50_ms: 380, p95_ms: 900, budget_ms: 500, over_budget: true },
    { stage: "llm", count: 50, total_ms: 35000, critical_ms: 35000, share: 0.7, p50_ms: 700, p95_ms: 1200, budget_ms: 3000, over_budget: false },
  ],
  slowest_stage: "llm",
  overlapped: [["retrieval", "external_api"]],
  cache_hits: 10,
  cost_usd: 0.021,
};

check("a window normalises, with cost per 1k and rates from the counts", () => {
  const w = normaliseSummary(summary, { fromMs: 1000, toMs: 2000 });
  assert.equal(w.kind, "window");
  assert.equal(w.requests, 50);
  assert.equal(w.errorRate, 0.1);
  assert.equal(w.cacheHitRate, 0.2);
  assert.equal(w.costTotal, 0.021);
  assert.ok(Math.abs(w.costPer1k - 0.42) < 1e-12);
  assert.equal(w.stages[0].critical_ms, 15000);
  assert.equal(w.fromMs, 1000);
  const empty = normaliseSummary({ requests: 0, errors: 0, latency_ms: {}, histogram: [], stages: [], overlapped: [], cache_hits: 0, cost_usd: 0 });
  assert.equal(empty.errorRate, null);
  assert.equal(empty.costPer1k, null);
  assert.deepEqual(warnings(empty, w), ["The before side has no requests in its window."]);
  assert.equal(w.quality, null, "no graded request, no quality");
});

check("a window's graded requests give its retrieval quality", () => {
  const w = normaliseSummary({ ...summary, quality: { graded: 118, hit_at_1: 0.8, hit_at_3: 0.9, mrr: 0.85 } });
  assert.deepEqual(w.quality, { graded: 118, hit1: 0.8, hit3: 0.9, mrr: 0.85 });
  assert.equal(normaliseSummary({ ...summary, quality: { graded: 0 } }).quality, null);
  assert.equal(normaliseSummary({ ...summary, quality: "bad" }).quality, null);
});

check("histograms share one scale, trimmed of empty ends", () => {
  const w = normaliseSummary(summary);
  const hs = histogramScale(before.histogram, w.histogram);
  // Union of bounds 1000 3000 6000 8000 10000 ∞ (100 and 250 are empty on both sides, trimmed; so is ∞).
  assert.deepEqual(
    hs.buckets.map((b) => b.le_ms),
    [3000, 6000, 8000, 10000],
  );
  assert.deepEqual(hs.totals, { before: 40, after: 50 });
  // Largest share: before's 36/40 = 0.9 → the scale tops at 1 (step 0.25).
  assert.equal(hs.yMax, 1);
  assert.deepEqual(hs.ticks, [0, 0.25, 0.5, 0.75, 1]);
  const b10 = hs.buckets.find((b) => b.le_ms === 10000);
  assert.equal(b10.before.count, 36);
  assert.ok(Math.abs(b10.before.height - 0.9) < 1e-12);
  assert.equal(b10.after.height, 0);
  const b3 = hs.buckets.find((b) => b.le_ms === 3000);
  assert.ok(Math.abs(b3.after.height - 0.6) < 1e-12, "30 of 50 on the same scale");
  assert.equal(b3.label, "3");
  assert.equal(b3.title, "1.0 s to 3.0 s");
  // A small largest share gets a tighter scale: 0.4 → step 0.1 → yMax 0.4.
  const flat = histogramScale(
    [
      { le_ms: 100, count: 3 },
      { le_ms: 250, count: 3 },
      { le_ms: 500, count: 4 },
      { le_ms: null, count: 0 },
    ],
    [],
  );
  assert.ok(Math.abs(flat.yMax - 0.4) < 1e-9, `yMax ${flat.yMax}`);
  assert.ok(Math.abs(flat.buckets[2].before.height - 1) < 1e-9);
  assert.equal(flat.totals.after, 0);
  // The open bucket is labelled by the bound before it.
  const open = histogramScale([{ le_ms: 30000, count: 1 }, { le_ms: null, count: 1 }], []);
  assert.deepEqual(open.buckets.map((b) => b.label), ["30", ">30"]);
  assert.deepEqual(histogramScale([], []).buckets, []);
});

check("stages pair up in pipeline order", () => {
  const w = normaliseSummary(summary);
  const pairs = stagePairs(before, w, ["cache", "embeddings", "retrieval", "external_api", "prompt", "llm", "postprocess"]);
  assert.deepEqual(
    pairs.map((p) => [p.stage, !!p.before, !!p.after]),
    [
      ["retrieval", false, true],
      ["external_api", true, false],
      ["llm", true, true],
    ],
  );
});

check("changes of rates and amounts", () => {
  assert.equal(pointsChange(0.05, 0), "−5.0 pts");
  assert.equal(pointsChange(0.01, 0.022), "+1.2 pts");
  assert.equal(pointsChange(0.1, 0.1), "±0 pts");
  assert.equal(relativeChange(0.42, 0.21), "−50 %");
  assert.equal(relativeChange(0, 1), null);
});

check("windows from datetime-local inputs", () => {
  const ms = new Date(2026, 11, 2, 10, 3, 27).getTime();
  assert.equal(toLocalInput(ms), "2026-12-02T10:03:27");
  assert.equal(fromLocalInput("2026-12-02T10:03:27"), ms);
  assert.equal(fromLocalInput("2026-12-02T10:03"), ms - 27000);
  assert.equal(fromLocalInput(""), null);
  assert.ok(Number.isNaN(fromLocalInput("yesterday")));
  assert.deepEqual(windowQuery("2026-12-02T10:00", "2026-12-02T10:05", " run-1 "), {
    from_ms: new Date(2026, 11, 2, 10, 0).getTime(),
    to_ms: new Date(2026, 11, 2, 10, 5).getTime(),
    user_id: "run-1",
  });
  assert.deepEqual(windowQuery("2026-12-02T10:00", ""), { from_ms: new Date(2026, 11, 2, 10, 0).getTime() });
  assert.throws(() => windowQuery("2026-12-02T10:05", "2026-12-02T10:00"), (e) => e.field === "from" && /starts after it ends/.test(e.message));
  assert.throws(() => windowQuery("", ""), (e) => e.field === "from");
});

check("transcription reports add chunks and memory to the headline", () => {
  const t0 = normaliseReport(report("transcription", "before", 120000, 0, { stages: [], chunks: 60, failed_chunks: 12, peak_rss_bytes: 900 * 1048576 }), "t0.json");
  const t1 = normaliseReport(report("transcription", "after", 45000, 0, { stages: [], chunks: 60, failed_chunks: 0, peak_rss_bytes: 80 * 1048576 }), "t1.json");
  assert.equal(
    headline(t0, t1).text,
    "Transcription job 120 s → 45.0 s, 2.7× faster; error rate 5.0 % → 0.0 %; failed chunks 12 → 0; peak memory 900 MB → 80 MB",
  );
});

done();
