// Before and after, side by side: each side is a lab report (`ragtrace-lab run … --out`, read in
// the browser) or a time window of the live trace store (GET /api/summary). Above the table, the
// improvement in the case study's words, and a button for the executive report of the two sides
// (POST /api/report). The arithmetic is in compare-model.js.

import { ApiError, authedFetch, errorFromResponse, getJson, withQuery } from "./api.js";
import { budgetScale } from "./breakdown.js";
import {
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
} from "./compare-model.js";
import { STAGES, errorBox, fmtBytes, fmtClock, fmtInt, fmtMs, fmtPct, fmtUsd, getLang, h, isAbort, setChildren, stageInfo } from "./util.js";

const MAX_REPORT_BYTES = 10 * 1024 * 1024;
const SIDES = ["before", "after"];
const TITLES = { before: "Before", after: "After" };
const KNOWN_STAGES = ["cache", "embeddings", "retrieval", "external_api", "prompt", "llm", "postprocess"];
const SVG_NS = "http://www.w3.org/2000/svg";

// What each side holds, kept while the app runs so a look at a trace and back loses nothing:
// `data` normalised, `raw` the JSON as loaded (the report file, or the GET /api/summary answer),
// `loadedAt` when (Unix ms: the end of a window that ends "now").
const kept = {
  before: { data: null, raw: null, loadedAt: null, from: "", to: "", user: "" },
  after: { data: null, raw: null, loadedAt: null, from: "", to: "", user: "" },
};

let state = null;

const stageColour = (id) => `c-stage-${KNOWN_STAGES.includes(id) ? id : "other"}`;
const label = (id) => stageInfo(id).label;
const pairText = (pairs) => (pairs.length ? pairs.map(([a, b]) => `${label(a)} ‖ ${label(b)}`).join(", ") : "none");

/** A window bound to the second: `10:03:27`, with the date when not today. */
function clock(ms) {
  return fmtClock(Math.floor(ms / 1000) * 1e6).replace(/\.000$/, "");
}

function sourceText(d) {
  if (!d) return "—";
  if (d.kind === "report") return `Lab report ${d.name}: ${d.case}, ${d.phase}`;
  const from = d.fromMs !== null ? clock(d.fromMs) : "the first trace";
  const to = d.toMs !== null ? clock(d.toMs) : "now";
  return `Live traces ${from} → ${to}${d.userId ? `, user ${d.userId}` : ""}`;
}

// ---- loading a side ---------------------------------------------------------------------------

function showSideError(which, err, title) {
  setChildren(state.sides[which].error, errorBox(err, { title }));
}

function setSide(which, data, raw = null) {
  kept[which].data = data;
  kept[which].raw = data ? raw : null;
  kept[which].loadedAt = data ? Date.now() : null;
  setChildren(state.sides[which].error);
  resetReport();
  renderSideStatus(which);
  renderResult();
}

function readReport(which, file) {
  if (!file) return;
  const s = state;
  if (file.size > MAX_REPORT_BYTES) {
    showSideError(which, { type: "validation", message: `${file.name} is ${fmtBytes(file.size)}; a lab report is a few kilobytes`, hint: "pick the JSON file that `ragtrace-lab run … --out` wrote" }, "Not a lab report");
    return;
  }
  const reader = new FileReader();
  reader.onerror = () => {
    if (state !== s) return;
    showSideError(which, { type: "file", message: `cannot read ${file.name}: ${reader.error?.message || "unknown error"}` }, "Could not read the file");
  };
  reader.onload = () => {
    if (state !== s) return;
    let json;
    try {
      json = JSON.parse(String(reader.result));
    } catch (e) {
      showSideError(which, { type: "validation", message: `${file.name} is not JSON: ${e.message}`, hint: "pick the JSON file that `ragtrace-lab run … --out` wrote" }, "Not a lab report");
      return;
    }
    try {
      setSide(which, normaliseReport(json, file.name), json);
      // Picking the same file again (after a new run overwrote it) reads it again.
      state.sides[which].file.value = "";
    } catch (e) {
      showSideError(which, { type: "validation", message: e.message, hint: "pick the JSON file that `ragtrace-lab run CASE --phase before|after --out FILE` wrote" }, "Not a lab report");
    }
  };
  reader.readAsText(file);
}

