// The Compare page's arithmetic, without the DOM: a lab report (`ragtrace-lab run --out`) and a
// window of the live trace store (GET /api/summary) normalised to one shape, the headline in the
// case study's words, speed-up ratios and the histograms' common scale. Pure functions only, so
// `node` can import this module (see check-compare-model.mjs).

import { fmtBytes, niceStep, stageInfo } from "./util.js";

/** The case studies a lab report can be of. */
export const CASES = ["chatbot", "doc-search", "transcription"];

/** The report schema version this page reads (lab/src/report.rs `SCHEMA`). */
export const REPORT_SCHEMA = 1;

const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
const int = (v) => (num(v) === null ? null : Math.round(v));

function latencyOf(l) {
  const o = l && typeof l === "object" ? l : {};
  return { mean: num(o.mean), p50: num(o.p50), p95: num(o.p95), p99: num(o.p99), max: num(o.max) };
}

function histogramOf(list) {
  if (!Array.isArray(list)) return [];
  return list
    .filter((b) => b && typeof b === "object" && num(b.count) !== null)
    .map((b) => ({ le_ms: num(b.le_ms), count: Math.max(0, Math.round(b.count)) }));
}

function stagesOf(list) {
  if (!Array.isArray(list)) return [];
  return list
    .filter((s) => s && typeof s.stage === "string" && s.stage)
    .map((s) => ({
      stage: s.stage,
      p50_ms: num(s.p50_ms),
      p95_ms: num(s.p95_ms),
      share: num(s.share),
      critical_ms: num(s.critical_ms),
      budget_ms: num(s.budget_ms),
    }));
}

function pairsOf(list) {
  if (!Array.isArray(list)) return [];
  return list.filter((p) => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === "string")).map((p) => [p[0], p[1]]);
}

/** A normalised side with every field present (null where unknown). */
function side(fields) {
  return {
    kind: null,
    name: null,
    case: null,
    phase: null,
    startedAt: null,
    seconds: null,
    fromMs: null,
    toMs: null,
    userId: null,
    scenario: null,
    requests: 0,
    errors: null,
    errorRate: null,
    traces: null,
    latency: latencyOf(null),
    histogram: [],
    stages: [],
    slowestStage: null,
    overlapped: [],
    cacheHitRate: null,
    catalogCacheHitRate: null,
    quality: null,
    costPer1k: null,
    costTotal: null,
    chunks: null,
    failedChunks: null,
    peakRssBytes: null,
    ...fields,
  };
}

/**
 * A lab report (the parsed JSON of `ragtrace-lab run CASE --phase P --out FILE`) as a side of
 * the comparison. Throws an Error saying what is wrong when `json` is not such a report.
 */
export function normaliseReport(json, name = "the file") {
  const bad = (why) => new Error(`${name} is not a ragtrace-lab report: ${why}`);
  if (!json || typeof json !== "object" || Array.isArray(json)) throw bad("it is not a JSON object");
  if (json.schema !== undefined && json.schema !== REPORT_SCHEMA) {
    throw new Error(`${name} is a report of schema ${JSON.stringify(json.schema)}; this page reads schema ${REPORT_SCHEMA}`);
  }
  if (!CASES.includes(json.case)) throw bad(`its "case" is ${JSON.stringify(json.case)}, not one of ${CASES.join(", ")}`);
  if (json.phase !== "before" && json.phase !== "after") throw bad(`its "phase" is ${JSON.stringify(json.phase)}, not "before" or "after"`);
  if (num(json.requests) === null) throw bad('"requests" is missing or not a number');
  if (!json.latency_ms || typeof json.latency_ms !== "object") throw bad('"latency_ms" is missing');
  const latency = latencyOf(json.latency_ms);
  if (latency.mean === null || latency.p50 === null || latency.p95 === null) throw bad('"latency_ms" lacks mean, p50 or p95');
  const requests = int(json.requests);
  const errors = int(json.errors);
  const settings = json.settings && typeof json.settings === "object" ? json.settings : {};
  return side({
    kind: "report",
    name,
    case: json.case,
    phase: json.phase,
    startedAt: typeof json.started_at === "string" ? json.started_at : null,
    seconds: num(json.seconds),
    scenario: typeof settings.scenario === "string" ? settings.scenario : null,
    requests,
    errors,
    errorRate: num(json.error_rate) ?? (errors !== null && requests > 0 ? errors / requests : null),
    traces: int(json.traces),
    latency,
    histogram: histogramOf(json.histogram),
    stages: stagesOf(json.stages),
    slowestStage: typeof json.slowest_stage === "string" ? json.slowest_stage : null,
    overlapped: pairsOf(json.overlapped),
    cacheHitRate: num(json.cache_hit_rate),
    catalogCacheHitRate: num(json.catalog_cache_hit_rate),
    costPer1k: num(json.cost_usd_per_1k_requests),
    chunks: int(json.chunks),
    failedChunks: int(json.failed_chunks),
    peakRssBytes: num(json.peak_rss_bytes),
  });
}

