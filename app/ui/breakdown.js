// Where the time of recent requests goes: GET /api/breakdown, per stage: its share of the time on
// the requests' critical paths (stages that ran in parallel are counted once), p50/p95 against
// the stage's budget, the slowest stage (most critical-path time) and the stages that overlapped.

import { getJson, withQuery } from "./api.js";
import { emptyState, errorBox, fmtInt, fmtMs, fmtPct, h, isAbort, isEditing, setChildren, stageInfo } from "./util.js";

const REFRESH_MS = 5000;

let state = null;

function params(query) {
  const p = {};
  const min = (query.get("min_duration_ms") || "").trim();
  if (min !== "" && Number.isFinite(Number(min))) p.min_duration_ms = min;
  const limit = Number(query.get("limit"));
  if (Number.isInteger(limit) && limit >= 1 && limit <= 10000) p.limit = limit;
  // One user's requests, e.g. a lab run's (`ragtrace-lab run … --hold` links here with it).
  const user = (query.get("user_id") || "").trim();
  if (user) p.user_id = user;
  return p;
}

function hashFor(p) {
  const q = new URLSearchParams();
  if (p.min_duration_ms !== undefined && p.min_duration_ms !== "") q.set("min_duration_ms", p.min_duration_ms);
  if (p.limit !== undefined && p.limit !== "" && Number(p.limit) !== 200) q.set("limit", p.limit);
  if (p.user_id) q.set("user_id", p.user_id);
  const s = q.toString();
  return s ? `#/breakdown?${s}` : "#/breakdown";
}

/** The width of a p95 bar where the budget sits at the middle of the track (capped at 100 %). */
export function budgetScale(valueMs, budgetMs) {
  if (!(budgetMs > 0)) return 0;
  return Math.min(100, (50 * valueMs) / budgetMs);
}

function stageRow(s, slowest) {
  const info = stageInfo(s.stage);
  const known = ["cache", "embeddings", "retrieval", "external_api", "prompt", "llm", "postprocess"].includes(s.stage);
  const colour = `c-stage-${known ? s.stage : "other"}`;
  return h(
    "li",
    {
      class: ["bd-row", s.over_budget ? "bd-over" : null, s.stage === slowest ? "bd-slowest" : null],
      "data-testid": "stage-row",
      "data-stage": s.stage,
      "data-over-budget": s.over_budget ? "true" : "false",
    },
    h(
      "div",
      { class: "bd-name" },
      h("span", { class: ["swatch", colour], "aria-hidden": "true" }),
      h("span", { class: "bd-label" }, info.label),
      h("span", { class: "bd-id mono" }, s.stage),
      s.stage === slowest ? h("span", { class: "badge badge-accent" }, "slowest") : null,
    ),
    h(
      "div",
      { class: "bd-share" },
      h("span", { class: "bd-metric-label" }, "Share of the critical path"),
      h(
        "div",
        { class: "bar-track", role: "img", "aria-label": `${fmtPct(s.share)} of the critical-path time` },
        h("span", { class: ["bar-fill", colour], style: { width: `${Math.max(0, Math.min(100, s.share * 100))}%` } }),
      ),
      h(
        "span",
        { class: "mono bd-value", "data-testid": "stage-share" },
        fmtPct(s.share),
        typeof s.critical_ms === "number"
          ? h("span", { class: "muted" }, ` · ${fmtMs(s.critical_ms)} on the path, ${fmtMs(s.total_ms)} in all`)
          : h("span", { class: "muted" }, ` · ${fmtMs(s.total_ms)} total`),
      ),
    ),
    h(
      "div",
      { class: "bd-budget" },
      h("span", { class: "bd-metric-label" }, "p50 / p95 vs budget"),
      h(
        "div",
        {
          class: "budget-track",
          role: "img",
          "aria-label": `p50 ${fmtMs(s.p50_ms)}, p95 ${fmtMs(s.p95_ms)}, budget ${fmtMs(s.budget_ms)}${s.over_budget ? ", over budget" : ""}`,
        },
        h("span", { class: ["budget-fill", s.over_budget ? "budget-fill-over" : colour], style: { width: `${budgetScale(s.p95_ms, s.budget_ms)}%` } }),
        h("span", { class: "budget-p50", style: { left: `${budgetScale(s.p50_ms, s.budget_ms)}%` }, title: `p50 ${fmtMs(s.p50_ms)}` }),
        h("span", { class: "budget-line", title: `budget ${fmtMs(s.budget_ms)}` }),
      ),
      h(
        "span",
        { class: "mono bd-value" },
        `p50 ${fmtMs(s.p50_ms)} · `,
        h("span", { class: s.over_budget ? "text-bad" : null }, `p95 ${fmtMs(s.p95_ms)}`),
        ` / ${fmtMs(s.budget_ms)}`,
        s.over_budget ? [" ", h("span", { class: "badge badge-error" }, "over budget")] : null,
      ),
    ),
    h("div", { class: "bd-count" }, h("span", { class: "bd-metric-label" }, "Traces"), h("span", { class: "mono bd-value" }, fmtInt(s.count))),
  );
}

