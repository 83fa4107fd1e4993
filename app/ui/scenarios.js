// Scenarios and fixes, switched on the running app the way an operator would: the simulator's
// scenario (POST /admin/scenarios/{name}) and the case studies' fixes (GET/PUT /admin/fixes,
// POST /admin/index). After each change the page reads GET /admin/fixes again and shows what is
// in force. The app does not say which scenario is in force, so the page remembers the last one
// it set (localStorage).

import { getJson, sendJson } from "./api.js";
import { errorBox, fmtDurationUs, fmtInt, h, isAbort, isEditing, setChildren } from "./util.js";

const REFRESH_MS = 5000;
const SCENARIO_KEY = "ragtrace.scenario";
const MAX_POOL_SIZE = 1024;

/** The simulator's scenarios (ragtrace-sim `Scenario`), with what each one does. */
export const SCENARIOS = [
  { name: "healthy", description: "realistic latencies of a hosted API, no faults" },
  { name: "instant", description: "every endpoint answers at once" },
  { name: "slow-catalog", description: "case study 1: the product-search API takes about 6 s" },
  { name: "afternoon", description: "case study 2: a quick LLM, the vector store carries the load" },
  { name: "rate-limited", description: "the LLM answers 429 to 80 % of requests" },
  { name: "llm-errors", description: "the LLM answers 500 to 80 % of requests" },
  { name: "llm-hang", description: "the LLM never answers" },
];

/** The fixes in force as one line: `product-search cache on · parallel product search off · …`. */
export function fixesLine(f) {
  if (!f || typeof f !== "object") return "unknown";
  const onOff = (v) => (v === true ? "on" : v === false ? "off" : "unknown");
  const idx = f.vector_index;
  return [
    `product-search cache ${onOff(f.catalog_cache)}`,
    `parallel product search ${onOff(f.parallel_product_search)}`,
    `vector-store pool ${Number.isFinite(f.vector_store_pool_size) ? f.vector_store_pool_size : "unknown"}`,
    idx && typeof idx === "object" ? `index ${indexLine(idx)}` : "index status unknown",
  ].join(" · ");
}

/** `12,000 of 20,000 vectors indexed` from an IndexStatus. */
export function indexLine(idx) {
  if (!idx || typeof idx !== "object") return "unknown";
  return `${fmtInt(idx.indexed_vectors)} of ${fmtInt(idx.points)} vectors indexed`;
}

function readRemembered() {
  try {
    const v = localStorage.getItem(SCENARIO_KEY);
    return SCENARIOS.some((s) => s.name === v) ? v : null;
  } catch {
    return null;
  }
}

function remember(name) {
  try {
    localStorage.setItem(SCENARIO_KEY, name);
  } catch {
    // Not remembered across reloads; the page still shows it until then.
  }
}

const now = () => new Date().toLocaleTimeString([], { hour12: false });

let state = null;

// ---- scenarios --------------------------------------------------------------------------------

function renderScenarioButtons() {
  for (const [name, btn] of state.scenarioButtons) {
    const on = name === state.scenario;
    btn.classList.toggle("scenario-current", on);
    btn.setAttribute("aria-pressed", on ? "true" : "false");
    btn.disabled = state.scenarioBusy !== null;
    btn.setAttribute("aria-busy", state.scenarioBusy === name ? "true" : "false");
  }
  const cur = state.scenarioCurrent;
  cur.dataset.scenario = state.scenario || "";
  setChildren(
    cur,
    state.scenario
      ? ["Set from this page: ", h("strong", { class: "mono" }, state.scenario)]
      : h("span", { class: "muted" }, "No scenario set from this page yet. The app does not report which one is in force."),
  );
}

async function setScenario(name) {
  if (!state || state.scenarioBusy) return;
  const s = state;
  s.scenarioBusy = name;
  renderScenarioButtons();
  setChildren(s.scenarioResult, h("span", { class: "muted" }, `Setting ${name}…`));
  try {
    const res = await sendJson("POST", `/admin/scenarios/${encodeURIComponent(name)}`, undefined, { signal: s.abort.signal });
    if (state !== s) return;
    const set = typeof res?.scenario === "string" ? res.scenario : name;
    s.scenario = set;
    remember(set);
    setChildren(s.scenarioError);
    const profiles = res?.profiles && typeof res.profiles === "object" ? Object.keys(res.profiles) : [];
    setChildren(
      s.scenarioResult,
      h("span", { class: "text-ok" }, "✓ "),
      "The simulator now runs ",
      h("strong", { class: "mono" }, set),
      profiles.length ? ` (profiles: ${profiles.join(", ")})` : "",
      h("span", { class: "muted" }, ` · ${now()}`),
    );
  } catch (e) {
    if (isAbort(e) || state !== s) return;
    setChildren(s.scenarioResult);
    setChildren(s.scenarioError, errorBox(e, { title: `Could not set the scenario ${name}` }));
  } finally {
    if (state === s) {
      s.scenarioBusy = null;
      renderScenarioButtons();
    }
  }
}

