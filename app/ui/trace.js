// One trace as a waterfall: GET /api/traces/<id> → {summary, critical_path, spans}. The span tree
// comes from parent_span_id; bars sit on a time axis; a side panel shows the selected span's
// attributes and events; a summary at the top names the bottleneck: the stage with the most time
// on the critical path (the server's `critical_path`, so stages that ran in parallel are not
// counted twice), else, from an older server, the longest stage span.

import { getJson, getUiConfig } from "./api.js";
import {
  ATTR,
  STAGES,
  attrOf,
  emptyState,
  errorBox,
  fmtClock,
  fmtDurationUs,
  fmtInt,
  fmtPct,
  fmtUsd,
  h,
  isAbort,
  isTraceId,
  niceStep,
  setChildren,
  sleep,
  stageInfo,
} from "./util.js";

/** Waits between attempts while a fresh trace is still on its way to the store (about 7 s in all). */
const RETRY_DELAYS_MS = [300, 500, 700, 1000, 1500, 1500, 1500];

/**
 * Orders the spans of a trace as a tree: roots are spans whose parent is empty or not in the
 * trace; children are sorted by start. Returns `[{span, depth, childCount}]` in display order.
 */
export function buildTree(spans) {
  const list = Array.isArray(spans) ? spans : [];
  const byId = new Map(list.map((s) => [s.span_id, s]));
  const children = new Map();
  const roots = [];
  for (const s of list) {
    const p = s.parent_span_id;
    if (!p || p === s.span_id || !byId.has(p)) roots.push(s);
    else {
      if (!children.has(p)) children.set(p, []);
      children.get(p).push(s);
    }
  }
  const order = (a, b) => a.start_us - b.start_us || b.duration_us - a.duration_us || a.name.localeCompare(b.name);
  roots.sort(order);
  for (const c of children.values()) c.sort(order);
  const out = [];
  const seen = new Set();
  const walk = (s, depth) => {
    if (seen.has(s.span_id)) return;
    seen.add(s.span_id);
    const kids = children.get(s.span_id) || [];
    out.push({ span: s, depth, childCount: kids.length });
    for (const k of kids) walk(k, depth + 1);
  };
  for (const r of roots) walk(r, 0);
  // Spans caught in a parent cycle (never reached from a root) still get shown.
  for (const s of list) if (!seen.has(s.span_id)) walk(s, 0);
  return out;
}

/** The trace's time frame: first start and last end, microseconds. */
export function timeFrame(spans) {
  let start = Infinity;
  let end = -Infinity;
  for (const s of spans) {
    start = Math.min(start, s.start_us);
    end = Math.max(end, s.start_us + s.duration_us);
  }
  if (!Number.isFinite(start)) return { start: 0, end: 0, total: 0 };
  return { start, end, total: Math.max(0, end - start) };
}

/** A span's stage id (attribute `ragtrace.stage`), or null. */
export function spanStage(span) {
  const v = attrOf(span.attributes, ATTR.STAGE);
  return typeof v === "string" && v ? v : null;
}

/** A stage span's budget in ms: its `ragtrace.stage.budget_ms`, else the stage's default. */
export function spanBudgetMs(span) {
  const v = Number(attrOf(span.attributes, ATTR.STAGE_BUDGET_MS));
  if (Number.isFinite(v) && v > 0) return v;
  const stage = spanStage(span);
  return stage ? stageInfo(stage).budgetMs : null;
}

/**
 * The stage span that took the most time, with its share of the trace and its budget:
 * `{span, stage, label, durationUs, share, totalUs, budgetMs, overBudget}` or null.
 */
export function bottleneck(spans, totalUs) {
  let best = null;
  for (const s of spans) {
    const stage = spanStage(s);
    if (!stage) continue;
    if (!best || s.duration_us > best.duration_us) best = s;
  }
  if (!best) return null;
  const stage = spanStage(best);
  const budgetMs = spanBudgetMs(best);
  return {
    span: best,
    stage,
    label: stageInfo(stage).label,
    durationUs: best.duration_us,
    totalUs,
    share: totalUs > 0 ? best.duration_us / totalUs : 0,
    budgetMs,
    overBudget: budgetMs !== null ? best.duration_us / 1000 > budgetMs : null,
  };
}