async function loadWindow(which) {
  const side = state.sides[which];
  const k = kept[which];
  k.from = side.from.value;
  k.to = side.to.value;
  k.user = side.user.value;
  let q;
  try {
    q = windowQuery(k.from, k.to, k.user);
  } catch (e) {
    showSideError(which, { type: "validation", message: e.message, field: e.field === "to" ? "to" : "from", hint: "pick the start and end of the window, e.g. with “Last 5 min”" }, "Not a time window");
    (e.field === "to" ? side.to : side.from).focus();
    return;
  }
  side.abort?.abort();
  const ctrl = new AbortController();
  side.abort = ctrl;
  side.load.disabled = true;
  setChildren(side.status, h("span", { class: "muted" }, "Loading the window…"));
  try {
    const summary = await getJson(withQuery("/api/summary", q), { signal: ctrl.signal });
    if (!state || side.abort !== ctrl) return;
    setSide(which, normaliseSummary(summary, { fromMs: q.from_ms ?? null, toMs: q.to_ms ?? null, userId: q.user_id ?? null }), summary);
  } catch (e) {
    if (isAbort(e) || !state || side.abort !== ctrl) return;
    renderSideStatus(which);
    showSideError(which, e, "Could not load the window");
  } finally {
    if (state && side.abort === ctrl) side.load.disabled = false;
  }
}

function lastMinutes(which, minutes) {
  const side = state.sides[which];
  const to = Date.now();
  side.from.value = toLocalInput(to - minutes * 60000);
  side.to.value = toLocalInput(to);
  loadWindow(which);
}

function renderSideStatus(which) {
  const side = state.sides[which];
  const d = kept[which].data;
  side.card.dataset.loaded = d ? d.kind : "";
  setChildren(
    side.status,
    d
      ? [
          h("span", { class: ["badge", d.kind === "report" ? "badge-accent" : "badge-quiet"] }, d.kind === "report" ? "lab report" : "live window"),
          " ",
          h("span", {}, sourceText(d)),
          " · ",
          h("strong", { class: "mono" }, `${fmtInt(d.requests)} request${d.requests === 1 ? "" : "s"}`),
          " ",
          h(
            "button",
            {
              type: "button",
              class: "button button-quiet",
              id: `compare-${which}-clear`,
              onclick: () => {
                side.file.value = "";
                setSide(which, null);
              },
            },
            "Clear",
          ),
        ]
      : h("span", { class: "muted" }, "Nothing loaded yet."),
  );
}

// ---- the comparison ---------------------------------------------------------------------------

function changeCell(text, good) {
  if (!text) return h("td", { class: "cmp-change muted" }, "—");
  return h("td", { class: ["cmp-change", good === true ? "text-ok" : good === false ? "text-bad" : null] }, text);
}

function timeChange(b, a) {
  const sp = b && a ? speedup(b, a) : null;
  return changeCell(sp?.text, sp ? (sp.direction === "faster" ? true : sp.direction === "slower" ? false : null) : null);
}

function row(metric, before, after, change = changeCell(null), id = null) {
  const cell = (v) => h("td", { class: "mono cmp-value" }, v ?? "—");
  return h("tr", { dataset: id ? { metric: id } : undefined }, h("th", { scope: "row" }, metric), cell(before), cell(after), change);
}