/** The retrieval quality of a window's graded requests (`{graded, hit1, hit3, mrr}`), or null. */
function qualityOf(q) {
  if (!q || typeof q !== "object" || !(int(q.graded) > 0)) return null;
  return { graded: int(q.graded), hit1: num(q.hit_at_1), hit3: num(q.hit_at_3), mrr: num(q.mrr) };
}

/**
 * A `GET /api/summary` answer for the window `{fromMs, toMs, userId}` as a side of the
 * comparison: error rate, answer-cache hits and cost per 1,000 requests computed from the counts.
 */
export function normaliseSummary(json, { fromMs = null, toMs = null, userId = null } = {}) {
  const o = json && typeof json === "object" ? json : {};
  const requests = int(o.requests) ?? 0;
  const errors = int(o.errors) ?? 0;
  const cost = num(o.cost_usd);
  const hits = int(o.cache_hits);
  return side({
    kind: "window",
    name: "live traces",
    fromMs,
    toMs,
    userId: userId || null,
    requests,
    errors,
    errorRate: requests > 0 ? errors / requests : null,
    traces: requests,
    latency: latencyOf(o.latency_ms),
    histogram: histogramOf(o.histogram),
    stages: stagesOf(o.stages),
    slowestStage: typeof o.slowest_stage === "string" ? o.slowest_stage : null,
    overlapped: pairsOf(o.overlapped),
    cacheHitRate: hits !== null && requests > 0 ? hits / requests : null,
    quality: qualityOf(o.quality),
    costTotal: cost,
    costPer1k: cost !== null && requests > 0 ? (cost / requests) * 1000 : null,
  });
}

/**
 * Why `before` and `after` cannot be compared (two lab reports of different cases), or null.
 */
export function refusal(before, after) {
  if (!before || !after) return null;
  if (before.kind === "report" && after.kind === "report" && before.case !== after.case) {
    return `Before is a ${before.case} run and after a ${after.case} run: compare two runs of one case.`;
  }
  return null;
}

/** Things worth a second look that do not stop the comparison (sides swapped, no requests). */
export function warnings(before, after) {
  const out = [];
  if (before?.phase === "after" && after?.phase === "before") out.push("The before side is an after run and the after side a before run: are they swapped?");
  else {
    if (before?.phase === "after") out.push("The before side is a report of an after run.");
    if (after?.phase === "before") out.push("The after side is a report of a before run.");
  }
  for (const [s, label] of [
    [before, "before"],
    [after, "after"],
  ]) {
    if (s && !(s.requests > 0)) out.push(`The ${label} side has no requests${s.kind === "window" ? " in its window" : ""}.`);
  }
  return out;
}

/**
 * `before → after` of a time (smaller is better) as a ratio: `{ratio, direction, text}` with
 * direction "faster", "slower" or "same" (within 5 %), or null when either is not positive.
 */
export function speedup(before, after) {
  if (!(before > 0) || !(after > 0)) return null;
  const ratio = before / after;
  if (Math.abs(ratio - 1) < 0.05) return { ratio, direction: "same", text: "about the same" };
  if (ratio >= 1) return { ratio, direction: "faster", text: `${ratio.toFixed(1)}× faster` };
  return { ratio, direction: "slower", text: `${(1 / ratio).toFixed(1)}× slower` };
}

/** A duration in seconds for the headline: `9.8 s`, `0.02 s`, `125 s`. */
export function fmtSeconds(ms) {
  if (num(ms) === null) return "—";
  if (ms === 0) return "0 s";
  const s = ms / 1000;
  if (Math.abs(s) >= 99.95) return `${Math.round(s)} s`;
  if (Math.abs(s) >= 0.95) return `${s.toFixed(1)} s`;
  return `${Number(s.toPrecision(2))} s`;
}

/** A ratio as a percentage with one decimal, as the lab prints it: `5.0 %`. */
export function fmtRatePct(r) {
  return num(r) === null ? "—" : `${(r * 100).toFixed(1)} %`;
}

/**
 * The stage the headline names: among stages measured on both sides, the one whose p50 changed
 * most (what the fix acted on); ties go to the before side's slowest stage. Null when none.
 */