/** The span of stage `stage` that took longest, or null. */
function longestStageSpan(spans, stage) {
  let best = null;
  for (const s of spans) {
    if (spanStage(s) === stage && (!best || s.duration_us > best.duration_us)) best = s;
  }
  return best;
}

/**
 * The bottleneck named by the server's `critical_path` (GET /api/traces/{id}): the stage with
 * the most time on the critical path, `{stage, label, criticalMs, ms, totalMs, share, span,
 * budgetMs, overBudget}` (share of the request's time; over budget compares the stage's own
 * time with its budget), or null when there is no critical path or no bottleneck in it.
 */
export function criticalBottleneck(cp, spans) {
  if (!cp || typeof cp !== "object" || !Array.isArray(cp.stages) || typeof cp.bottleneck !== "string") return null;
  const st = cp.stages.find((s) => s && s.stage === cp.bottleneck);
  if (!st) return null;
  const span = longestStageSpan(Array.isArray(spans) ? spans : [], st.stage);
  const budgetMs = span ? spanBudgetMs(span) : stageInfo(st.stage).budgetMs;
  const totalMs = Number(cp.total_ms);
  const criticalMs = Number(st.critical_ms);
  const ms = Number(st.ms);
  return {
    stage: st.stage,
    label: stageInfo(st.stage).label,
    criticalMs,
    ms,
    totalMs,
    share: totalMs > 0 ? criticalMs / totalMs : 0,
    span,
    budgetMs,
    overBudget: budgetMs !== null && Number.isFinite(ms) ? ms > budgetMs : null,
  };
}

/** The `overlapped` pairs of a critical path as `Embeddings ‖ Product search API` labels. */
export function overlapLabels(cp) {
  const pairs = cp && Array.isArray(cp.overlapped) ? cp.overlapped : [];
  return pairs
    .filter((p) => Array.isArray(p) && p.length === 2)
    .map(([a, b]) => `${stageInfo(a).label} ‖ ${stageInfo(b).label}`);
}

/** Time per stage in this trace (stage spans summed), in pipeline order. */
export function stageTotals(spans) {
  const totals = new Map();
  for (const s of spans) {
    const stage = spanStage(s);
    if (stage) totals.set(stage, (totals.get(stage) || 0) + s.duration_us);
  }
  const known = STAGES.filter((s) => totals.has(s.id)).map((s) => ({ stage: s.id, label: s.label, us: totals.get(s.id) }));
  const other = [...totals.keys()].filter((k) => !STAGES.some((s) => s.id === k)).map((k) => ({ stage: k, label: k, us: totals.get(k) }));
  return [...known, ...other];
}

function colourClass(span) {
  const stage = spanStage(span);
  if (stage) return `c-stage-${STAGES.some((s) => s.id === stage) ? stage : "other"}`;
  return `c-kind-${["server", "client", "internal", "producer", "consumer"].includes(span.kind) ? span.kind : "internal"}`;
}

function fmtValue(v) {
  if (typeof v === "string") return v;
  if (typeof v === "number") return String(v);
  if (typeof v === "boolean") return v ? "true" : "false";
  return JSON.stringify(v);
}

/** A dotted key with break opportunities after its dots (`ragtrace.stage.budget_ms`). */
function breakAtDots(key) {
  const parts = String(key).split(".");
  return parts.flatMap((part, i) => (i < parts.length - 1 ? [`${part}.`, h("wbr")] : [part]));
}

/**
 * The failed span most likely to explain a failure: the deepest failed span with an error
 * description, else the deepest failed span. Null when nothing failed.
 */