function render(b, p) {
  const stages = Array.isArray(b.stages) ? b.stages : [];
  if (!b.traces || !stages.length) {
    setChildren(
      state.result,
      p.min_duration_ms !== undefined
        ? emptyState(`No trace of ${fmtMs(Number(p.min_duration_ms))} or more has stage spans.`, h("a", { class: "button", href: "#/breakdown" }, "All traces"))
        : emptyState("No traces yet — ask a question.", h("a", { class: "button button-primary", href: "#/chat" }, "Go to Chat")),
    );
    return;
  }
  const slow = stages.find((s) => s.stage === b.slowest_stage);
  const over = stages.filter((s) => s.over_budget);
  const overlapped = Array.isArray(b.overlapped) ? b.overlapped.filter((p) => Array.isArray(p) && p.length === 2) : null;
  setChildren(
    state.result,
    h(
      "div",
      { class: "bd-summary" },
      slow
        ? h(
            "div",
            { class: ["callout", slow.over_budget ? "callout-bad" : null], "data-testid": "slowest-stage", "data-stage": slow.stage },
            h("p", { class: "callout-kicker" }, "Slowest stage"),
            h("p", { class: "callout-main" }, h("strong", {}, stageInfo(slow.stage).label), " takes ", h("span", { class: "mono" }, fmtPct(slow.share)), " of the critical-path time"),
            h(
              "p",
              { class: "callout-detail" },
              "p95 ",
              h("span", { class: "mono" }, fmtMs(slow.p95_ms)),
              " vs budget ",
              h("span", { class: "mono" }, fmtMs(slow.budget_ms)),
              " — ",
              h("strong", { class: slow.over_budget ? "text-bad" : "text-ok" }, slow.over_budget ? "over budget" : "within budget"),
            ),
          )
        : null,
      h(
        "div",
        { class: "callout callout-quiet" },
        h("p", { class: "callout-kicker" }, "Traces looked at"),
        h("p", { class: "callout-main mono", "data-testid": "breakdown-traces" }, fmtInt(b.traces)),
        h(
          "p",
          { class: "callout-detail" },
          over.length
            ? [h("span", { class: "text-bad" }, `${over.length} stage${over.length === 1 ? "" : "s"} over budget`), ` (p95): ${over.map((s) => stageInfo(s.stage).label).join(", ")}`]
            : "Every stage's p95 is within its budget.",
        ),
      ),
      b.quality && b.quality.graded > 0
        ? h(
            "div",
            { class: "callout callout-quiet", "data-testid": "quality", "data-graded": String(b.quality.graded) },
            h("p", { class: "callout-kicker" }, "Answer quality (golden set)"),
            h("p", { class: "callout-main" }, h("span", { class: "mono" }, fmtPct(b.quality.hit_at_3)), " with the expected passage in the top 3"),
            h(
              "p",
              { class: "callout-detail" },
              `first: ${fmtPct(b.quality.hit_at_1)} · MRR ${Number(b.quality.mrr).toFixed(2)} · ${fmtInt(b.quality.graded)} graded request${b.quality.graded === 1 ? "" : "s"} (ragtrace-lab eval)`,
            ),
          )
        : null,
      overlapped
        ? h(
            "div",
            { class: "callout callout-quiet bd-overlap", id: "breakdown-overlapped", "data-testid": "overlapped", "data-pairs": String(overlapped.length) },
            h("p", { class: "callout-kicker" }, "Ran in parallel"),
            overlapped.length
              ? h(
                  "ul",
                  { class: "overlap-list" },
                  overlapped.map(([x, y]) => h("li", { dataset: { pair: `${x}|${y}` } }, h("strong", {}, stageInfo(x).label), " ‖ ", h("strong", {}, stageInfo(y).label))),
                )
              : h("p", { class: "callout-main" }, "none"),
            h(
              "p",
              { class: "callout-detail" },
              overlapped.length ? "Their common time is counted once, on the critical path." : "Each stage waited for the one before it.",
            ),
          )
        : null,
    ),
    h(
      "div",
      { class: "bd-head", "aria-hidden": "true" },
      h("span", {}, "Stage"),
      h("span", {}, "Share of the critical path"),
      h("span", {}, "p50 / p95 vs budget"),
      h("span", {}, "Traces"),
    ),
    h("ol", { class: "bd-list", "aria-label": "Stages in pipeline order" }, stages.map((s) => stageRow(s, b.slowest_stage))),
    h(
      "p",
      { class: "help" },
      "Share: the stage's part of the time on the requests' critical paths, where stages that ran in parallel count once; a stage hidden behind a slower one has none. The budget mark sits in the middle of each track; a bar past it is over budget. ",
      p.min_duration_ms !== undefined
        ? h("a", { href: `#/traces?min_duration_ms=${encodeURIComponent(p.min_duration_ms)}` }, "See these traces")
        : h("a", { href: "#/traces" }, "See the traces"),
    ),
  );
}