export function focusStage(before, after) {
  let best = null;
  for (const b of before?.stages || []) {
    const a = (after?.stages || []).find((x) => x.stage === b.stage);
    if (!a || b.p50_ms === null || a.p50_ms === null) continue;
    const delta = Math.abs(b.p50_ms - a.p50_ms);
    if (!best || delta > best.delta || (delta === best.delta && b.stage === before.slowestStage)) best = { stage: b.stage, before: b, after: a, delta };
  }
  return best;
}

/**
 * The improvement in the case study's words, from two normalised sides: `{clauses, text}`, e.g.
 * "Mean response 9.8 s → 2.5 s, 3.9× faster; Product search API p50 6.0 s → 0.02 s; error rate
 * 5.0 % → 0.0 %". `labelOf(stage)` names a stage (default: the stage table's label).
 */
export function headline(before, after, { labelOf = (id) => stageInfo(id).label } = {}) {
  const clauses = [];
  const what = before.case === "transcription" || after.case === "transcription" ? "Transcription job" : "Mean response";
  const sp = speedup(before.latency.mean, after.latency.mean);
  clauses.push(`${what} ${fmtSeconds(before.latency.mean)} → ${fmtSeconds(after.latency.mean)}${sp ? `, ${sp.text}` : ""}`);
  const focus = focusStage(before, after);
  if (focus && focus.delta > 0) {
    clauses.push(`${labelOf(focus.stage)} p50 ${fmtSeconds(focus.before.p50_ms)} → ${fmtSeconds(focus.after.p50_ms)}`);
  }
  clauses.push(`error rate ${fmtRatePct(before.errorRate)} → ${fmtRatePct(after.errorRate)}`);
  if (before.failedChunks !== null && after.failedChunks !== null) {
    clauses.push(`failed chunks ${before.failedChunks} → ${after.failedChunks}`);
  }
  if (before.peakRssBytes !== null && after.peakRssBytes !== null) {
    clauses.push(`peak memory ${fmtBytes(before.peakRssBytes).replace(/\u00a0/g, " ")} → ${fmtBytes(after.peakRssBytes).replace(/\u00a0/g, " ")}`);
  }
  return { clauses, text: clauses.join("; "), speedup: sp, focus: focus ? focus.stage : null };
}

/** The change of a rate (0..1) in percentage points: `-5.0 pts`, `+1.2 pts`, `±0 pts`. */
export function pointsChange(before, after) {
  if (num(before) === null || num(after) === null) return null;
  const d = (after - before) * 100;
  if (Math.abs(d) < 0.05) return "±0 pts";
  return `${d > 0 ? "+" : "−"}${Math.abs(d).toFixed(1)} pts`;
}

/** The relative change of an amount: `−42 %`, `+7 %`, `±0 %`; null when the before is 0. */
export function relativeChange(before, after) {
  if (num(before) === null || num(after) === null || before === 0) return null;
  const d = ((after - before) / before) * 100;
  if (Math.abs(d) < 0.5) return "±0 %";
  return `${d > 0 ? "+" : "−"}${Math.abs(d) >= 10 ? Math.round(Math.abs(d)) : Math.abs(d).toFixed(1)} %`;
}

/** The short label of a histogram bound: seconds without a unit (`0.25`, `1.5`, `>30`). */
export function bucketLabel(leMs, prevLeMs = null) {
  const s = (ms) => String(Number((ms / 1000).toPrecision(3)));
  if (leMs === null) return prevLeMs === null ? "all" : `>${s(prevLeMs)}`;
  return s(leMs);
}

/**
 * The two histograms on one scale: buckets are the union of both sides' bounds (the open bucket
 * last), trimmed of the empty ones at both ends; heights are the share of each side's requests,
 * relative to `yMax` (a round share above the largest of either side), so equal heights mean
 * equal shares whatever the sides' request counts.
 * Returns `{buckets: [{le_ms, label, title, before: {count, share, height}, after: {...}}],
 * yMax, ticks, totals: {before, after}}`.
 */