export function rootCause(spans) {
  const failed = spans.filter((s) => s.status === "error");
  if (!failed.length) return null;
  const depth = new Map(buildTree(spans).map((r) => [r.span.span_id, r.depth]));
  const deepest = (list) => list.reduce((a, b) => ((depth.get(b.span_id) ?? 0) > (depth.get(a.span_id) ?? 0) ? b : a));
  const described = failed.filter((s) => s.status_message);
  return deepest(described.length ? described : failed);
}

let state = null;

function kv(label, ...value) {
  return h("div", { class: "kv" }, h("dt", {}, label), h("dd", {}, ...value));
}

function attrTable(attributes, caption) {
  const list = Array.isArray(attributes) ? attributes : [];
  if (!list.length) return h("p", { class: "muted" }, "No attributes.");
  return h(
    "table",
    { class: "attr-table" },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", { class: "visually-hidden" }, h("tr", {}, h("th", { scope: "col" }, "Key"), h("th", { scope: "col" }, "Value"))),
    h(
      "tbody",
      {},
      list.map((pair) => {
        const [k, v] = Array.isArray(pair) ? pair : [String(pair), ""];
        return h(
          "tr",
          { class: k === ATTR.ERROR_TYPE || (k === "otel.status_code" && String(v).toLowerCase() === "error") ? "attr-error" : null },
          h("th", { scope: "row", class: "mono attr-key" }, breakAtDots(k)),
          h("td", { class: ["mono", "attr-value", `attr-${typeof v}`] }, fmtValue(v)),
        );
      }),
    ),
  );
}

function renderPanel(span) {
  const panel = state.panel;
  if (!span) {
    setChildren(panel, h("h2", { class: "panel-title" }, "Span details"), h("p", { class: "muted" }, "Select a span in the waterfall to see its attributes and events."));
    return;
  }
  const stage = spanStage(span);
  const budget = stage ? spanBudgetMs(span) : null;
  const over = budget !== null ? span.duration_us / 1000 > budget : null;
  const offset = span.start_us - state.frame.start;
  const events = Array.isArray(span.events) ? span.events : [];
  setChildren(
    panel,
    h(
      "div",
      { class: "panel-head" },
      h("h2", { class: "panel-title", id: "span-panel-title" }, span.name),
      h("button", { type: "button", class: "button button-quiet", onclick: () => select(null), "aria-label": "Close span details" }, "Close"),
    ),
    h(
      "p",
      { class: "panel-badges" },
      span.status === "error"
        ? h("span", { class: "badge badge-error" }, "error")
        : h("span", { class: "badge badge-quiet" }, span.status || "unset"),
      h("span", { class: "badge badge-quiet mono" }, span.kind),
      stage ? h("span", { class: ["badge", "stage-badge", colourClass(span)] }, stageInfo(stage).label) : null,
    ),
    span.status === "error" && span.status_message ? h("p", { class: "panel-error", role: "note" }, span.status_message) : null,
    h(
      "dl",
      { class: "kv-list" },
      kv("Duration", h("span", { class: "mono" }, fmtDurationUs(span.duration_us))),
      stage && budget !== null
        ? kv(
            "Budget",
            h("span", { class: "mono" }, fmtDurationUs(budget * 1000)),
            " · ",
            h("span", { class: over ? "text-bad" : "text-ok" }, over ? "over budget" : "within budget"),
          )
        : null,
      kv("Starts at", h("span", { class: "mono" }, `+${fmtDurationUs(offset)}`), h("span", { class: "muted" }, ` (${fmtClock(span.start_us)})`)),
      kv("Service", h("span", { class: "mono" }, span.service || "—")),
      kv("Span id", h("span", { class: "mono" }, span.span_id)),
      kv("Parent", h("span", { class: "mono" }, span.parent_span_id || "— (root)")),
    ),
    h("h3", { class: "panel-subtitle" }, `Attributes (${(span.attributes || []).length})`),
    attrTable(span.attributes, `Attributes of ${span.name}`),
    h("h3", { class: "panel-subtitle" }, `Events (${events.length})`),
    events.length
      ? h(
          "ol",
          { class: "events" },
          events.map((ev) =>
            h(
              "li",
              { class: "event" },
              h(
                "p",
                { class: "event-head" },
                h("span", { class: "mono event-offset" }, `+${fmtDurationUs(ev.offset_us)}`),
                " ",
                h("span", { class: "event-name" }, ev.name),
              ),
              ev.attributes && ev.attributes.length ? attrTable(ev.attributes, `Attributes of event ${ev.name}`) : null,
            ),
          ),
        )
      : h("p", { class: "muted" }, "No events."),
  );
}