function compareTable(b, a) {
  const v = (d, f) => (d ? f(d) : "—");
  const rows = [
    row("Source", v(b, sourceText), v(a, sourceText), undefined, "source"),
  ];
  if (b?.kind === "report" || a?.kind === "report") {
    const run = (d) => (d.kind === "report" ? `${d.startedAt ?? "—"}${d.seconds !== null ? `, ${Math.round(d.seconds)} s of load` : ""}` : "—");
    rows.push(row("Run", v(b, run), v(a, run), undefined, "run"));
  }
  if (b?.scenario || a?.scenario) rows.push(row("Scenario", v(b, (d) => d.scenario || "—"), v(a, (d) => d.scenario || "—"), undefined, "scenario"));
  rows.push(
    row(
      "Requests",
      v(b, (d) => `${fmtInt(d.requests)}${d.kind === "report" && d.traces !== null && d.traces !== d.requests ? ` (${fmtInt(d.traces)} traced)` : ""}`),
      v(a, (d) => `${fmtInt(d.requests)}${d.kind === "report" && d.traces !== null && d.traces !== d.requests ? ` (${fmtInt(d.traces)} traced)` : ""}`),
      undefined,
      "requests",
    ),
    row(
      "Error rate",
      v(b, (d) => `${fmtPct(d.errorRate)}${d.errors !== null ? ` (${fmtInt(d.errors)})` : ""}`),
      v(a, (d) => `${fmtPct(d.errorRate)}${d.errors !== null ? ` (${fmtInt(d.errors)})` : ""}`),
      (() => {
        const t = b && a ? pointsChange(b.errorRate, a.errorRate) : null;
        return changeCell(t, t && t !== "±0 pts" ? a.errorRate < b.errorRate : null);
      })(),
      "error_rate",
    ),
  );
  for (const [key, name] of [
    ["mean", "Mean response"],
    ["p50", "p50 response"],
    ["p95", "p95 response"],
    ["p99", "p99 response"],
  ]) {
    rows.push(row(name, v(b, (d) => fmtMs(d.latency[key])), v(a, (d) => fmtMs(d.latency[key])), timeChange(b?.latency[key], a?.latency[key]), `latency_${key}`));
  }
  rows.push(
    row("Slowest stage (critical path)", v(b, (d) => (d.slowestStage ? label(d.slowestStage) : "—")), v(a, (d) => (d.slowestStage ? label(d.slowestStage) : "—")), undefined, "slowest_stage"),
    row("Ran in parallel", v(b, (d) => pairText(d.overlapped)), v(a, (d) => pairText(d.overlapped)), undefined, "overlapped"),
    row(
      "Answer-cache hits",
      v(b, (d) => fmtPct(d.cacheHitRate)),
      v(a, (d) => fmtPct(d.cacheHitRate)),
      (() => {
        const t = b && a ? pointsChange(b.cacheHitRate, a.cacheHitRate) : null;
        return changeCell(t, t && t !== "±0 pts" ? a.cacheHitRate > b.cacheHitRate : null);
      })(),
      "cache_hit_rate",
    ),
  );
  if (b?.quality || a?.quality) {
    const q = (d) => (d.quality ? `${fmtPct(d.quality.hit3)} (${fmtInt(d.quality.graded)} graded)` : "—");
    rows.push(
      row(
        "Expected passage in top 3 (golden set)",
        v(b, q),
        v(a, q),
        (() => {
          const t = b?.quality && a?.quality ? pointsChange(b.quality.hit3, a.quality.hit3) : null;
          return changeCell(t, t && t !== "±0 pts" ? a.quality.hit3 > b.quality.hit3 : null);
        })(),
        "quality_hit3",
      ),
    );
  }
  if (b?.kind === "report" || a?.kind === "report") {
    const cat = (d) => (d.kind === "report" ? (d.catalogCacheHitRate === null ? "not used" : fmtPct(d.catalogCacheHitRate)) : "—");
    rows.push(row("Product-search cache hits", v(b, cat), v(a, cat), undefined, "catalog_cache_hit_rate"));
  }
  rows.push(
    row(
      "Cost per 1,000 requests",
      v(b, (d) => fmtUsd(d.costPer1k)),
      v(a, (d) => fmtUsd(d.costPer1k)),
      (() => {
        const t = b && a ? relativeChange(b.costPer1k, a.costPer1k) : null;
        return changeCell(t, t && t !== "±0 %" ? a.costPer1k < b.costPer1k : null);
      })(),
      "cost_per_1k",
    ),
  );
  if (b?.kind === "window" || a?.kind === "window") {
    rows.push(row("Cost in the window", v(b, (d) => (d.kind === "window" ? fmtUsd(d.costTotal) : "—")), v(a, (d) => (d.kind === "window" ? fmtUsd(d.costTotal) : "—")), undefined, "cost_total"));
  }
  if (b?.chunks !== null && b?.chunks !== undefined) rows.push(row("Audio chunks", v(b, (d) => fmtInt(d.chunks)), v(a, (d) => fmtInt(d.chunks)), undefined, "chunks"));
  if ((b && b.failedChunks !== null) || (a && a.failedChunks !== null)) rows.push(row("Failed chunks", v(b, (d) => fmtInt(d.failedChunks)), v(a, (d) => fmtInt(d.failedChunks)), undefined, "failed_chunks"));
  if ((b && b.peakRssBytes !== null) || (a && a.peakRssBytes !== null)) {
    const t = b && a ? relativeChange(b.peakRssBytes, a.peakRssBytes) : null;
    rows.push(row("Peak memory", v(b, (d) => fmtBytes(d.peakRssBytes)), v(a, (d) => fmtBytes(d.peakRssBytes)), changeCell(t, t && t !== "±0 %" ? a.peakRssBytes < b.peakRssBytes : null), "peak_rss"));
  }
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { id: "compare-table", class: "table cmp-table", "data-testid": "compare-table" },
      h("caption", { class: "visually-hidden" }, "Before and after, side by side"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Measure"), h("th", { scope: "col" }, "Before"), h("th", { scope: "col" }, "After"), h("th", { scope: "col" }, "Change"))),
      h("tbody", {}, rows),
    ),
  );
}

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, val] of Object.entries(attrs)) if (val !== null && val !== undefined) el.setAttribute(k, String(val));
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c);
  return el;
}