export function histogramScale(beforeHist, afterHist) {
  const lists = { before: histogramOf(beforeHist), after: histogramOf(afterHist) };
  const key = (le) => (le === null ? Infinity : le);
  const bounds = [...new Set([...lists.before, ...lists.after].map((b) => key(b.le_ms)))].sort((x, y) => x - y);
  const totals = {};
  const counts = {};
  for (const k of ["before", "after"]) {
    counts[k] = new Map();
    for (const b of lists[k]) counts[k].set(key(b.le_ms), (counts[k].get(key(b.le_ms)) || 0) + b.count);
    totals[k] = lists[k].reduce((a, b) => a + b.count, 0);
  }
  const full = bounds.map((bound, i) => {
    const le = bound === Infinity ? null : bound;
    const prev = i > 0 && bounds[i - 1] !== Infinity ? bounds[i - 1] : null;
    const entry = { le_ms: le, label: bucketLabel(le, prev) };
    for (const k of ["before", "after"]) {
      const count = counts[k].get(bound) || 0;
      entry[k] = { count, share: totals[k] > 0 ? count / totals[k] : 0, height: 0 };
    }
    entry.title =
      le === null
        ? prev === null
          ? "all requests"
          : `over ${fmtSeconds(prev)}`
        : prev === null
          ? `up to ${fmtSeconds(le)}`
          : `${fmtSeconds(prev)} to ${fmtSeconds(le)}`;
    return entry;
  });
  const used = full.map((b) => b.before.count > 0 || b.after.count > 0);
  const first = used.indexOf(true);
  const last = used.lastIndexOf(true);
  const buckets = first < 0 ? [] : full.slice(first, last + 1);
  const maxShare = Math.max(0, ...buckets.flatMap((b) => [b.before.share, b.after.share]));
  let yMax = 1;
  let ticks = [0, 0.25, 0.5, 0.75, 1];
  if (maxShare > 0) {
    const step = niceStep(maxShare, 4);
    yMax = Math.min(1, Math.ceil(maxShare / step - 1e-9) * step);
    if (yMax < maxShare) yMax = maxShare;
    ticks = [];
    for (let t = 0; t <= yMax + 1e-9; t += step) ticks.push(Number(t.toFixed(6)));
  }
  for (const b of buckets) for (const k of ["before", "after"]) b[k].height = yMax > 0 ? b[k].share / yMax : 0;
  return { buckets, yMax, ticks, totals };
}

/**
 * The stages of both sides, in pipeline order (`order`: stage ids, e.g. the stage table's), then
 * any other stage: `[{stage, before, after}]` with null for a side the stage did not run on.
 */
export function stagePairs(before, after, order = []) {
  const ids = [];
  for (const s of [...(before?.stages || []), ...(after?.stages || [])]) if (!ids.includes(s.stage)) ids.push(s.stage);
  const rank = (id) => {
    const i = order.indexOf(id);
    return i < 0 ? order.length + ids.indexOf(id) : i;
  };
  ids.sort((x, y) => rank(x) - rank(y));
  return ids.map((stage) => ({
    stage,
    before: (before?.stages || []).find((s) => s.stage === stage) || null,
    after: (after?.stages || []).find((s) => s.stage === stage) || null,
  }));
}

const pad2 = (n) => String(n).padStart(2, "0");

/** A Unix time in ms as a `datetime-local` value in local time (`2026-12-02T10:03:27`). */
export function toLocalInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** A `datetime-local` value (local time) as Unix ms; null when empty; NaN when unreadable. */
export function fromLocalInput(value) {
  const v = String(value ?? "").trim();
  if (!v) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(v);
  if (!m) return NaN;
  const [, y, mo, d, hh, mi, ss = "0", frac = "0"] = m;
  const t = new Date(Number(y), Number(mo) - 1, Number(d), Number(hh), Number(mi), Number(ss), Number(frac.padEnd(3, "0")));
  return Number.isNaN(t.getTime()) ? NaN : t.getTime();
}

/**
 * The query of GET /api/summary for a window typed into two `datetime-local` inputs:
 * `{from_ms, to_ms, user_id}` (empty bounds left out), or throws an Error with a `field`.
 */
export function windowQuery(fromValue, toValue, userId = "") {
  const fromMs = fromLocalInput(fromValue);
  const toMs = fromLocalInput(toValue);
  const fail = (field, message) => Object.assign(new Error(message), { field });
  if (Number.isNaN(fromMs)) throw fail("from", "the start of the window is not a date and time");
  if (Number.isNaN(toMs)) throw fail("to", "the end of the window is not a date and time");
  if (fromMs === null && toMs === null) throw fail("from", "give the window a start, an end, or both");
  if (fromMs !== null && toMs !== null && fromMs > toMs) throw fail("from", "the window starts after it ends");
  const q = {};
  if (fromMs !== null) q.from_ms = fromMs;
  if (toMs !== null) q.to_ms = toMs;
  const u = String(userId ?? "").trim();
  if (u) q.user_id = u;
  return q;
}