function select(spanId, { focusPanel = false } = {}) {
  state.selected = spanId;
  for (const row of state.rows) {
    const on = row.dataset.spanId === spanId;
    row.classList.toggle("selected", on);
    row.setAttribute("aria-pressed", on ? "true" : "false");
  }
  renderPanel(spanId ? state.byId.get(spanId) : null);
  if (focusPanel && window.matchMedia("(max-width: 1100px)").matches) {
    state.panel.scrollIntoView({ behavior: "smooth", block: "start" });
  }
}

function renderBottleneck(spans, summary, frame, cp) {
  const totalUs = summary?.duration_us || frame.total;
  const errors = spans.filter((s) => s.status === "error");
  const cause = rootCause(spans);
  const errorLine = cause
    ? h(
        "p",
        { class: "bottleneck-errors", "data-testid": "trace-errors" },
        h("span", { class: "badge badge-error" }, `${errors.length} failed span${errors.length === 1 ? "" : "s"}`),
        " ",
        h(
          "button",
          { type: "button", class: "link-button", onclick: () => select(cause.span_id, { focusPanel: true }) },
          cause.name,
        ),
        cause.status_message ? h("span", { class: "muted" }, `: ${cause.status_message}`) : null,
      )
    : null;
  const overlaps = overlapLabels(cp);
  const overlapLine = cp
    ? h(
        "p",
        { class: "bottleneck-overlap", id: "trace-overlapped", "data-testid": "overlapped" },
        overlaps.length
          ? ["Ran in parallel: ", h("strong", {}, overlaps.join(", ")), h("span", { class: "muted" }, " (their common time is counted once)")]
          : h("span", { class: "muted" }, "Ran in parallel: none; each stage waited for the one before."),
      )
    : null;

  const cb = criticalBottleneck(cp, spans);
  if (cb) {
    const overText = cb.overBudget === null ? "unknown" : cb.overBudget ? "yes" : "no";
    const hidden = Number.isFinite(cb.ms) && cb.ms - cb.criticalMs >= 1;
    return h(
      "section",
      {
        id: "bottleneck",
        class: ["bottleneck", cb.overBudget ? "bottleneck-over" : null],
        "data-testid": "bottleneck",
        "data-stage": cb.stage,
        "data-source": "critical_path",
        "aria-label": "Bottleneck",
      },
      h("p", { class: "bottleneck-kicker" }, "Bottleneck on the critical path"),
      h(
        "p",
        { class: "bottleneck-main" },
        h("strong", { class: ["stage-name", `c-stage-${STAGES.some((s) => s.id === cb.stage) ? cb.stage : "other"}`] }, cb.label),
        " ",
        h("span", { class: "mono" }, fmtDurationUs(cb.criticalMs * 1000)),
        " on the critical path = ",
        h("span", { class: "mono" }, fmtPct(cb.share)),
        " of ",
        h("span", { class: "mono" }, fmtDurationUs(cb.totalMs * 1000)),
        "; over budget: ",
        h("strong", { class: cb.overBudget ? "text-bad" : "text-ok" }, overText),
      ),
      h(
        "p",
        { class: "bottleneck-detail" },
        cb.span
          ? ["Span ", h("button", { type: "button", class: "link-button mono", onclick: () => select(cb.span.span_id, { focusPanel: true }) }, cb.span.name)]
          : "Stage time",
        hidden ? [" · ran ", h("span", { class: "mono" }, fmtDurationUs(cb.ms * 1000)), " in all, part of it beside another stage"] : null,
        cb.budgetMs !== null ? [" · budget ", h("span", { class: "mono" }, fmtDurationUs(cb.budgetMs * 1000))] : null,
      ),
      overlapLine,
      errorLine,
    );
  }

  // No critical path from the server (an older one), or none in it: the longest stage span.
  const b = bottleneck(spans, totalUs);
  if (!b) {
    return h(
      "section",
      { id: "bottleneck", class: "bottleneck", "data-testid": "bottleneck", "aria-label": "Bottleneck" },
      h("p", { class: "bottleneck-main" }, `No pipeline stage spans in this trace; it took ${fmtDurationUs(totalUs)} in all.`),
      overlapLine,
      errorLine,
    );
  }
  const overText = b.overBudget === null ? "unknown" : b.overBudget ? "yes" : "no";
  return h(
    "section",
    {
      id: "bottleneck",
      class: ["bottleneck", b.overBudget ? "bottleneck-over" : null],
      "data-testid": "bottleneck",
      "data-stage": b.stage,
      "data-source": "spans",
      "aria-label": "Bottleneck",
    },
    h("p", { class: "bottleneck-kicker" }, "Slowest stage"),
    h(
      "p",
      { class: "bottleneck-main" },
      h("strong", { class: ["stage-name", colourClass(b.span)] }, b.label),
      " ",
      h("span", { class: "mono" }, fmtDurationUs(b.durationUs)),
      " = ",
      h("span", { class: "mono" }, fmtPct(b.share)),
      " of ",
      h("span", { class: "mono" }, fmtDurationUs(b.totalUs)),
      "; over budget: ",
      h("strong", { class: b.overBudget ? "text-bad" : "text-ok" }, overText),
    ),
    h(
      "p",
      { class: "bottleneck-detail" },
      "Span ",
      h("button", { type: "button", class: "link-button mono", onclick: () => select(b.span.span_id, { focusPanel: true }) }, b.span.name),
      b.budgetMs !== null ? [" · budget ", h("span", { class: "mono" }, fmtDurationUs(b.budgetMs * 1000))] : null,
    ),
    overlapLine,
    errorLine,
  );
}

