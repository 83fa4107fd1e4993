// The trace list: GET /api/traces with filters and paging, newest first, plus the store's use.
// Filters live in the hash (#/traces?min_duration_ms=2000&error=true), so a view can be shared.

import { getJson, getUiConfig, sendJson, withQuery } from "./api.js";
import {
  emptyState,
  errorBox,
  fmtAgo,
  fmtBytes,
  fmtClock,
  fmtDurationUs,
  fmtInt,
  fmtUsd,
  h,
  isAbort,
  isEditing,
  setChildren,
} from "./util.js";

const REFRESH_MS = 5000;
const LIVE_KEY = "ragtrace.traces.live";
const FILTER_KEYS = ["service", "operation", "min_duration_ms", "max_duration_ms", "error", "user_id", "cache_hit"];

let state = null;

/** The API query (filters + paging) of a hash query. */
export function apiParams(query) {
  const p = {};
  for (const k of FILTER_KEYS) {
    const v = (query.get(k) || "").trim();
    if (v !== "") p[k] = v;
  }
  const limit = Number(query.get("limit"));
  p.limit = Number.isInteger(limit) && limit >= 1 && limit <= 200 ? limit : 20;
  const offset = Number(query.get("offset"));
  p.offset = Number.isInteger(offset) && offset > 0 ? offset : 0;
  return p;
}

function hashFor(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === "") continue;
    if (k === "limit" && Number(v) === 20) continue;
    if (k === "offset" && Number(v) === 0) continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `#/traces?${s}` : "#/traces";
}

function field(id, label, control, wide = false) {
  return h("div", { class: ["field", wide ? "field-wide" : null] }, h("label", { for: id, class: "label" }, label), control);
}

function select(id, options) {
  return h(
    "select",
    { id, class: "input" },
    options.map(([value, label]) => h("option", { value }, label)),
  );
}

/**
 * Fills the operation filter's suggestions with the span names of one chat request, as the
 * server names them for this deployment's models: GET /api/ui-config `operations`
 * (core/src/semconv.rs `span::chat_request`). None when the config is unavailable.
 */
async function fillOperations(datalist) {
  const cfg = await getUiConfig();
  const ops = Array.isArray(cfg?.operations) ? cfg.operations.filter((o) => typeof o === "string" && o) : [];
  setChildren(datalist, ops.map((o) => h("option", { value: o })));
}

function buildForm() {
  const operations = h("datalist", { id: "f-operations" });
  fillOperations(operations).catch((e) => console.error(e));
  const inputs = {
    service: h("input", { id: "f-service", class: "input", type: "text", placeholder: "any", autocomplete: "off" }),
    operation: h("input", { id: "f-operation", class: "input", type: "text", list: "f-operations", placeholder: "any span name", autocomplete: "off" }),
    min_duration_ms: h("input", { id: "f-min", class: "input mono", type: "number", min: "0", step: "any", inputmode: "decimal", placeholder: "0" }),
    max_duration_ms: h("input", { id: "f-max", class: "input mono", type: "number", min: "0", step: "any", inputmode: "decimal", placeholder: "∞" }),
    error: select("f-error", [["", "any"], ["true", "errors only"], ["false", "no errors"]]),
    user_id: h("input", { id: "f-user", class: "input", type: "text", placeholder: "any", autocomplete: "off" }),
    cache_hit: select("f-cache", [["", "any"], ["true", "hits only"], ["false", "misses only"]]),
    limit: select("f-limit", [["20", "20"], ["50", "50"], ["100", "100"], ["200", "200"]]),
  };
  const form = h(
    "form",
    { class: "filters", id: "trace-filters", "aria-label": "Trace filters", novalidate: true },
    operations,
    h(
      "div",
      { class: "filter-grid" },
      field("f-service", "Service", inputs.service),
      field("f-operation", "Operation (span name)", inputs.operation, true),
      field("f-min", "Min duration (ms)", inputs.min_duration_ms),
      field("f-max", "Max duration (ms)", inputs.max_duration_ms),
      field("f-error", "Errors", inputs.error),
      field("f-user", "User id", inputs.user_id),
      field("f-cache", "Cache hit", inputs.cache_hit),
      field("f-limit", "Per page", inputs.limit),
    ),
    h(
      "div",
      { class: "filter-actions" },
      h("button", { type: "submit", class: "button button-primary", id: "f-apply" }, "Apply filters"),
      h("button", { type: "button", class: "button", id: "f-reset" }, "Reset"),
      h(
        "label",
        { class: "check" },
        h("input", { type: "checkbox", id: "f-live" }),
        " Live (refresh every 5 s)",
      ),
    ),
  );
  return { form, inputs };
}