/** One side's histogram on the common scale `hs` (compare-model.js `histogramScale`). */
function histogramSvg(which, hs, total) {
  const W = 640;
  const H = 300;
  const m = { left: 56, right: 12, top: 14, bottom: 58 };
  const iw = W - m.left - m.right;
  const ih = H - m.top - m.bottom;
  const n = Math.max(hs.buckets.length, 1);
  const slot = iw / n;
  const bw = Math.max(4, slot * 0.72);
  const y = (share) => m.top + ih - share * ih;
  const grid = hs.ticks.map((t) =>
    svg(
      "g",
      { class: "hist-grid" },
      svg("line", { x1: m.left, x2: W - m.right, y1: y(t / hs.yMax), y2: y(t / hs.yMax) }),
      svg("text", { x: m.left - 8, y: y(t / hs.yMax) + 6, "text-anchor": "end", class: "hist-tick" }, `${Math.round(t * 100)}%`),
    ),
  );
  const bars = hs.buckets.map((b, i) => {
    const x = m.left + i * slot + (slot - bw) / 2;
    const d = b[which];
    const height = d.height * ih;
    return svg(
      "g",
      {},
      svg(
        "rect",
        { class: `hist-bar hist-bar-${which}`, x, y: m.top + ih - height, width: bw, height: Math.max(height, d.count > 0 ? 2 : 0), rx: 3 },
        svg("title", {}, `${b.title}: ${d.count} request${d.count === 1 ? "" : "s"} (${fmtPct(d.share)})`),
      ),
      svg("text", { x: x + bw / 2, y: H - m.bottom + 22, "text-anchor": "middle", class: "hist-label" }, b.label),
    );
  });
  return svg(
    "svg",
    {
      class: "hist",
      viewBox: `0 0 ${W} ${H}`,
      role: "img",
      "aria-label": `${TITLES[which]}: ${total} requests; ${hs.buckets
        .filter((b) => b[which].count > 0)
        .map((b) => `${b.title} ${fmtPct(b[which].share)}`)
        .join(", ")}`,
      "data-testid": `histogram-${which}`,
    },
    grid,
    svg("line", { class: "hist-axis", x1: m.left, x2: W - m.right, y1: m.top + ih, y2: m.top + ih }),
    bars,
    svg("text", { x: m.left + iw / 2, y: H - 8, "text-anchor": "middle", class: "hist-caption" }, "seconds (upper bound of each bucket)"),
  );
}