/**
 * The stages of a trace on one strip: with the server's critical path, each stage's time on it
 * (what the request waited for) and the rest outside stages; else each stage's spans summed.
 */
function renderStageStrip(spans, frame, cp) {
  const stageClass = (id) => `c-stage-${STAGES.some((s) => s.id === id) ? id : "other"}`;
  let segs;
  let rest;
  let denom;
  let caption;
  if (cp && Array.isArray(cp.stages) && cp.stages.length) {
    segs = cp.stages
      .filter((s) => s && typeof s.stage === "string")
      .map((s) => ({ stage: s.stage, label: stageInfo(s.stage).label, us: Number(s.critical_ms) * 1000 || 0, ranUs: Number(s.ms) * 1000 || 0 }));
    rest = Math.max(0, Number(cp.other_ms) * 1000 || 0);
    denom = Math.max(Number(cp.total_ms) * 1000 || 0, segs.reduce((a, t) => a + t.us, 0) + rest, 1);
    caption = "Time on the critical path, per stage";
  } else {
    const totals = stageTotals(spans);
    if (!totals.length) return null;
    segs = totals.map((t) => ({ ...t, ranUs: t.us }));
    const staged = segs.reduce((a, t) => a + t.us, 0);
    rest = Math.max(0, frame.total - staged);
    denom = Math.max(frame.total, staged, 1);
    caption = "Time per stage";
  }
  return h(
    "section",
    { class: "stage-strip", "aria-label": `${caption} in this trace`, "data-testid": "stage-strip" },
    h("p", { class: "strip-caption" }, caption),
    h(
      "div",
      { class: "strip", "aria-hidden": "true" },
      segs.map((t) =>
        t.us > 0 ? h("span", { class: ["strip-seg", stageClass(t.stage)], style: { width: `${(100 * t.us) / denom}%` }, title: `${t.label}: ${fmtDurationUs(t.us)}` }) : null,
      ),
      rest > 0 ? h("span", { class: "strip-seg strip-rest", style: { width: `${(100 * rest) / denom}%` }, title: `Outside stages: ${fmtDurationUs(rest)}` }) : null,
    ),
    h(
      "ul",
      { class: "legend" },
      segs.map((t) =>
        h(
          "li",
          {},
          h("span", { class: ["swatch", stageClass(t.stage)], "aria-hidden": "true" }),
          `${t.label} `,
          h("span", { class: "mono" }, fmtDurationUs(t.us)),
          t.ranUs - t.us >= 1000 ? h("span", { class: "faint" }, ` (ran ${fmtDurationUs(t.ranUs)})`) : null,
        ),
      ),
      rest > 0 ? h("li", {}, h("span", { class: "swatch strip-rest", "aria-hidden": "true" }), "Outside stages ", h("span", { class: "mono" }, fmtDurationUs(rest))) : null,
    ),
  );
}