function fillForm(params) {
  for (const [k, el] of Object.entries(state.inputs)) {
    el.value = params[k] !== undefined ? String(params[k]) : k === "limit" ? "20" : "";
  }
}

function readForm() {
  const p = {};
  for (const [k, el] of Object.entries(state.inputs)) {
    const v = el.value.trim();
    if (v !== "") p[k] = v;
  }
  p.offset = 0;
  return p;
}

function hasFilters(params) {
  return FILTER_KEYS.some((k) => params[k] !== undefined);
}

function renderStats(store) {
  if (!store) {
    setChildren(state.storeEl);
    return;
  }
  setChildren(
    state.storeEl,
    h("span", { class: "store-label" }, "In-process store:"),
    " ",
    h("span", { class: "mono" }, fmtInt(store.traces)),
    " traces of ",
    h("span", { class: "mono" }, fmtInt(store.max_traces)),
    " · ",
    h("span", { class: "mono" }, fmtBytes(store.bytes)),
    " of ",
    h("span", { class: "mono" }, fmtBytes(store.max_bytes)),
    " · ",
    h("span", { class: ["mono", store.evicted > 0 ? "text-warn" : null] }, fmtInt(store.evicted)),
    " evicted",
  );
}

function cacheCell(v) {
  if (v === true) return h("span", { class: "badge badge-ok" }, "hit");
  if (v === false) return h("span", { class: "badge" }, "miss");
  return h("span", { class: "muted" }, "—");
}

function openTrace(id) {
  window.location.hash = `#/traces/${id}`;
}

