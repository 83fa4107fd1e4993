// Formatting and DOM helpers shared by every page. Pure functions only (no DOM access at import
// time), so `node` can import this module to check the formatters.

/**
 * Pipeline stages in pipeline order, `{id, label, budgetMs}` (label and default budget). Empty
 * until `setStages` fills it from GET /api/ui-config (core/src/semconv.rs `Stage`); a live
 * binding, so importers see the list once the app has loaded it.
 */
export let STAGES = [];

let STAGE_BY_ID = new Map();

/**
 * Replaces the stage list with the server's `[{id, label, budget_ms}, ...]` (GET /api/ui-config
 * `stages`). Entries without a string `id` are skipped; a missing label falls back to the id, a
 * missing or non-numeric budget to null.
 */
export function setStages(list) {
  STAGES = (Array.isArray(list) ? list : [])
    .filter((s) => s && typeof s.id === "string" && s.id !== "")
    .map((s) => ({
      id: s.id,
      label: typeof s.label === "string" && s.label ? s.label : s.id,
      budgetMs: typeof s.budget_ms === "number" && Number.isFinite(s.budget_ms) ? s.budget_ms : null,
    }));
  STAGE_BY_ID = new Map(STAGES.map((s) => [s.id, s]));
  return STAGES;
}

/** The stage description of `id`, or a generic one for an unknown stage. */
export function stageInfo(id) {
  return STAGE_BY_ID.get(id) || { id, label: id, budgetMs: null };
}

/** localStorage key of the language of the Simulator page and the report. */
export const LANG_KEY = "ragtrace.lang";

/** The languages of GET /api/i18n (core/src/report/i18n.rs `Lang`). */
export const LANGS = ["en", "ja"];

// The language chosen in this page's life, for when storage is off.
let chosenLang = null;

/** `ja` for a browser language such as `ja` or `ja-JP`, `en` for anything else. */
export function langFromNavigator(language) {
  return typeof language === "string" && language.toLowerCase().startsWith("ja") ? "ja" : "en";
}

/**
 * The language of the Simulator page and the report, `en` or `ja`: the one chosen in the header
 * (localStorage `ragtrace.lang`), else the browser's (`ja…` gives `ja`), else `en`.
 */
export function getLang() {
  if (chosenLang) return chosenLang;
  try {
    const v = typeof localStorage === "undefined" ? null : localStorage.getItem(LANG_KEY);
    if (LANGS.includes(v)) return v;
  } catch {
    // Storage may be off; the browser's language decides.
  }
  return typeof navigator === "undefined" ? "en" : langFromNavigator(navigator.language);
}

/** Remembers `lang` (`en` or `ja`; anything else is ignored) as the chosen language. */
export function setLang(lang) {
  if (!LANGS.includes(lang)) return;
  chosenLang = lang;
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch {
    // Not remembered across reloads; fine.
  }
}

/** Attribute keys used by the UI (core/src/semconv.rs, `attr`). */
export const ATTR = {
  STAGE: "ragtrace.stage",
  STAGE_BUDGET_MS: "ragtrace.stage.budget_ms",
  USER_ID: "user.id",
  CACHE_HIT: "ragtrace.cache_hit",
  COST_USD: "ragtrace.cost_usd",
  ERROR_TYPE: "error.type",
};

const NBSP = "\u00a0";