function histograms(b, a) {
  const hs = histogramScale(b?.histogram || [], a?.histogram || []);
  if (!hs.buckets.length) return h("p", { class: "muted" }, "No latency distribution to show.");
  return h(
    "div",
    { class: "cmp-hists", id: "compare-histograms" },
    SIDES.map((which) => {
      const d = which === "before" ? b : a;
      return h(
        "figure",
        { class: ["cmp-hist", `cmp-hist-${which}`] },
        h("figcaption", {}, h("strong", {}, TITLES[which]), d ? ` · ${fmtInt(hs.totals[which])} requests · p50 ${fmtMs(d.latency.p50)} · p95 ${fmtMs(d.latency.p95)}` : " · nothing loaded"),
        d && hs.totals[which] > 0 ? histogramSvg(which, hs, hs.totals[which]) : h("p", { class: "muted cmp-hist-empty" }, d ? "No distribution on this side." : "Nothing loaded."),
      );
    }),
  );
}

function stageCell(which, s, id) {
  if (!s) return h("div", { class: "cmp-stage-cell muted" }, h("span", { class: "cmp-side-tag" }, TITLES[which]), "did not run");
  const info = stageInfo(id);
  const budget = info.budgetMs ?? s.budget_ms;
  const over = budget !== null && s.p95_ms !== null ? s.p95_ms > budget : false;
  const colour = stageColour(id);
  return h(
    "div",
    { class: ["cmp-stage-cell", over ? "cmp-over" : null], dataset: { side: which } },
    h("span", { class: "cmp-side-tag" }, TITLES[which]),
    budget !== null
      ? h(
          "div",
          { class: "budget-track", role: "img", "aria-label": `${TITLES[which]}: p50 ${fmtMs(s.p50_ms)}, p95 ${fmtMs(s.p95_ms)}, budget ${fmtMs(budget)}${over ? ", over budget" : ""}` },
          h("span", { class: ["budget-fill", over ? "budget-fill-over" : colour], style: { width: `${budgetScale(s.p95_ms ?? 0, budget)}%` } }),
          h("span", { class: "budget-p50", style: { left: `${budgetScale(s.p50_ms ?? 0, budget)}%` } }),
          h("span", { class: "budget-line" }),
        )
      : null,
    h(
      "span",
      { class: "mono bd-value" },
      `p50 ${fmtMs(s.p50_ms)} · `,
      h("span", { class: over ? "text-bad" : null }, `p95 ${fmtMs(s.p95_ms)}`),
      budget !== null ? ` / ${fmtMs(budget)}` : "",
      over ? [" ", h("span", { class: "badge badge-error" }, "over budget")] : null,
    ),
    h(
      "div",
      { class: "cmp-share" },
      h("div", { class: "bar-track", role: "img", "aria-label": `${fmtPct(s.share)} of the critical path` }, h("span", { class: ["bar-fill", colour], style: { width: `${Math.max(0, Math.min(100, (s.share ?? 0) * 100))}%` } })),
      h("span", { class: "mono" }, `${fmtPct(s.share)} of the critical path`),
    ),
  );
}

function stageList(b, a) {
  const pairs = stagePairs(b, a, STAGES.length ? STAGES.map((s) => s.id) : KNOWN_STAGES);
  if (!pairs.length) return h("p", { class: "muted" }, "No stage times on either side.");
  return h(
    "ol",
    { class: "cmp-stages", id: "compare-stages", "aria-label": "Stages in pipeline order" },
    pairs.map((p) => {
      const info = stageInfo(p.stage);
      const budget = info.budgetMs ?? p.before?.budget_ms ?? p.after?.budget_ms ?? null;
      const slowest = [b?.slowestStage === p.stage ? "before" : null, a?.slowestStage === p.stage ? "after" : null].filter(Boolean);
      return h(
        "li",
        { class: "cmp-stage", dataset: { stage: p.stage } },
        h(
          "div",
          { class: "bd-name" },
          h("span", { class: ["swatch", stageColour(p.stage)], "aria-hidden": "true" }),
          h("span", { class: "bd-label" }, info.label),
          h("span", { class: "bd-id mono" }, `${p.stage}${budget !== null ? ` · budget ${fmtMs(budget)}` : ""}`),
          slowest.length ? h("span", { class: "badge badge-accent" }, `slowest ${slowest.join(" and ")}`) : null,
        ),
        stageCell("before", p.before, p.stage),
        stageCell("after", p.after, p.stage),
      );
    }),
  );
}