function renderPage(page, params) {
  renderStats(page.store);
  const traces = Array.isArray(page.traces) ? page.traces : [];
  if (!traces.length) {
    setChildren(state.pager);
    if (page.total > 0 && params.offset > 0) {
      setChildren(
        state.body,
        emptyState(
          `No traces on this page (there are ${fmtInt(page.total)}).`,
          h("a", { href: hashFor({ ...params, offset: 0 }), class: "button" }, "First page"),
        ),
      );
    } else if (hasFilters(params)) {
      setChildren(
        state.body,
        emptyState("No trace matches these filters.", h("a", { href: "#/traces", class: "button" }, "Clear the filters")),
      );
    } else {
      setChildren(
        state.body,
        emptyState(
          "No traces yet — ask a question.",
          h("a", { href: "#/chat", class: "button button-primary" }, "Go to Chat"),
        ),
      );
    }
    return;
  }

  const maxDur = Math.max(1, ...traces.map((t) => t.duration_us || 0));
  const now = Date.now();
  const rows = traces.map((t) =>
    h(
      "tr",
      {
        class: ["trace-row", t.error ? "row-error" : null],
        "data-testid": "trace-row",
        "data-trace-id": t.trace_id,
        tabindex: "0",
        onclick: (e) => {
          if (e.target.closest("a")) return;
          openTrace(t.trace_id);
        },
        onkeydown: (e) => {
          if (e.key === "Enter" || e.key === " ") {
            e.preventDefault();
            openTrace(t.trace_id);
          }
        },
      },
      h(
        "td",
        { class: "col-time" },
        h("span", { class: "mono" }, fmtClock(t.start_us)),
        h("span", { class: "sub" }, fmtAgo(t.start_us, now)),
      ),
      h(
        "td",
        { class: "col-root" },
        h("a", { href: `#/traces/${t.trace_id}`, class: "row-link" }, t.root || "(no root span)"),
        h("span", { class: "sub mono", title: t.trace_id }, `${t.trace_id.slice(0, 16)}…`, t.service ? ` · ${t.service}` : ""),
      ),
      h(
        "td",
        { class: "col-duration num" },
        h("span", { class: "mono" }, fmtDurationUs(t.duration_us)),
        h(
          "span",
          { class: "minibar", "aria-hidden": "true" },
          h("span", { class: ["minibar-fill", t.error ? "minibar-error" : null], style: { width: `${Math.max(1, (100 * (t.duration_us || 0)) / maxDur)}%` } }),
        ),
      ),
      h("td", { class: "col-spans num mono" }, fmtInt(t.span_count)),
      h(
        "td",
        { class: "col-status" },
        t.error
          ? h("span", { class: "badge badge-error", "data-testid": "error-marker" }, h("span", { "aria-hidden": "true" }, "✕ "), "error")
          : h("span", { class: "badge badge-quiet" }, "ok"),
      ),
      h("td", { class: "col-user mono" }, t.user_id || h("span", { class: "muted" }, "—")),
      h("td", { class: "col-cache" }, cacheCell(t.cache_hit)),
      h("td", { class: "col-cost num mono" }, fmtUsd(t.cost_usd)),
    ),
  );

  const focusedId = document.activeElement?.closest?.("tr[data-trace-id]")?.dataset.traceId;
  setChildren(
    state.body,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "table traces-table", id: "trace-list", "data-testid": "trace-list" },
        h("caption", { class: "visually-hidden" }, "Traces, newest first. Select a row to open its waterfall."),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Time"),
            h("th", { scope: "col" }, "Operation"),
            h("th", { scope: "col", class: "num" }, "Duration"),
            h("th", { scope: "col", class: "num col-spans" }, "Spans"),
            h("th", { scope: "col" }, "Status"),
            h("th", { scope: "col", class: "col-user" }, "User"),
            h("th", { scope: "col" }, "Cache"),
            h("th", { scope: "col", class: "num" }, "Cost"),
          ),
        ),
        h("tbody", {}, rows),
      ),
    ),
  );
  if (focusedId) state.body.querySelector(`tr[data-trace-id="${CSS.escape(focusedId)}"]`)?.focus({ preventScroll: true });

  const from = page.offset + 1;
  const to = page.offset + traces.length;
  const prev = Math.max(0, page.offset - page.limit);
  const next = page.offset + page.limit;
  setChildren(
    state.pager,
    h("p", { class: "pager-text" }, "Showing ", h("span", { class: "mono" }, `${fmtInt(from)}–${fmtInt(to)}`), " of ", h("span", { class: "mono", "data-testid": "trace-total" }, fmtInt(page.total))),
    h(
      "div",
      { class: "pager-buttons" },
      page.offset > 0
        ? h("a", { class: "button", href: hashFor({ ...params, offset: prev }), rel: "prev" }, "← Newer")
        : h("span", { class: "button", "aria-disabled": "true" }, "← Newer"),
      next < page.total
        ? h("a", { class: "button", href: hashFor({ ...params, offset: next }), rel: "next" }, "Older →")
        : h("span", { class: "button", "aria-disabled": "true" }, "Older →"),
    ),
  );
}

async function load({ quiet = false } = {}) {
  const params = state.params;
  state.abort?.abort();
  const ctrl = new AbortController();
  state.abort = ctrl;
  if (!quiet) state.statusEl.textContent = "Loading traces…";
  try {
    const page = await getJson(withQuery("/api/traces", params), { signal: ctrl.signal });
    if (state?.abort !== ctrl) return;
    setChildren(state.errorEl);
    renderPage(page, params);
    state.statusEl.textContent = quiet ? "" : `${fmtInt(page.total)} trace${page.total === 1 ? "" : "s"} match.`;
    state.updated.textContent = `Updated ${new Date().toLocaleTimeString([], { hour12: false })}`;
  } catch (e) {
    if (isAbort(e) || state?.abort !== ctrl) return;
    state.statusEl.textContent = "";
    setChildren(state.errorEl, errorBox(e, { title: "Could not load the traces" }));
    if (!quiet) setChildren(state.body);
  }
}

function setLive(on) {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
  if (on) {
    state.timer = setInterval(() => {
      if (document.hidden) return;
      // Do not redraw under someone typing in the filters.
      if (isEditing(state.form)) return;
      load({ quiet: true });
    }, REFRESH_MS);
  }
}