async function load({ quiet = false } = {}) {
  const p = state.params;
  state.abort?.abort();
  const ctrl = new AbortController();
  state.abort = ctrl;
  if (!quiet) setChildren(state.result, h("p", { class: "loading", role: "status" }, "Loading the breakdown…"));
  try {
    const b = await getJson(withQuery("/api/breakdown", p), { signal: ctrl.signal });
    if (state?.abort !== ctrl) return;
    setChildren(state.errorEl);
    render(b, p);
  } catch (e) {
    if (isAbort(e) || state?.abort !== ctrl) return;
    setChildren(state.errorEl, errorBox(e, { title: "Could not load the breakdown" }));
    if (!quiet) setChildren(state.result);
  }
}

/** Mounts the breakdown page. */
export function mount(main, route) {
  const min = h("input", { id: "b-min", class: "input mono", type: "number", min: "0", step: "any", inputmode: "decimal", placeholder: "0" });
  const limit = h("input", { id: "b-limit", class: "input mono", type: "number", min: "1", max: "10000", step: "1", placeholder: "200" });
  const user = h("input", { id: "b-user", class: "input mono", type: "text", placeholder: "any", autocomplete: "off" });
  const live = h("input", { type: "checkbox", id: "b-live" });
  const form = h(
    "form",
    { class: "filters filters-inline", "aria-label": "Breakdown filters", novalidate: true },
    h("div", { class: "field" }, h("label", { class: "label", for: "b-min" }, "Only traces of at least (ms)"), min),
    h("div", { class: "field" }, h("label", { class: "label", for: "b-limit" }, "Newest traces looked at"), limit),
    h("div", { class: "field" }, h("label", { class: "label", for: "b-user" }, "User id"), user),
    h(
      "div",
      { class: "filter-actions" },
      h("button", { type: "submit", class: "button button-primary" }, "Apply"),
      h("a", { class: "button", href: "#/breakdown?min_duration_ms=2000" }, "Slow requests (≥ 2 s)"),
      h("label", { class: "check" }, live, " Live (refresh every 5 s)"),
    ),
  );
  const errorEl = h("div", { class: "error-slot" });
  const result = h("div", { id: "breakdown", class: "breakdown", "data-testid": "breakdown" });
  main.appendChild(
    h(
      "section",
      { class: "page page-breakdown", "aria-labelledby": "breakdown-title" },
      h("h1", { id: "breakdown-title" }, "Where the time goes"),
      h("p", { class: "lede" }, "Each stage of recent chat requests: its share of the critical path, and its p50/p95 against its budget."),
      form,
      errorEl,
      result,
    ),
  );
  state = { params: params(route.query), min, limit, errorEl, result, abort: null, timer: null };
  const fill = () => {
    min.value = state.params.min_duration_ms ?? "";
    limit.value = state.params.limit ?? "";
    user.value = state.params.user_id ?? "";
  };
  fill();
  state.fill = fill;
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = hashFor({ min_duration_ms: min.value.trim(), limit: limit.value.trim(), user_id: user.value.trim() });
    if (window.location.hash === next) load();
    else window.location.hash = next;
  });
  live.addEventListener("change", () => {
    if (state.timer) clearInterval(state.timer);
    state.timer = live.checked
      ? setInterval(() => {
          if (!document.hidden && !isEditing(form)) load({ quiet: true });
        }, REFRESH_MS)
      : null;
  });
  load();
  return () => {
    state?.abort?.abort();
    if (state?.timer) clearInterval(state.timer);
    state = null;
  };
}

/** New filters in the hash: reload in place. */
export function update(route) {
  if (!state) return;
  state.params = params(route.query);
  state.fill();
  load();
}