function trimZeros(s) {
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

/** A duration in microseconds: `850 µs`, `3.42 ms`, `420 ms`, `2.46 s`, `2 min 05 s`. */
export function fmtDurationUs(us) {
  if (us === null || us === undefined || !Number.isFinite(Number(us))) return "—";
  us = Number(us);
  const sign = us < 0 ? "-" : "";
  us = Math.abs(us);
  if (us < 1000) return `${sign}${Math.round(us)}${NBSP}µs`;
  const ms = us / 1000;
  if (ms < 10) return `${sign}${trimZeros(ms.toFixed(2))}${NBSP}ms`;
  if (ms < 100) return `${sign}${trimZeros(ms.toFixed(1))}${NBSP}ms`;
  if (ms < 999.5) return `${sign}${Math.round(ms)}${NBSP}ms`;
  const s = ms / 1000;
  if (s < 10) return `${sign}${trimZeros(s.toFixed(2))}${NBSP}s`;
  if (s < 59.95) return `${sign}${trimZeros(s.toFixed(1))}${NBSP}s`;
  const total = Math.round(s);
  const min = Math.floor(total / 60);
  const sec = total % 60;
  if (min < 60) return `${sign}${min}${NBSP}min ${String(sec).padStart(2, "0")}${NBSP}s`;
  return `${sign}${Math.floor(min / 60)}${NBSP}h ${String(min % 60).padStart(2, "0")}${NBSP}min`;
}

/** A duration in milliseconds. */
export function fmtMs(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(Number(ms))) return "—";
  return fmtDurationUs(Number(ms) * 1000);
}

/** US dollars with a precision that keeps 3 significant digits of small amounts. */
export function fmtUsd(usd) {
  if (usd === null || usd === undefined || !Number.isFinite(Number(usd))) return "—";
  const v = Number(usd);
  if (v === 0) return "$0";
  const a = Math.abs(v);
  const sign = v < 0 ? "-" : "";
  if (a >= 1000) return `${sign}$${a.toLocaleString("en-US", { maximumFractionDigits: 0 })}`;
  if (a >= 1) return `${sign}$${a.toFixed(2)}`;
  if (a >= 0.01) return `${sign}$${trimZeros(a.toFixed(4))}`;
  const decimals = Math.min(12, 2 - Math.floor(Math.log10(a)));
  return `${sign}$${trimZeros(a.toFixed(decimals))}`;
}

/** A ratio 0..1 as a percentage: `62 %`, `4.2 %`, `0 %`. */
export function fmtPct(ratio) {
  if (ratio === null || ratio === undefined || !Number.isFinite(Number(ratio))) return "—";
  const p = Number(ratio) * 100;
  if (p === 0) return `0${NBSP}%`;
  if (Math.abs(p) < 0.1) return `<0.1${NBSP}%`;
  if (Math.abs(p) < 10) return `${trimZeros(p.toFixed(1))}${NBSP}%`;
  return `${Math.round(p)}${NBSP}%`;
}

/** An integer with thousands separators. */
export function fmtInt(n) {
  if (n === null || n === undefined || !Number.isFinite(Number(n))) return "—";
  return Math.round(Number(n)).toLocaleString("en-US");
}

/** Requests per second. */
export function fmtRate(perSecond) {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(Number(perSecond))) return "—";
  const v = Number(perSecond);
  if (v === 0) return "0";
  if (v < 0.01) return "<0.01";
  if (v < 10) return trimZeros(v.toFixed(2));
  if (v < 100) return trimZeros(v.toFixed(1));
  return fmtInt(v);
}

/** Bytes: `812 B`, `1.2 MB`. */
export function fmtBytes(n) {
  if (n === null || n === undefined || !Number.isFinite(Number(n))) return "—";
  let v = Number(n);
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  const s = i === 0 ? String(Math.round(v)) : trimZeros(v.toFixed(v < 10 ? 1 : 0));
  return `${s}${NBSP}${units[i]}`;
}

/** A similarity score. */
export function fmtScore(x) {
  if (x === null || x === undefined || !Number.isFinite(Number(x))) return "—";
  return Number(x).toFixed(2);
}

function pad2(n) {
  return String(n).padStart(2, "0");
}

/** Wall-clock time of a Unix timestamp in microseconds: `14:03:27.512`, with the date if not today. */
export function fmtClock(startUs, now = new Date()) {
  if (!Number.isFinite(Number(startUs))) return "—";
  const d = new Date(Number(startUs) / 1000);
  const t = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
  const sameDay =
    d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
  return sameDay ? t : `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${t}`;
}