function renderWaterfall(spans, frame) {
  const tree = buildTree(spans);
  const total = Math.max(frame.total, 1);
  const step = niceStep(total, 5);
  const ticks = [];
  for (let t = 0; t <= total + 1e-6; t += step) ticks.push(t);
  const pct = (us) => `${Math.min(100, Math.max(0, (100 * us) / total))}%`;

  const axis = h(
    "div",
    { class: "wf-row wf-axis", "aria-hidden": "true" },
    h("div", { class: "wf-name wf-axis-label" }, "Span"),
    h(
      "div",
      { class: "wf-track" },
      ticks.map((t) => h("span", { class: ["wf-tick", t > total * 0.92 && t > 0 ? "wf-tick-end" : null], style: { left: pct(t) } }, t === 0 ? "0" : fmtDurationUs(t))),
    ),
  );

  state.rows = tree.map(({ span, depth }) => {
    const left = ((span.start_us - frame.start) / total) * 100;
    const width = Math.max((span.duration_us / total) * 100, 0.25);
    // The duration goes right of the bar, else inside a wide bar, else left of it.
    const labelPlace = left + width <= 78 ? "right" : width >= 18 ? "inside" : "left";
    const stage = spanStage(span);
    const isError = span.status === "error";
    const events = Array.isArray(span.events) ? span.events : [];
    const budget = stage ? spanBudgetMs(span) : null;
    const over = budget !== null && span.duration_us / 1000 > budget;
    return h(
      "button",
      {
        type: "button",
        class: ["wf-row", "span-row", isError ? "span-error" : null],
        "data-testid": "span-row",
        "data-span-name": span.name,
        "data-span-id": span.span_id,
        "data-depth": String(depth),
        "aria-pressed": "false",
        "aria-label": `${span.name}, ${fmtDurationUs(span.duration_us)}, starts at +${fmtDurationUs(span.start_us - frame.start)}${isError ? ", error" : ""}${over ? ", over budget" : ""}`,
        onclick: () => select(span.span_id, { focusPanel: true }),
      },
      h(
        "span",
        { class: "wf-name", style: { paddingLeft: `${0.5 + depth * 1.1}rem` } },
        h("span", { class: ["wf-dot", colourClass(span)], "aria-hidden": "true" }),
        h("span", { class: "wf-label", title: span.name }, span.name),
        isError ? h("span", { class: "wf-flag wf-flag-error", "aria-hidden": "true", title: span.status_message || "error" }, "!") : null,
        over ? h("span", { class: "wf-flag wf-flag-over", "aria-hidden": "true", title: "over budget" }, "over") : null,
      ),
      h(
        "span",
        { class: "wf-track" },
        h(
          "span",
          { class: ["wf-bar", colourClass(span), isError ? "wf-bar-error" : null], style: { left: `${left}%`, width: `${width}%` } },
          events.map((ev) =>
            h("span", {
              class: "wf-event",
              style: { left: `${span.duration_us > 0 ? Math.min(100, (100 * ev.offset_us) / span.duration_us) : 0}%` },
              title: `${ev.name} (+${fmtDurationUs(ev.offset_us)})`,
            }),
          ),
        ),
        h(
          "span",
          {
            class: ["wf-dur", "mono", `wf-dur-${labelPlace}`],
            style:
              labelPlace === "right"
                ? { left: `${left + width}%` }
                : labelPlace === "inside"
                  ? { left: `${left}%` }
                  : { right: `${100 - left}%` },
          },
          fmtDurationUs(span.duration_us),
        ),
      ),
    );
  });

  return h(
    "div",
    {
      class: "waterfall",
      role: "group",
      "aria-label": "Waterfall: spans on a time axis, indented by depth",
      style: { "--tick": `${(100 * step) / total}%` },
      "data-testid": "waterfall",
    },
    axis,
    h("div", { class: "wf-rows" }, state.rows),
  );
}