function renderResult() {
  const b = kept.before.data;
  const a = kept.after.data;
  const hl = state.headline;
  renderReportBar(b, a);
  if (!b && !a) {
    hl.dataset.state = "waiting";
    setChildren(hl, h("p", { class: "cmp-waiting" }, "Load a before and an after: a lab report on each side, or a time window of the live traces."));
    setChildren(state.result);
    return;
  }
  const refused = refusal(b, a);
  if (refused) {
    hl.dataset.state = "refused";
    setChildren(
      hl,
      errorBox(
        { type: "different_cases", message: refused, hint: "load the before and the after of the same case study (chatbot, doc-search or transcription)" },
        { title: "These two reports cannot be compared" },
      ),
    );
    setChildren(state.result);
    return;
  }
  const notes = warnings(b, a);
  if (b && a && b.requests > 0 && a.requests > 0) {
    const text = headline(b, a);
    hl.dataset.state = "ok";
    hl.dataset.direction = text.speedup?.direction || "";
    setChildren(
      hl,
      h("p", { class: "cmp-kicker" }, b.case || a.case ? `Case study: ${b.case || a.case}` : "Before → after"),
      h("p", { class: ["cmp-sentence", text.speedup?.direction === "slower" ? "text-bad" : null] }, text.text),
      notes.length ? h("ul", { class: "cmp-notes" }, notes.map((n) => h("li", {}, n))) : null,
    );
  } else {
    hl.dataset.state = "partial";
    setChildren(
      hl,
      h("p", { class: "cmp-waiting" }, !b ? "Load the before side to see the improvement." : !a ? "Load the after side to see the improvement." : "One side has no requests: nothing to compare yet."),
      notes.length ? h("ul", { class: "cmp-notes" }, notes.map((n) => h("li", {}, n))) : null,
    );
  }
  setChildren(
    state.result,
    compareTable(b, a),
    h("h2", { class: "cmp-section-title" }, "End-to-end time, share of requests per bucket (same scale on both sides)"),
    histograms(b, a),
    h("h2", { class: "cmp-section-title" }, "Stages: p50 / p95 against the budget, and share of the critical path"),
    stageList(b, a),
    h("p", { class: "help" }, "The budget mark sits in the middle of each track; the bar is the p95, the thin mark the p50. Share: the stage's part of the time on the requests' critical paths, so stages that ran in parallel are counted once."),
  );
}

// ---- the executive report ---------------------------------------------------------------------

/**
 * How to ask for the report of the two sides, `{method, url, body}`: two lab reports go to
 * POST /api/report as loaded, two live windows to GET /report with their bounds (Unix ms); a lab
 * report against a live window has no report (null).
 */
function reportRequest(before, after, lang) {
  const b = before.data;
  const a = after.data;
  if (b?.kind === "report" && a?.kind === "report" && before.raw && after.raw) {
    return { method: "POST", url: withQuery("/api/report", { lang }), body: { before: before.raw, after: after.raw } };
  }
  if (b?.kind === "window" && a?.kind === "window") {
    return {
      method: "GET",
      url: withQuery("/report", {
        lang,
        baseline_from: b.fromMs,
        baseline_to: b.toMs ?? before.loadedAt,
        from: a.fromMs,
        to: a.toMs ?? after.loadedAt,
      }),
      body: undefined,
    };
  }
  return null;
}