/** How long ago a Unix timestamp in microseconds was: `12 s ago`, `3 min ago`. */
export function fmtAgo(startUs, nowMs = Date.now()) {
  if (!Number.isFinite(Number(startUs))) return "";
  const s = Math.max(0, (nowMs - Number(startUs) / 1000) / 1000);
  if (s < 1) return "just now";
  if (s < 60) return `${Math.floor(s)}${NBSP}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}${NBSP}min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}${NBSP}h ago`;
  return `${Math.floor(s / 86400)}${NBSP}d ago`;
}

/** A "nice" tick step (1, 2, 2.5, 5 × 10^k) giving about `target` ticks over `range`. */
export function niceStep(range, target = 5) {
  if (!(range > 0)) return 1;
  const raw = range / target;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (m * pow >= raw) return m * pow;
  }
  return 10 * pow;
}

/** The value of attribute `key` in a `[[key, value], ...]` list (the last one wins). */
export function attrOf(attributes, key) {
  if (!Array.isArray(attributes)) return undefined;
  for (let i = attributes.length - 1; i >= 0; i -= 1) {
    const pair = attributes[i];
    if (Array.isArray(pair) && pair[0] === key) return pair[1];
  }
  return undefined;
}

/** Parses a W3C `traceresponse`/`traceparent` header value into its trace id. */
export function traceIdFromHeader(value) {
  if (!value) return null;
  const m = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/i.exec(value.trim());
  return m ? m[1].toLowerCase() : null;
}

/** Whether `id` looks like a trace id (32 hex characters). */
export function isTraceId(id) {
  return typeof id === "string" && /^[0-9a-f]{32}$/i.test(id);
}

/**
 * Creates an element. `attrs` keys: `class`, `text`, `dataset` (object), `on<event>` (function),
 * `style` (object), booleans (set when true), anything else as an attribute. Children may be
 * strings, nodes, arrays, null or undefined. Text is always set as text, never as HTML.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = Array.isArray(v) ? v.filter(Boolean).join(" ") : v;
      else if (k === "text") el.textContent = v;
      else if (k === "dataset") Object.assign(el.dataset, v);
      else if (k === "style") Object.assign(el.style, v);
      else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (v === true) el.setAttribute(k, "");
      else el.setAttribute(k, String(v));
    }
  }
  appendAll(el, children);
  return el;
}

function appendAll(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) appendAll(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function setChildren(el, ...children) {
  el.replaceChildren();
  appendAll(el, children);
  return el;
}

/** Resolves after `ms` milliseconds, or rejects when `signal` aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason ?? new DOMException("aborted", "AbortError"));
      return;
    }
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        reject(signal.reason ?? new DOMException("aborted", "AbortError"));
      },
      { once: true },
    );
  });
}

/** Whether `e` is the error of an aborted fetch or sleep. */
export function isAbort(e) {
  return e?.name === "AbortError";
}

/** A visible, announced error: type, HTTP status, message, offending field and hint. */
export function errorBox(err, { title = "Something went wrong", extra = null } = {}) {
  // A mid-stream `error` event arrives on a 200 response: its status says nothing.
  const status = err?.status >= 400 ? `HTTP ${err.status}` : null;
  return h(
    "div",
    { class: "error-box", role: "alert", "data-testid": "error" },
    h(
      "div",
      { class: "error-head" },
      h("strong", { class: "error-title" }, title),
      err?.type ? h("span", { class: "badge badge-error mono" }, err.type) : null,
      status ? h("span", { class: "badge mono" }, status) : null,
    ),
    h("p", { class: "error-message" }, err?.message || String(err)),
    err?.field ? h("p", { class: "error-field" }, "Field: ", h("code", {}, err.field)) : null,
    err?.hint ? h("p", { class: "error-hint" }, err.hint) : null,
    extra,
  );
}

/** An empty state: a short message and an optional call to action. */
export function emptyState(message, action = null) {
  return h("div", { class: "empty", "data-testid": "empty" }, h("p", {}, message), action);
}

/** Whether someone is typing in a field of `container` (then a live refresh should wait). */
export function isEditing(container) {
  const el = document.activeElement;
  if (!el || !container.contains(el)) return false;
  if (el.tagName === "SELECT" || el.tagName === "TEXTAREA") return true;
  return el.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(el.type);
}