function renderTrace(data, jaegerUrl) {
  const spans = Array.isArray(data.spans) ? data.spans : [];
  const summary = data.summary || {};
  const cp = data.critical_path && typeof data.critical_path === "object" ? data.critical_path : null;
  const frame = timeFrame(spans);
  state.frame = frame;
  state.byId = new Map(spans.map((s) => [s.span_id, s]));
  state.rows = [];

  const meta = h(
    "dl",
    { class: "trace-meta" },
    kv("Duration", h("span", { class: "mono" }, fmtDurationUs(summary.duration_us ?? frame.total))),
    kv("Started", h("span", { class: "mono" }, fmtClock(summary.start_us ?? frame.start))),
    kv("Spans", h("span", { class: "mono" }, fmtInt(summary.span_count ?? spans.length))),
    kv("Service", h("span", { class: "mono" }, summary.service || "—")),
    kv("User", h("span", { class: "mono" }, summary.user_id || "—")),
    kv(
      "Cache",
      summary.cache_hit === true
        ? h("span", { class: "badge badge-ok" }, "hit")
        : summary.cache_hit === false
          ? h("span", { class: "badge" }, "miss")
          : "—",
    ),
    kv("Cost", h("span", { class: "mono" }, fmtUsd(summary.cost_usd))),
    kv("Status", summary.error ? h("span", { class: "badge badge-error" }, "error") : h("span", { class: "badge badge-quiet" }, "ok")),
  );

  const jaeger = jaegerUrl
    ? h(
        "a",
        { class: "button", id: "jaeger-link", href: `${jaegerUrl.replace(/\/+$/, "")}/trace/${state.id}`, target: "_blank", rel: "noopener noreferrer" },
        "Open in Jaeger",
        h("span", { class: "visually-hidden" }, " (opens in a new tab)"),
      )
    : null;

  state.panel = h("aside", { class: "span-panel card", id: "span-panel", "data-testid": "span-panel", "aria-label": "Span details" });

  setChildren(
    state.body,
    h(
      "div",
      { class: "trace-head" },
      h("p", { class: "trace-id-line" }, h("span", { class: "muted" }, "Trace "), h("span", { class: "mono", id: "trace-id", "data-testid": "trace-id" }, state.id)),
      h("div", { class: "trace-actions" }, jaeger, h("button", { type: "button", class: "button", onclick: () => load() }, "Reload")),
    ),
    meta,
    renderBottleneck(spans, summary, frame, cp),
    renderStageStrip(spans, frame, cp),
    spans.length
      ? h("div", { class: "trace-layout" }, h("div", { class: "card waterfall-card" }, renderWaterfall(spans, frame)), state.panel)
      : emptyState("This trace has no spans."),
  );
  state.title.textContent = summary.root || "Trace";
  document.title = `${summary.root || "Trace"} · ${fmtDurationUs(summary.duration_us ?? frame.total)} · ragtrace`;

  // Show something useful at once: the failed span that explains the failure, else the bottleneck.
  const cause = rootCause(spans);
  const b = criticalBottleneck(cp, spans)?.span || bottleneck(spans, frame.total)?.span;
  const keep = state.selected && state.byId.has(state.selected) ? state.selected : null;
  // A link may name the span to show first: `#/traces/{id}?span={span_id}`.
  const linked = state.linkedSpan && state.byId.has(state.linkedSpan) ? state.linkedSpan : null;
  select(keep || linked || cause?.span_id || b?.span_id || null);
}

