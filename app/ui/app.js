// Entry point: hash routing (#/chat, #/traces, #/traces/<id>, #/breakdown, #/scenarios,
// #/compare, #/simulator), the live tiles in the header, the theme switch and the language
// switch (the Simulator page and the report).

import { getJson, getUiConfig, withQuery } from "./api.js";
import { fmtMs, fmtPct, fmtRate, fmtUsd, getLang, setLang, setStages } from "./util.js";
import * as chatPage from "./chat.js";
import * as tracesPage from "./traces.js";
import * as tracePage from "./trace.js";
import * as breakdownPage from "./breakdown.js";
import * as scenariosPage from "./scenarios.js";
import * as comparePage from "./compare.js";
import * as simulatorPage from "./simulator.js";

const STATS_EVERY_MS = 5000;

/** Parses `#/traces/abc?x=1` into `{name, params, query}`. */
export function parseHash(hash) {
  const raw = (hash || "").replace(/^#/, "");
  const [pathPart, queryPart = ""] = raw.split("?", 2);
  const segs = pathPart.split("/").filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(queryPart);
  if (segs[0] === "traces" && segs[1]) return { name: "trace", params: { id: segs[1] }, query };
  if (segs[0] === "traces") return { name: "traces", params: {}, query };
  if (segs[0] === "breakdown") return { name: "breakdown", params: {}, query };
  if (segs[0] === "chat") return { name: "chat", params: {}, query };
  if (segs[0] === "scenarios") return { name: "scenarios", params: {}, query };
  if (segs[0] === "compare") return { name: "compare", params: {}, query };
  if (segs[0] === "simulator") return { name: "simulator", params: {}, query };
  return { name: null, params: {}, query };
}

const PAGES = {
  chat: { module: chatPage, nav: "chat", title: "Chat" },
  traces: { module: tracesPage, nav: "traces", title: "Traces" },
  trace: { module: tracePage, nav: "traces", title: "Trace" },
  breakdown: { module: breakdownPage, nav: "breakdown", title: "Breakdown" },
  scenarios: { module: scenariosPage, nav: "scenarios", title: "Scenarios" },
  compare: { module: comparePage, nav: "compare", title: "Compare" },
  simulator: { module: simulatorPage, nav: "simulator", title: "Simulator" },
};

let current = null; // {name, id, cleanup, module}

/** Shows the page of the current hash; `remount` mounts it afresh even when it is already shown. */
function route(remount = false) {
  const hash = window.location.hash;
  if (!hash.startsWith("#/")) {
    // `#main` (the skip link) and an empty hash both land on the chat page.
    history.replaceState(null, "", "#/chat");
  }
  const r = parseHash(window.location.hash);
  if (!r.name) {
    history.replaceState(null, "", "#/chat");
    return route();
  }
  const page = PAGES[r.name];
  const main = document.getElementById("main");

  for (const a of document.querySelectorAll(".nav a[data-route]")) {
    if (a.dataset.route === page.nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }

  // Same page, same id, new query (filters, paging): let the page update itself in place.
  const key = `${r.name}:${r.params.id || ""}`;
  if (!remount && current && current.key === key && typeof page.module.update === "function") {
    page.module.update(r);
    return;
  }
  if (current?.cleanup) {
    try {
      current.cleanup();
    } catch (e) {
      console.error(e);
    }
  }
  main.replaceChildren();
  document.title = `${page.title} · ragtrace`;
  const cleanup = page.module.mount(main, r);
  current = { key, cleanup };
  const h1 = main.querySelector("h1");
  if (h1 && document.activeElement !== document.getElementById("question")) {
    h1.setAttribute("tabindex", "-1");
    // Move focus to the page's heading so screen readers announce the new page.
    // A remount (the language switch) leaves the focus on the switch.
    if (!remount && document.activeElement && document.activeElement !== document.body) h1.focus({ preventScroll: true });
  }
  window.scrollTo(0, 0);
}

// ---- live tiles -------------------------------------------------------------------------------

let statsTimer = null;
let statsAbort = null;

function setTile(id, text, level = null) {
  const el = document.getElementById(id);
  if (!el) return;
  el.textContent = text;
  const tile = el.closest(".tile");
  if (tile) {
    tile.classList.toggle("tile-warn", level === "warn");
    tile.classList.toggle("tile-bad", level === "bad");
  }
}

/** Renders a `GET /api/stats` answer into the header tiles (null values as "—"). */
export function renderStats(s) {
  setTile("tile-rps", fmtRate(s.requests_per_second));
  setTile("tile-p95", fmtMs(s.p95_ms));
  const er = s.error_rate;
  setTile("tile-errors", fmtPct(er), er === null || er === undefined ? null : er >= 0.05 ? "bad" : er > 0 ? "warn" : null);
  setTile("tile-cache", fmtPct(s.cache_hit_rate));
  setTile("tile-spend", fmtUsd(s.spend_usd));
  const note = document.getElementById("tiles-note");
  const w = Number(s.window_seconds);
  const windowText = Number.isFinite(w) && w > 0 ? `last ${w >= 120 ? `${Math.round(w / 60)} min` : `${w} s`}` : "";
  const spendWindow = document.getElementById("tile-spend-window");
  spendWindow.textContent =
    typeof s.spend_window_usd === "number" && Number.isFinite(w) && w > 0 ? `${fmtUsd(s.spend_window_usd)} / ${w} s` : "";
  spendWindow.title = windowText ? `spend in the ${windowText}` : "";
  note.textContent = windowText;
  note.removeAttribute("title");
  note.classList.remove("tiles-note-bad");
}

async function refreshStats() {
  statsAbort?.abort();
  statsAbort = new AbortController();
  try {
    renderStats(await getJson("/api/stats", { signal: statsAbort.signal }));
  } catch (e) {
    if (e?.name === "AbortError") return;
    for (const id of ["tile-rps", "tile-p95", "tile-errors", "tile-cache", "tile-spend"]) setTile(id, "—");
    document.getElementById("tile-spend-window").textContent = "";
    const note = document.getElementById("tiles-note");
    note.textContent = e.type === "network" ? "API unreachable" : "stats unavailable";
    note.title = e.message;
    note.classList.add("tiles-note-bad");
  }
}

function startStats() {
  stopStats();
  refreshStats();
  statsTimer = setInterval(() => {
    if (!document.hidden) refreshStats();
  }, STATS_EVERY_MS);
}

function stopStats() {
  if (statsTimer) clearInterval(statsTimer);
  statsTimer = null;
}

// ---- theme ------------------------------------------------------------------------------------

const THEME_KEY = "ragtrace.theme";

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  const btn = document.getElementById("theme-toggle");
  btn.textContent = theme === "dark" ? "Light theme" : "Dark theme";
  btn.setAttribute("aria-pressed", theme === "light" ? "true" : "false");
}

function initTheme() {
  let theme = "dark";
  try {
    theme = localStorage.getItem(THEME_KEY) === "light" ? "light" : "dark";
  } catch {
    // Storage may be off; the default stays.
  }
  applyTheme(theme);
  document.getElementById("theme-toggle").addEventListener("click", () => {
    const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    applyTheme(next);
    try {
      localStorage.setItem(THEME_KEY, next);
    } catch {
      // Not remembered; fine.
    }
  });
}

// ---- language ---------------------------------------------------------------------------------

/** Points the nav's Report link at the server-rendered report in `lang`. */
function updateReportLink(lang) {
  const a = document.getElementById("nav-report");
  if (a) a.setAttribute("href", withQuery("/report", { lang }));
}

function initLang() {
  const select = document.getElementById("lang-select");
  const lang = getLang();
  select.value = lang;
  updateReportLink(lang);
  select.addEventListener("change", () => {
    setLang(select.value);
    updateReportLink(getLang());
    // The page reads the language when it mounts (the Simulator page fetches its words again).
    route(true);
  });
}

// ---- start ------------------------------------------------------------------------------------

const CONFIG_WAIT_MS = 5000;

/**
 * Loads GET /api/ui-config (stage labels and budgets, operation names) before the first page
 * mounts, so every page sees the stages. A failed fetch leaves the stage list empty (stageInfo
 * falls back to generic labels); a slow one is waited for at most CONFIG_WAIT_MS, and its stages
 * still apply to the pages drawn after it arrives.
 */
async function loadConfig() {
  const apply = (cfg) => setStages(Array.isArray(cfg?.stages) ? cfg.stages : []);
  const config = getUiConfig().then(apply, (e) => {
    console.error(e);
    setStages([]);
  });
  await Promise.race([config, new Promise((resolve) => setTimeout(resolve, CONFIG_WAIT_MS))]);
}

async function start() {
  initTheme();
  initLang();
  document.getElementById("skip-link").addEventListener("click", (e) => {
    e.preventDefault();
    const main = document.getElementById("main");
    (main.querySelector("h1") || main).focus();
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refreshStats();
  });
  startStats();
  try {
    await loadConfig();
  } catch (e) {
    console.error(e);
  }
  window.addEventListener("hashchange", () => route());
  route();
}

if (typeof document !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}