// ---- fixes ------------------------------------------------------------------------------------

function setSwitch(btn, value) {
  const known = typeof value === "boolean";
  btn.setAttribute("aria-checked", value === true ? "true" : "false");
  btn.dataset.state = known ? (value ? "on" : "off") : "unknown";
  btn.querySelector(".switch-text").textContent = known ? (value ? "On" : "Off") : "—";
}

function renderFixes() {
  const f = state.fixes;
  const busy = state.fixesBusy !== null;
  setSwitch(state.catalogSwitch, f?.catalog_cache);
  setSwitch(state.parallelSwitch, f?.parallel_product_search);
  for (const el of [state.catalogSwitch, state.parallelSwitch, state.poolApply, state.buildButton]) el.disabled = busy || !f;
  state.buildButton.disabled = busy;
  state.poolInput.disabled = busy;
  state.buildButton.setAttribute("aria-busy", state.fixesBusy === "index" ? "true" : "false");
  if (f && !state.poolDirty && document.activeElement !== state.poolInput) state.poolInput.value = String(f.vector_store_pool_size ?? "");
  setChildren(state.poolInForce, f ? ["in force: ", h("strong", { class: "mono" }, String(f.vector_store_pool_size))] : "");

  const idx = f?.vector_index;
  const full = idx && idx.points > 0 && idx.indexed_vectors >= idx.points;
  state.indexStatus.dataset.indexed = idx ? String(idx.indexed_vectors) : "";
  state.indexStatus.dataset.points = idx ? String(idx.points) : "";
  setChildren(
    state.indexStatus,
    idx
      ? [
          h("strong", { class: ["mono", full ? "text-ok" : idx.points > 0 ? "text-warn" : null] }, indexLine(idx)),
          h("span", { class: "muted" }, ` · ${fmtInt(idx.segments)} segment${idx.segments === 1 ? "" : "s"}`),
        ]
      : h("span", { class: "muted" }, f ? "The vector store does not report its index." : "—"),
  );

  const el = state.inForce;
  if (f) {
    el.dataset.catalogCache = String(f.catalog_cache);
    el.dataset.parallel = String(f.parallel_product_search);
    el.dataset.poolSize = String(f.vector_store_pool_size);
    el.dataset.indexed = idx ? String(idx.indexed_vectors) : "";
    el.dataset.points = idx ? String(idx.points) : "";
  } else {
    for (const k of ["catalogCache", "parallel", "poolSize", "indexed", "points"]) delete el.dataset[k];
  }
  setChildren(
    el,
    f
      ? [h("span", { class: "in-force-label" }, "In force now: "), h("span", { class: "in-force-value" }, fixesLine(f))]
      : h("span", { class: "muted" }, state.readFailed ? "Not known: the admin API did not answer." : "Reading the fixes in force…"),
  );
  state.updated.textContent = state.readAt ? `Read at ${state.readAt}` : "";
}

/** GET /admin/fixes into the page. A failure shows its error and leaves the fixes unknown. */
async function readFixes() {
  const s = state;
  try {
    const f = await getJson("/admin/fixes", { signal: s.abort.signal });
    if (state !== s) return null;
    s.fixes = f;
    s.readFailed = false;
    s.readAt = now();
    setChildren(s.readError);
    renderFixes();
    return f;
  } catch (e) {
    if (isAbort(e) || state !== s) return null;
    s.fixes = null;
    s.readFailed = true;
    renderFixes();
    setChildren(s.readError, errorBox(e, { title: "Could not read the fixes in force" }));
    return null;
  }
}

/**
 * Runs one change (`what`: a short name for the busy state), shows its error if it fails, then
 * reads the fixes in force again either way.
 */
async function change(what, title, fn) {
  if (!state || state.fixesBusy) return;
  const s = state;
  s.fixesBusy = what;
  setChildren(s.changeError);
  renderFixes();
  try {
    await fn(s);
  } catch (e) {
    if (isAbort(e) || state !== s) return;
    setChildren(s.changeError, errorBox(e, { title }));
  } finally {
    if (state === s) {
      s.fixesBusy = null;
      // What is in force now, whether the change went in or not.
      await readFixes();
    }
  }
}