async function load() {
  state.abort?.abort();
  const ctrl = new AbortController();
  state.abort = ctrl;
  const id = state.id;
  const url = `/api/traces/${encodeURIComponent(id)}`;
  setChildren(state.body, h("p", { class: "loading", role: "status" }, "Loading the trace…"));
  const jaeger = getUiConfig();
  for (let attempt = 0; ; attempt += 1) {
    try {
      const data = await getJson(url, { signal: ctrl.signal });
      // A request that has just answered may still be finishing: its root span lands last.
      if (data?.summary?.complete === false && attempt < RETRY_DELAYS_MS.length) {
        try {
          await sleep(RETRY_DELAYS_MS[attempt], ctrl.signal);
        } catch {
          return;
        }
        continue;
      }
      const cfg = await jaeger;
      if (state?.abort !== ctrl) return;
      renderTrace(data, cfg && typeof cfg.jaeger_url === "string" && cfg.jaeger_url ? cfg.jaeger_url : null);
      return;
    } catch (e) {
      if (isAbort(e) || state?.abort !== ctrl) return;
      if (e.status === 404 && attempt < RETRY_DELAYS_MS.length) {
        setChildren(
          state.body,
          h(
            "p",
            { class: "loading", role: "status" },
            `Waiting for the trace to reach the store… (attempt ${attempt + 2} of ${RETRY_DELAYS_MS.length + 1})`,
          ),
        );
        try {
          await sleep(RETRY_DELAYS_MS[attempt], ctrl.signal);
        } catch {
          return;
        }
        continue;
      }
      const cfg = await jaeger;
      if (state?.abort !== ctrl) return;
      const notFound = e.status === 404;
      const jaegerUrl = cfg && typeof cfg.jaeger_url === "string" && cfg.jaeger_url ? cfg.jaeger_url.replace(/\/+$/, "") : null;
      setChildren(
        state.body,
        errorBox(e, {
          title: notFound ? "Trace not found" : "Could not load the trace",
          extra: h(
            "p",
            { class: "error-actions" },
            h("button", { type: "button", class: "button", onclick: () => load() }, "Try again"),
            " ",
            h("a", { class: "button", href: "#/traces" }, "All traces"),
            jaegerUrl && isTraceId(id) ? [" ", h("a", { class: "button", href: `${jaegerUrl}/trace/${id}`, target: "_blank", rel: "noopener noreferrer" }, "Open in Jaeger")] : null,
          ),
        }),
      );
      return;
    }
  }
}

/** Mounts the waterfall of trace `route.params.id`; `?span=` selects that span at first. */
export function mount(main, route) {
  const id = String(route.params.id || "").toLowerCase();
  const linkedSpan = (route.query?.get("span") || "").trim().toLowerCase() || null;
  const title = h("h1", { id: "trace-title", class: "trace-title" }, "Trace");
  const body = h("div", { class: "trace-body" });
  main.appendChild(
    h(
      "section",
      { class: "page page-trace", "aria-labelledby": "trace-title" },
      h("p", { class: "crumbs" }, h("a", { href: "#/traces" }, "← All traces")),
      title,
      body,
    ),
  );
  state = { id, title, body, abort: null, selected: null, linkedSpan, rows: [], byId: new Map(), frame: { start: 0, end: 0, total: 0 }, panel: null };
  load();
  return () => {
    state?.abort?.abort();
    state = null;
    document.title = "ragtrace";
  };
}