/** `method` `url` (with `body` as JSON, if any) and return the text/html answer; throws ApiError. */
async function fetchHtml({ method, url, body }, signal) {
  let res;
  try {
    res = await authedFetch(url, {
      method,
      headers: body === undefined ? { accept: "text/html, application/json" } : { "content-type": "application/json", accept: "text/html, application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
    });
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError({
      status: 0,
      type: "network",
      message: `Cannot reach the ragtrace API (${url}): ${e?.message || e}`,
      hint: "Is ragtrace still running? Start it with `cargo run --release` and reload this page.",
    });
  }
  if (!res.ok) throw await errorFromResponse(res, url);
  return res.text();
}

function revokeReport(r, later = false) {
  if (!r.url) return;
  const url = r.url;
  r.url = null;
  // A tab opened a moment ago may still be reading it.
  if (later) setTimeout(() => URL.revokeObjectURL(url), 60000);
  else URL.revokeObjectURL(url);
}

/** The sides changed: a report built before no longer matches them. */
function resetReport() {
  const r = state?.report;
  if (!r) return;
  r.abort?.abort();
  r.abort = null;
  revokeReport(r, true);
  r.button.disabled = false;
  r.button.removeAttribute("aria-busy");
  setChildren(r.status);
  setChildren(r.error);
}

/** Shows the report bar when both sides are loaded and comparable; says when no report fits them. */
function renderReportBar(b, a) {
  const r = state.report;
  r.bar.hidden = !(b && a && !refusal(b, a));
  if (r.bar.hidden) return;
  const lang = getLang() === "ja" ? "Japanese" : "English";
  const req = reportRequest(kept.before, kept.after, getLang());
  r.button.disabled = !req || r.abort !== null;
  if (!req) {
    setChildren(r.help, "The report compares two lab reports, or two windows of the live traces: load the same kind on both sides.");
  } else if (b.kind === "window") {
    setChildren(
      r.help,
      `The executive report of these two windows as one HTML page, in ${lang} (the language switch in the header)`,
      b.userId || a.userId ? ", of every user's requests: the report does not filter by user." : ".",
    );
  } else {
    setChildren(r.help, `The executive report of these two runs as one HTML page, in ${lang} (the language switch in the header).`);
  }
}

/** Asks for the report of the two sides; the HTML opens in a new tab (a Blob URL), with a download link. */
async function buildReport() {
  const s = state;
  const r = s?.report;
  const req = reportRequest(kept.before, kept.after, getLang());
  if (!r || !req) return;
  r.abort?.abort();
  const ctrl = new AbortController();
  r.abort = ctrl;
  r.button.disabled = true;
  r.button.setAttribute("aria-busy", "true");
  setChildren(r.error);
  setChildren(r.status, h("span", { class: "muted" }, "Building the report…"));
  try {
    const html = await fetchHtml(req, ctrl.signal);
    if (state !== s || r.abort !== ctrl) return;
    revokeReport(r, true);
    r.url = URL.createObjectURL(new Blob([html], { type: "text/html" }));
    const tab = window.open(r.url, "_blank");
    if (tab) tab.opener = null;
    setChildren(
      r.status,
      tab ? "The report opened in a new tab. " : "The browser did not open a new tab: ",
      h("a", { id: "compare-report-open", href: r.url, target: "_blank", rel: "noopener" }, "Open the report"),
      " · ",
      h("a", { id: "compare-report-download", href: r.url, download: "report.html" }, "Download report.html"),
    );
  } catch (e) {
    if (isAbort(e) || state !== s || r.abort !== ctrl) return;
    setChildren(r.status);
    setChildren(r.error, errorBox(e, { title: "Could not build the report" }));
  } finally {
    if (state === s && r.abort === ctrl) {
      r.abort = null;
      r.button.disabled = false;
      r.button.removeAttribute("aria-busy");
    }
  }
}

function reportBar() {
  const button = h("button", { type: "button", id: "compare-report", class: "button button-primary", "aria-describedby": "compare-report-help", onclick: () => buildReport() }, "Report");
  const status = h("p", { id: "compare-report-status", class: "cmp-report-status", role: "status" });
  const error = h("div", { id: "compare-report-error", class: "error-slot" });
  const help = h("p", { id: "compare-report-help", class: "help cmp-report-help" });
  const bar = h(
    "section",
    { id: "compare-report-bar", class: "cmp-report", "aria-label": "Executive report", hidden: true },
    h(
      "div",
      { class: "cmp-report-row" },
      button,
      help,
    ),
    status,
    error,
  );
  return { bar, button, help, status, error, abort: null, url: null };
}

// ---- page -------------------------------------------------------------------------------------

function sideCard(which) {
  const k = kept[which];
  const file = h("input", { id: `compare-${which}-file`, class: "input file-input", type: "file", accept: ".json,application/json" });
  const from = h("input", { id: `compare-${which}-from`, class: "input mono", type: "datetime-local", step: "1", value: k.from || null });
  const to = h("input", { id: `compare-${which}-to`, class: "input mono", type: "datetime-local", step: "1", value: k.to || null });
  const user = h("input", { id: `compare-${which}-user`, class: "input mono", type: "text", placeholder: "any", autocomplete: "off", value: k.user || null });
  const load = h("button", { type: "submit", id: `compare-${which}-load`, class: "button button-primary" }, "Load window");
  const status = h("p", { id: `compare-${which}-status`, class: "cmp-status", role: "status" });
  const error = h("div", { id: `compare-${which}-error`, class: "error-slot" });
  const form = h(
    "form",
    { class: "cmp-window", novalidate: true, "aria-label": `${TITLES[which]}: a time window of the live traces` },
    h(
      "div",
      { class: "cmp-window-fields" },
      h("div", { class: "field" }, h("label", { class: "label", for: `compare-${which}-from` }, "From"), from),
      h("div", { class: "field" }, h("label", { class: "label", for: `compare-${which}-to` }, "To ", h("span", { class: "optional" }, "(empty: now)")), to),
      h("div", { class: "field" }, h("label", { class: "label", for: `compare-${which}-user` }, "User id ", h("span", { class: "optional" }, "(optional)")), user),
    ),
    h(
      "div",
      { class: "filter-actions" },
      load,
      h("button", { type: "button", class: "button", onclick: () => lastMinutes(which, 5) }, "Last 5 min"),
      h("button", { type: "button", class: "button", onclick: () => lastMinutes(which, 15) }, "Last 15 min"),
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    loadWindow(which);
  });
  file.addEventListener("change", () => {
    const f = file.files && file.files[0];
    readReport(which, f);
  });
  const card = h(
    "section",
    { class: ["card", "cmp-side", `cmp-side-${which}`], id: `compare-${which}`, "aria-labelledby": `compare-${which}-title` },
    h("h2", { id: `compare-${which}-title`, class: "cmp-side-title" }, TITLES[which]),
    status,
    h("div", { class: "field" }, h("label", { class: "label", for: `compare-${which}-file` }, "A lab report ", h("span", { class: "optional" }, "(ragtrace-lab run … --out FILE.json)")), file),
    h("p", { class: "cmp-or" }, "or a time window of the live traces"),
    form,
    error,
  );
  return { card, file, from, to, user, load, status, error, abort: null };
}

/** Mounts the Compare page. */
export function mount(main) {
  const sides = { before: sideCard("before"), after: sideCard("after") };
  const headlineEl = h("div", { id: "compare-headline", class: "cmp-headline", "aria-live": "polite", "data-testid": "compare-headline" });
  const result = h("div", { id: "compare-result", class: "cmp-result" });
  const report = reportBar();
  main.appendChild(
    h(
      "section",
      { class: "page page-compare", "aria-labelledby": "compare-title" },
      h("h1", { id: "compare-title" }, "Before and after"),
      h("p", { class: "lede" }, "Measure a fix: load what the service did before it and after it, from ragtrace-lab reports or from the live traces, and see the change side by side."),
      h("div", { class: "cmp-sides" }, sides.before.card, sides.after.card),
      headlineEl,
      report.bar,
      result,
    ),
  );
  state = { sides, headline: headlineEl, result, report };
  for (const which of SIDES) renderSideStatus(which);
  renderResult();
  return () => {
    if (!state) return;
    for (const which of SIDES) {
      state.sides[which].abort?.abort();
      kept[which].from = state.sides[which].from.value;
      kept[which].to = state.sides[which].to.value;
      kept[which].user = state.sides[which].user.value;
    }
    state.report.abort?.abort();
    revokeReport(state.report, true);
    state = null;
  };
}