function toggle(field, label) {
  const current = state?.fixes?.[field];
  if (typeof current !== "boolean") return;
  const next = !current;
  change(field, `Could not switch the ${label} ${next ? "on" : "off"}`, async (s) => {
    await sendJson("PUT", "/admin/fixes", { [field]: next }, { signal: s.abort.signal });
    if (state === s) setChildren(s.lastChange, `${now()}: ${label} switched ${next ? "on" : "off"}.`);
  });
}

function applyPool() {
  const raw = state.poolInput.value.trim();
  const n = Number(raw);
  if (raw === "" || !Number.isFinite(n)) {
    setChildren(
      state.changeError,
      errorBox(
        { type: "validation", message: "vector_store_pool_size must be a number", field: "vector_store_pool_size", hint: `type a whole number from 1 to ${MAX_POOL_SIZE}` },
        { title: "Could not resize the pool" },
      ),
    );
    state.poolInput.focus();
    return;
  }
  // Out-of-range sizes go to the API: its 422 says what is allowed.
  change("pool", "Could not resize the vector-store pool", async (s) => {
    const f = await sendJson("PUT", "/admin/fixes", { vector_store_pool_size: n }, { signal: s.abort.signal });
    if (state !== s) return;
    s.poolDirty = false;
    setChildren(s.lastChange, `${now()}: vector-store pool resized to ${f?.vector_store_pool_size ?? n}.`);
  });
}

function buildIndex() {
  const started = Date.now();
  const tick = () => {
    if (state?.fixesBusy === "index") setChildren(state.indexResult, h("span", { class: "muted" }, `Building the index… ${Math.floor((Date.now() - started) / 1000)} s`));
  };
  change("index", "Could not build the index", async (s) => {
    tick();
    const timer = setInterval(tick, 1000);
    try {
      const r = await sendJson("POST", "/admin/index", undefined, { signal: s.abort.signal });
      if (state !== s) return;
      const secs = Number(r?.seconds);
      const took = Number.isFinite(secs) ? fmtDurationUs(secs * 1e6) : "—";
      s.indexResult.dataset.seconds = Number.isFinite(secs) ? String(secs) : "";
      s.indexResult.dataset.changed = String(!!r?.changed);
      setChildren(
        s.indexResult,
        r?.changed
          ? [h("span", { class: "text-ok" }, "✓ "), "Built in ", h("strong", { class: "mono" }, took), `: ${indexLine(r.before)} before, ${indexLine(r.after)} after.`]
          : ["Nothing to build (", h("span", { class: "mono" }, took), `): ${indexLine(r?.after)}.`],
      );
      setChildren(s.lastChange, `${now()}: index ${r?.changed ? `built in ${took}` : "already built"}.`);
    } finally {
      clearInterval(timer);
    }
  }).then(() => {
    // A failed build leaves no "Building…" line behind.
    if (state && state.indexResult.textContent.startsWith("Building")) setChildren(state.indexResult);
  });
}

function switchButton(id, label, onclick) {
  return h(
    "button",
    { type: "button", id, class: "switch", role: "switch", "aria-checked": "false", "aria-label": label, onclick },
    h("span", { class: "switch-track", "aria-hidden": "true" }, h("span", { class: "switch-thumb" })),
    h("span", { class: "switch-text" }, "—"),
  );
}

function fixRow(title, caseTag, detail, control, extra = null) {
  return h(
    "div",
    { class: "fix-row" },
    h("div", { class: "fix-text" }, h("p", { class: "fix-title" }, title, " ", h("span", { class: "badge badge-quiet" }, caseTag)), h("p", { class: "fix-detail muted" }, detail)),
    h("div", { class: "fix-control" }, control),
    extra,
  );
}