const MAX_TRACE_FILE_BYTES = 32 * 1024 * 1024;

/**
 * Opens a trace file (the JSON of GET /api/traces/{id}, or what `ragtrace-ingest transcribe
 * --trace-out` writes): POST /api/traces adds it to the store, then its waterfall opens. A trace
 * the store already holds opens as it is.
 */
async function openTraceFile(input) {
  const file = input.files?.[0];
  input.value = "";
  if (!file || !state) return;
  const s = state;
  const fail = (err) => {
    if (state === s) setChildren(s.errorEl, errorBox(err, { title: `Could not open ${file.name}` }));
  };
  if (file.size > MAX_TRACE_FILE_BYTES) {
    fail({ type: "validation", message: `${file.name} is larger than 32 MB`, hint: "pick a trace file: one trace's JSON" });
    return;
  }
  let doc;
  try {
    doc = JSON.parse(await file.text());
  } catch (e) {
    fail({ type: "validation", message: `${file.name} is not JSON: ${e.message}`, hint: "pick a trace file: one trace's JSON" });
    return;
  }
  const id = doc?.spans?.[0]?.trace_id;
  try {
    const res = await sendJson("POST", "/api/traces", doc);
    window.location.hash = `#/traces/${encodeURIComponent(res.trace_id)}`;
  } catch (e) {
    if (e?.status === 409 && typeof id === "string") window.location.hash = `#/traces/${encodeURIComponent(id.toLowerCase())}`;
    else fail(e);
  }
}

/** Mounts the trace list. */
export function mount(main, route) {
  const { form, inputs } = buildForm();
  const statusEl = h("p", { class: "visually-hidden", role: "status" });
  const errorEl = h("div", { class: "error-slot" });
  const storeEl = h("p", { class: "store-stats", "data-testid": "store-stats", id: "store-stats" });
  const updated = h("span", { class: "updated" });
  const body = h("div", { class: "traces-body" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages of traces" });
  const page = h(
    "section",
    { class: "page page-traces", "aria-labelledby": "traces-title" },
    h(
      "div",
      { class: "page-head" },
      h("h1", { id: "traces-title" }, "Traces"),
      h(
        "div",
        { class: "page-head-actions" },
        updated,
        h("button", { type: "button", class: "button", id: "traces-refresh", onclick: () => load() }, "Refresh"),
        h("label", { class: "button", for: "trace-file", title: "A trace saved by another process, e.g. ragtrace-ingest transcribe --trace-out" }, "Open a trace file…"),
        h("input", { type: "file", id: "trace-file", class: "visually-hidden", accept: ".json,application/json", onchange: (e) => openTraceFile(e.target) }),
      ),
    ),
    h("p", { class: "lede" }, "Recent requests, newest first. Select one to see its waterfall."),
    form,
    storeEl,
    statusEl,
    errorEl,
    body,
    pager,
  );
  main.appendChild(page);
  state = { form, inputs, statusEl, errorEl, storeEl, updated, body, pager, params: apiParams(route.query), abort: null, timer: null };
  fillForm(state.params);

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = hashFor(readForm());
    if (window.location.hash === next) load();
    else window.location.hash = next;
  });
  form.querySelector("#f-reset").addEventListener("click", () => {
    if (window.location.hash === "#/traces") {
      fillForm({});
      state.params = apiParams(new URLSearchParams());
      load();
    } else window.location.hash = "#/traces";
  });
  const live = form.querySelector("#f-live");
  let liveOn = true;
  try {
    liveOn = localStorage.getItem(LIVE_KEY) !== "false";
  } catch {
    liveOn = true;
  }
  live.checked = liveOn;
  live.addEventListener("change", () => {
    setLive(live.checked);
    try {
      localStorage.setItem(LIVE_KEY, String(live.checked));
    } catch {
      // Not remembered; fine.
    }
  });
  setLive(liveOn);
  load();

  return () => {
    state.abort?.abort();
    if (state.timer) clearInterval(state.timer);
    state = null;
  };
}

/** New filters or page in the hash: reload in place. */
export function update(route) {
  if (!state) return;
  state.params = apiParams(route.query);
  fillForm(state.params);
  load();
}