/** Mounts the Scenarios page. */
export function mount(main) {
  const scenarioButtons = new Map(
    SCENARIOS.map((s) => [
      s.name,
      h(
        "button",
        { type: "button", id: `scenario-${s.name}`, class: "scenario-button", "aria-pressed": "false", dataset: { scenario: s.name }, onclick: () => setScenario(s.name) },
        h("span", { class: "scenario-name mono" }, s.name),
        h("span", { class: "scenario-desc" }, s.description),
      ),
    ]),
  );
  const scenarioCurrent = h("p", { id: "scenario-current", class: "scenario-current-line", "aria-live": "polite" });
  const scenarioResult = h("p", { id: "scenario-result", class: "action-result", role: "status" });
  const scenarioError = h("div", { id: "scenario-error", class: "error-slot" });

  const catalogSwitch = switchButton("fix-catalog-cache", "Product-search cache", () => toggle("catalog_cache", "product-search cache"));
  const parallelSwitch = switchButton("fix-parallel", "Parallel product search", () => toggle("parallel_product_search", "parallel product search"));
  const poolInput = h("input", {
    id: "fix-pool-size",
    class: "input mono pool-input",
    type: "number",
    min: "1",
    max: String(MAX_POOL_SIZE),
    step: "1",
    inputmode: "numeric",
    "aria-label": "Vector-store pool size",
  });
  const poolApply = h("button", { type: "submit", id: "fix-pool-apply", class: "button button-primary" }, "Apply");
  const poolInForce = h("span", { class: "pool-in-force muted" });
  const poolForm = h("form", { class: "pool-form", novalidate: true, "aria-label": "Vector-store pool size" }, poolInput, poolApply, poolInForce);
  const buildButton = h("button", { type: "button", id: "build-index", class: "button button-primary", onclick: () => buildIndex() }, "Build index");
  const indexStatus = h("span", { id: "index-status", class: "index-status" });
  const indexResult = h("p", { id: "index-build-result", class: "action-result", role: "status" });
  const inForce = h("p", { id: "fixes-in-force", class: "in-force", role: "status", "aria-live": "polite", "data-testid": "fixes-in-force" });
  const lastChange = h("p", { id: "fixes-last-change", class: "action-result" });
  const changeError = h("div", { id: "fixes-error", class: "error-slot" });
  const readError = h("div", { class: "error-slot" });
  const updated = h("span", { class: "updated" });

  main.appendChild(
    h(
      "section",
      { class: "page page-scenarios", "aria-labelledby": "scenarios-title" },
      h("h1", { id: "scenarios-title" }, "Scenarios and fixes"),
      h(
        "p",
        { class: "lede" },
        "Switch the simulator's scenario and the case studies' fixes on the running app, the way an operator would. Each change is an event on the admin request's trace.",
      ),
      h(
        "section",
        { class: "card scenarios-card", "aria-labelledby": "scenario-heading" },
        h("h2", { id: "scenario-heading", class: "card-title" }, "Simulator scenario"),
        scenarioCurrent,
        h("div", { class: "scenario-grid", role: "group", "aria-label": "Scenarios" }, [...scenarioButtons.values()]),
        scenarioResult,
        scenarioError,
      ),
      h(
        "section",
        { class: "card fixes-card", "aria-labelledby": "fixes-heading" },
        h(
          "div",
          { class: "fixes-head" },
          h("h2", { id: "fixes-heading", class: "card-title" }, "Fixes"),
          updated,
          h("button", { type: "button", class: "button button-quiet", onclick: () => readFixes() }, "Reload"),
        ),
        inForce,
        readError,
        fixRow("Product-search cache", "case study 1", "Cache the product-search API's results: a repeated product answers at once.", catalogSwitch),
        fixRow("Parallel product search", "case study 1", "Call the product-search API beside the vector search instead of after it.", parallelSwitch),
        fixRow("Vector-store pool size", "case study 2", `Vector-store operations allowed at once (1 to ${MAX_POOL_SIZE}); the others queue.`, poolForm),
        fixRow("Search index", "case study 2", "Build the vector store's HNSW index now, instead of scanning every vector.", h("div", { class: "index-control" }, indexStatus, buildButton), indexResult),
        changeError,
        lastChange,
      ),
    ),
  );

  state = {
    abort: new AbortController(),
    scenario: readRemembered(),
    scenarioBusy: null,
    scenarioButtons,
    scenarioCurrent,
    scenarioResult,
    scenarioError,
    fixes: null,
    readFailed: false,
    fixesBusy: null,
    readAt: null,
    catalogSwitch,
    parallelSwitch,
    poolInput,
    poolApply,
    poolInForce,
    poolDirty: false,
    buildButton,
    indexStatus,
    indexResult,
    inForce,
    lastChange,
    changeError,
    readError,
    updated,
    timer: null,
  };

  poolInput.addEventListener("input", () => {
    if (state) state.poolDirty = true;
  });
  poolForm.addEventListener("submit", (e) => {
    e.preventDefault();
    applyPool();
  });

  renderScenarioButtons();
  renderFixes();
  readFixes();
  state.timer = setInterval(() => {
    if (!state || document.hidden || state.fixesBusy || isEditing(poolForm)) return;
    readFixes();
  }, REFRESH_MS);
  return () => {
    if (!state) return;
    clearInterval(state.timer);
    state.abort.abort();
    state = null;
  };
}
