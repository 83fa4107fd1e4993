// The cost simulator: a team's numbers today and what it expects the fixes to do, projected into
// the monthly saving, the payback period and the first year's ROI (POST /api/simulate, the
// formulas of core/src/simulate.rs). Every label comes from GET /api/i18n, so the page follows
// the language switch in the header. The formatters at the top are pure (no DOM access at import
// time), so `node tests/ui/check-simulator.mjs` can check them.

import { getJson, sendJson, withQuery } from "./api.js";
import { errorBox, getLang, h, isAbort, niceStep, setChildren } from "./util.js";

const DEBOUNCE_MS = 250;
const SVG_NS = "http://www.w3.org/2000/svg";
const NBSP = "\u00a0";

/** Days in the simulator's month (core/src/simulate.rs `DAYS_PER_MONTH`). */
export const DAYS_PER_MONTH = 30;

/** Below this many days the payback reads in days, from it on in months. */
export const PAYBACK_DAYS_LIMIT = 60;

/** The currencies of SimInput, with their symbols. */
export const CURRENCIES = ["USD", "JPY"];
const SYMBOLS = { USD: "$", JPY: "¥" };

/**
 * The form's fields, in the order shown: `name` is the SimInput key (and the i18n key of its
 * label), `kind` says how it is read and shown, `group` the i18n key of its fieldset.
 */
export const FIELD_DEFS = [
  { name: "currency", kind: "currency", group: "sim_today" },
  { name: "monthly_api_spend", kind: "money", group: "sim_today" },
  { name: "mean_response_s", kind: "number", group: "sim_today" },
  { name: "daily_requests", kind: "number", group: "sim_today" },
  { name: "error_rate_percent", kind: "number", group: "sim_today" },
  { name: "cache_hit_rate_percent", kind: "number", group: "sim_assumptions" },
  { name: "latency_reduction_percent", kind: "number", group: "sim_assumptions" },
  { name: "error_reduction_percent", kind: "number", group: "sim_assumptions" },
  { name: "model", kind: "model", group: "sim_assumptions" },
  { name: "switch_to", kind: "model", group: "sim_assumptions" },
  { name: "setup_hours", kind: "number", group: "sim_assumptions" },
  { name: "hourly_rate", kind: "money", group: "sim_assumptions" },
  { name: "stack_monthly_cost", kind: "money", group: "sim_assumptions" },
  { name: "value_per_user_hour", kind: "money", group: "sim_assumptions" },
  { name: "cost_per_error", kind: "money", group: "sim_assumptions" },
];

/** SimInput keys the form does not show, sent back as GET /api/simulate/defaults gave them. */
const PASSTHROUGH = ["prices", "tokens_per_request"];

const NUMBER_RE = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?$/i;

function trimZeros(s) {
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

/** The currency's symbol: `$`, `¥`; an unknown code followed by a space. */
export function currencySymbol(currency) {
  return SYMBOLS[currency] ?? (currency ? `${currency} ` : "");
}

/**
 * Money in whole units with thousands separators, as core/src/simulate.rs `Currency::format`
 * writes it: `$1,240`, `¥160,000`, `-$300`. Not a number: `—`.
 */
export function fmtMoney(amount, currency = "USD") {
  if (amount === null || amount === undefined || amount === "" || !Number.isFinite(Number(amount))) return "—";
  const v = Number(amount);
  const units = Math.round(Math.abs(v));
  const sign = v < 0 && units > 0 ? "-" : "";
  return `${sign}${currencySymbol(currency)}${units.toLocaleString("en-US")}`;
}

/** Money for a chart axis: `$900`, `$1.5k`, `¥240k`, `¥1.2M`. */
export function fmtMoneyShort(amount, currency = "USD") {
  if (amount === null || amount === undefined || !Number.isFinite(Number(amount))) return "—";
  const v = Number(amount);
  const a = Math.abs(v);
  if (a < 1000) return fmtMoney(v, currency);
  const sign = v < 0 ? "-" : "";
  const [div, suffix] = a >= 1e9 ? [1e9, "B"] : a >= 1e6 ? [1e6, "M"] : [1e3, "k"];
  return `${sign}${currencySymbol(currency)}${trimZeros((a / div).toFixed(1))}${suffix}`;
}

/** A number with thousands separators and `minDecimals` to `maxDecimals` decimals: `1,234.5`. */
export function fmtNumber(x, maxDecimals = 0, minDecimals = 0) {
  if (x === null || x === undefined || x === "" || !Number.isFinite(Number(x))) return "—";
  const v = Number(x);
  const s = v.toLocaleString("en-US", { minimumFractionDigits: minDecimals, maximumFractionDigits: maxDecimals });
  // -0.04 rounds to "-0": no sign on a zero.
  return /^-0(?:\.0*)?$/.test(s) ? s.slice(1) : s;
}

/** `text` and its unit: `12.5 days` in English, `12.5日` in Japanese (no space). */
export function withUnit(text, unit, lang = "en") {
  if (!unit) return text;
  return lang === "ja" ? `${text}${unit}` : `${text}${NBSP}${unit}`;
}

/**
 * The payback period in words from `payback_days`: days (one decimal) below 60 days, else months
 * of 30 days (one decimal); `strings.never` when it is null (the net benefit never pays back).
 */
export function paybackText(days, strings = {}, lang = "en") {
  if (days === null || days === undefined || days === "" || !Number.isFinite(Number(days))) return strings.never ?? "never";
  const d = Number(days);
  if (d < PAYBACK_DAYS_LIMIT) return withUnit(fmtNumber(d, 1, 1), strings.days ?? "days", lang);
  return withUnit(fmtNumber(d / DAYS_PER_MONTH, 1, 1), strings.months ?? "months", lang);
}

/**
 * What a number field holds, for the JSON body: a number when the text is one (`1,240`,
 * full-width digits and spaces allowed), else the raw text, so that the API answers a 422 naming
 * the field instead of the page guessing.
 */
export function parseNumberField(raw) {
  const text = raw === null || raw === undefined ? "" : String(raw);
  const s = text.normalize("NFKC").trim().replace(/[,_\s]/g, "");
  if (!NUMBER_RE.test(s)) return text;
  const n = Number(s);
  return Number.isFinite(n) ? n : text;
}

/** A number as the form shows it: whole numbers as they are, fractions to 4 significant digits. */
export function inputText(v) {
  if (v === null || v === undefined) return "";
  const n = Number(v);
  if (typeof v !== "number" || !Number.isFinite(n)) return String(v);
  if (Number.isInteger(n)) return String(n);
  if (Math.abs(n) >= 1000) return String(Math.round(n * 100) / 100);
  return String(Number(n.toPrecision(4)));
}

/**
 * The POST /api/simulate body from the form's `values` (field name → the control's value):
 * numbers parsed (parseNumberField), an empty model choice as null, and `prices` and
 * `tokens_per_request` as `input` (the defaults) had them.
 */
export function simBody(input, values) {
  const body = {};
  for (const f of FIELD_DEFS) {
    const raw = values?.[f.name];
    if (f.kind === "currency") body.currency = raw || input?.currency || "USD";
    else if (f.kind === "model") body[f.name] = typeof raw === "string" && raw !== "" ? raw : null;
    else body[f.name] = parseNumberField(raw);
  }
  for (const k of PASSTHROUGH) {
    if (input && input[k] !== undefined && input[k] !== null) body[k] = input[k];
  }
  return body;
}

/** The API error's message without the field name it starts with (the label already says it). */
export function fieldMessage(err) {
  const field = err?.field;
  let msg = String(err?.message ?? "");
  if (field && msg.startsWith(field)) msg = msg.slice(field.length).replace(/^[:\s]+/, "");
  return msg || String(err?.message ?? "");
}

/**
 * Where the cumulative saving first reaches the cumulative cost, `{month, value}` (linear between
 * months), or null when it does not within `months` (SimOutput `months`, in month order).
 */
export function crossing(months) {
  let prev = null;
  for (const p of Array.isArray(months) ? months : []) {
    const d = p.cumulative_saving - p.cumulative_cost;
    if (!Number.isFinite(d)) continue;
    if (d >= 0) {
      if (!prev) return { month: p.month, value: p.cumulative_saving };
      const dp = prev.cumulative_saving - prev.cumulative_cost;
      const t = -dp / (d - dp);
      return {
        month: prev.month + (p.month - prev.month) * t,
        value: prev.cumulative_saving + (p.cumulative_saving - prev.cumulative_saving) * t,
      };
    }
    prev = p;
  }
  return null;
}

/**
 * The chart's scales from SimOutput `months`: the points kept (finite ones), the last month, the
 * money range `yMin..yMax` (always including 0) on "nice" `ticks`, and the crossing.
 */
export function chartScale(months) {
  const points = (Array.isArray(months) ? months : []).filter(
    (p) => p && Number.isFinite(p.month) && Number.isFinite(p.cumulative_saving) && Number.isFinite(p.cumulative_cost),
  );
  const values = points.flatMap((p) => [p.cumulative_saving, p.cumulative_cost]);
  const hi = Math.max(0, ...values);
  const lo = Math.min(0, ...values);
  const step = niceStep(hi - lo || 1, 4);
  const yMin = Math.floor(lo / step) * step;
  const yMax = Math.max(step, Math.ceil(hi / step) * step);
  const n = Math.round((yMax - yMin) / step);
  const ticks = Array.from({ length: n + 1 }, (_, i) => yMin + i * step);
  const xMax = Math.max(1, ...points.map((p) => p.month));
  return { points, xMax, yMin, yMax, ticks, crossing: crossing(points) };
}

// ---- page -------------------------------------------------------------------------------------

// What the user chose, kept while the app runs so a language switch or a look at another page
// loses nothing: the currency, and the fields typed over the defaults (name → text).
const kept = { currency: "USD", edited: {} };

let state = null;

const t = (s, key) => (s.strings && typeof s.strings[key] === "string" ? s.strings[key] : key);

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, val] of Object.entries(attrs)) if (val !== null && val !== undefined) el.setAttribute(k, String(val));
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c);
  return el;
}

const TILES = [
  { key: "monthly_spend_after", id: "sim-spend-after" },
  { key: "monthly_api_saving", id: "sim-api-saving" },
  { key: "mean_response_after", id: "sim-response-after" },
  { key: "time_saved_per_day", id: "sim-time-saved" },
  { key: "errors_avoided_per_day", id: "sim-errors-avoided" },
  { key: "monthly_benefit", id: "sim-benefit" },
  { key: "one_off_cost", id: "sim-one-off" },
  { key: "payback", id: "sim-payback" },
  { key: "first_year_roi", id: "sim-roi" },
];

function fieldRow(s, def) {
  const id = `sim-${def.name}`;
  const describedBy = `${id}-source ${id}-error`;
  let control;
  if (def.kind === "currency") {
    control = h(
      "select",
      { id, name: def.name, class: "input", "aria-describedby": describedBy },
      CURRENCIES.map((c) => h("option", { value: c }, `${c} (${SYMBOLS[c]})`)),
    );
    control.addEventListener("change", () => changeCurrency(s, control.value));
  } else if (def.kind === "model") {
    control = h("select", { id, name: def.name, class: "input mono", "aria-describedby": describedBy });
    control.addEventListener("change", () => edited(s, def.name));
  } else {
    control = h("input", {
      id,
      name: def.name,
      class: "input mono",
      type: "text",
      inputmode: "decimal",
      autocomplete: "off",
      spellcheck: "false",
      "aria-describedby": describedBy,
    });
    control.addEventListener("input", () => edited(s, def.name));
  }
  const unit = def.kind === "money" ? h("span", { class: "optional sim-unit" }) : null;
  const source = h("span", { id: `${id}-source`, class: "badge sim-source" });
  const error = h("p", { id: `${id}-error`, class: "sim-field-error", "aria-live": "polite" });
  const el = h(
    "div",
    { class: "field sim-field", dataset: { field: def.name } },
    h("div", { class: "sim-label-row" }, h("label", { class: "label", for: id }, t(s, def.name), unit ? [" ", unit] : null), source),
    control,
    error,
  );
  return { def, el, control, unit, source, error };
}

/** The user changed `name`: remember it, say whether the value is still the one measured or defaulted, simulate soon. */
function edited(s, name) {
  const row = s.fields.get(name);
  kept.edited[name] = row.control.value;
  markSource(s, row);
  schedule(s);
}

function originalText(s, name) {
  const v = s.input?.[name];
  return FIELD_DEFS.find((f) => f.name === name)?.kind === "model" ? (v ?? "") : inputText(v);
}

function markSource(s, row) {
  const src = s.sources?.[row.def.name];
  row.source.dataset.source = src === "measured" || src === "default" ? src : "";
  row.source.textContent = src === "measured" ? t(s, "measured") : src === "default" ? t(s, "default") : "";
  row.source.classList.toggle("badge-accent", src === "measured");
  row.source.classList.toggle("badge-quiet", src !== "measured");
  // A value typed over the measured or default one is the user's own: the tag no longer applies.
  const changed = row.def.kind !== "currency" && row.control.value !== originalText(s, row.def.name);
  row.source.dataset.changed = changed ? "true" : "false";
}

function modelOptions(select, models, current, withNone) {
  const names = [...models];
  if (current && !names.includes(current)) names.unshift(current);
  setChildren(
    select,
    withNone ? h("option", { value: "" }, "—") : null,
    names.map((m) => h("option", { value: m }, m)),
  );
}

/** Fills the form from a GET /api/simulate/defaults answer, keeping what the user typed. */
function fill(s, d) {
  s.input = d && typeof d.input === "object" && d.input ? d.input : {};
  s.sources = d && typeof d.sources === "object" && d.sources ? d.sources : {};
  const models = Array.isArray(d?.models) ? d.models.filter((m) => typeof m === "string") : [];
  const currency = CURRENCIES.includes(s.input.currency) ? s.input.currency : kept.currency;
  kept.currency = currency;
  for (const row of s.fields.values()) {
    const name = row.def.name;
    if (row.def.kind === "currency") {
      row.control.value = currency;
    } else if (row.def.kind === "model") {
      const want = kept.edited[name] ?? s.input[name] ?? "";
      // "—" is "no switch" for switch_to, and "not known" for a model the defaults do not name.
      modelOptions(row.control, models, s.input[name], name === "switch_to" || !s.input.model);
      row.control.value = [...row.control.options].some((o) => o.value === want) ? want : (s.input[name] ?? "");
    } else {
      row.control.value = kept.edited[name] ?? inputText(s.input[name]);
    }
    if (row.unit) row.unit.textContent = `(${currencySymbol(currency).trim()})`;
    markSource(s, row);
  }
}

function readValues(s) {
  const values = {};
  for (const [name, row] of s.fields) values[name] = row.control.value;
  return values;
}

function clearErrors(s) {
  for (const row of s.fields.values()) {
    row.control.removeAttribute("aria-invalid");
    row.el.classList.remove("sim-field-invalid");
    if (row.error.firstChild) setChildren(row.error);
  }
  setChildren(s.error);
}

function showError(s, e, title) {
  const row = e?.field ? s.fields.get(e.field) : null;
  if (row) {
    row.control.setAttribute("aria-invalid", "true");
    row.el.classList.add("sim-field-invalid");
    setChildren(
      row.error,
      h("span", { class: "sim-field-message" }, fieldMessage(e)),
      e.hint ? [" ", h("span", { class: "sim-field-hint" }, e.hint)] : null,
    );
  } else {
    setChildren(s.error, errorBox(e, { title }));
  }
  s.results.dataset.stale = "true";
}

function schedule(s) {
  clearTimeout(s.timer);
  s.timer = setTimeout(() => run(s), DEBOUNCE_MS);
}

/** POST /api/simulate with the form as it is; the previous request, if any, is aborted. */
async function run(s) {
  if (state !== s) return;
  clearTimeout(s.timer);
  s.simAbort?.abort();
  const ctrl = new AbortController();
  s.simAbort = ctrl;
  const body = simBody(s.input, readValues(s));
  s.results.setAttribute("aria-busy", "true");
  try {
    const out = await sendJson("POST", "/api/simulate", body, { signal: ctrl.signal });
    if (state !== s || s.simAbort !== ctrl) return;
    clearErrors(s);
    renderResults(s, out, body);
  } catch (e) {
    if (isAbort(e) || state !== s || s.simAbort !== ctrl) return;
    clearErrors(s);
    showError(s, e, "Could not simulate");
  } finally {
    if (state === s && s.simAbort === ctrl) s.results.removeAttribute("aria-busy");
  }
}

/** The currency changed: its defaults (money fields) replace the old ones, then simulate. */
async function changeCurrency(s, currency) {
  if (state !== s) return;
  const previous = kept.currency;
  for (const f of FIELD_DEFS) if (f.kind === "money") delete kept.edited[f.name];
  clearTimeout(s.timer);
  s.simAbort?.abort();
  s.defaultsAbort?.abort();
  const ctrl = new AbortController();
  s.defaultsAbort = ctrl;
  s.form.setAttribute("aria-busy", "true");
  s.results.dataset.stale = "true";
  try {
    const d = await getJson(withQuery("/api/simulate/defaults", { currency }), { signal: ctrl.signal });
    if (state !== s || s.defaultsAbort !== ctrl) return;
    kept.currency = currency;
    setChildren(s.error);
    fill(s, d);
    run(s);
  } catch (e) {
    if (isAbort(e) || state !== s || s.defaultsAbort !== ctrl) return;
    // The amounts on the form are still in the old currency: keep it.
    kept.currency = previous;
    s.fields.get("currency").control.value = previous;
    setChildren(s.error, errorBox(e, { title: `Could not load the defaults in ${currency}` }));
  } finally {
    if (state === s && s.defaultsAbort === ctrl) s.form.removeAttribute("aria-busy");
  }
}

function setTile(s, id, value, sub = "", tone = null) {
  const tile = s.tiles.get(id);
  tile.value.textContent = value;
  tile.sub.textContent = sub;
  tile.value.classList.toggle("text-bad", tone === "bad");
  tile.value.classList.toggle("text-ok", tone === "ok");
}

function renderResults(s, o, body) {
  const cur = o.currency || body.currency;
  const money = (v) => fmtMoney(v, cur);
  const sign = (v) => (Number(v) < 0 ? "bad" : null);
  const secs = (v) => withUnit(fmtNumber(v, Number(v) < 10 ? 2 : 1), t(s, "seconds"), s.lang);
  const count = (v) => fmtNumber(v, Math.abs(Number(v)) < 10 ? 1 : 0);

  setTile(s, "sim-spend-after", money(o.monthly_spend_after), `${t(s, "before")} ${money(o.monthly_spend_before)} → ${t(s, "after")} ${money(o.monthly_spend_after)}`);
  setTile(s, "sim-api-saving", money(o.monthly_api_saving), `${fmtNumber(o.api_saving_percent, 1)}${NBSP}%`, sign(o.monthly_api_saving));
  setTile(s, "sim-response-after", secs(o.mean_response_after_s), typeof body.mean_response_s === "number" ? `${secs(body.mean_response_s)} → ${secs(o.mean_response_after_s)}` : "");
  setTile(s, "sim-time-saved", withUnit(fmtNumber(o.time_saved_hours_per_day, 1, 1), t(s, "hours"), s.lang));
  setTile(s, "sim-errors-avoided", count(o.errors_avoided_per_day), `${count(o.errors_per_day_before)} → ${count(o.errors_per_day_after)} (${fmtNumber(o.error_rate_after_percent, 2)}${NBSP}%)`);
  setTile(s, "sim-benefit", money(o.monthly_benefit), "", sign(o.monthly_benefit));
  const oneOffSub =
    typeof body.setup_hours === "number" && typeof body.hourly_rate === "number"
      ? `${withUnit(fmtNumber(body.setup_hours, 1), t(s, "hours"), s.lang)} × ${money(body.hourly_rate)}`
      : "";
  setTile(s, "sim-one-off", money(o.one_off_cost), oneOffSub);
  const payback = paybackText(o.payback_days, { never: t(s, "never"), days: t(s, "days"), months: t(s, "months") }, s.lang);
  setTile(s, "sim-payback", payback, "", o.payback_days === null || o.payback_days === undefined ? "bad" : null);
  const pb = s.tiles.get("sim-payback").value;
  pb.dataset.days = Number.isFinite(o.payback_days) ? String(o.payback_days) : "never";
  pb.classList.toggle("sim-never", !Number.isFinite(o.payback_days));
  setTile(s, "sim-roi", `${fmtNumber(o.first_year_roi_percent, 0)}${NBSP}%`, "", sign(o.first_year_roi_percent));

  s.results.dataset.stale = "false";
  const stop = s.lang === "ja" ? "。" : ". ";
  s.status.textContent = [
    `${t(s, "payback")}: ${payback}`,
    `${t(s, "monthly_api_saving")}: ${money(o.monthly_api_saving)}`,
    `${t(s, "first_year_roi")}: ${fmtNumber(o.first_year_roi_percent, 0)} %`,
  ].join(stop);
  s.chart.replaceWith((s.chart = chartSvg(s, o, cur, payback)));
}

/** Cumulative saving against cumulative cost, months 0 to 12, with the payback marked. */
function chartSvg(s, o, cur, payback) {
  const W = 720;
  const H = 320;
  const m = { left: 92, right: 22, top: 20, bottom: 58 };
  const iw = W - m.left - m.right;
  const ih = H - m.top - m.bottom;
  const sc = chartScale(o.months);
  const x = (month) => m.left + (month / sc.xMax) * iw;
  const y = (v) => m.top + ih - ((v - sc.yMin) / (sc.yMax - sc.yMin)) * ih;
  const line = (key) => sc.points.map((p, i) => `${i ? "L" : "M"}${x(p.month).toFixed(1)},${y(p[key]).toFixed(1)}`).join(" ");
  const last = sc.points[sc.points.length - 1];
  const label = [
    `${t(s, "cumulative_saving")} / ${t(s, "cumulative_cost")}, ${t(s, "month")} 0–${sc.xMax}`,
    last ? `${t(s, "month")} ${last.month}: ${t(s, "cumulative_saving")} ${fmtMoney(last.cumulative_saving, cur)}, ${t(s, "cumulative_cost")} ${fmtMoney(last.cumulative_cost, cur)}` : null,
    `${t(s, "payback")}: ${payback}`,
  ]
    .filter(Boolean)
    .join(". ");
  const c = sc.crossing;
  let mark = null;
  if (c) {
    const cx = x(c.month);
    const right = cx > m.left + iw * 0.6;
    mark = svg(
      "g",
      { class: "sim-crossing", "data-month": c.month.toFixed(2) },
      svg("line", { class: "sim-crossing-line", x1: cx, x2: cx, y1: m.top, y2: m.top + ih }),
      svg("circle", { class: "sim-crossing-dot", cx, cy: y(c.value), r: 7 }),
      svg("text", { class: "sim-crossing-label", x: right ? cx - 10 : cx + 10, y: m.top + 16, "text-anchor": right ? "end" : "start" }, `${t(s, "payback")}: ${payback}`),
    );
  }
  return svg(
    "svg",
    { id: "sim-chart", class: "sim-chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, "data-testid": "sim-chart" },
    sc.ticks.map((v) =>
      svg(
        "g",
        { class: "hist-grid" },
        svg("line", { x1: m.left, x2: W - m.right, y1: y(v), y2: y(v) }),
        svg("text", { x: m.left - 8, y: y(v) + 6, "text-anchor": "end", class: "hist-tick" }, fmtMoneyShort(v, cur)),
      ),
    ),
    svg("line", { class: "hist-axis", x1: m.left, x2: W - m.right, y1: y(0), y2: y(0) }),
    sc.points.map((p) => svg("text", { x: x(p.month), y: m.top + ih + 24, "text-anchor": "middle", class: "hist-label" }, String(p.month))),
    svg("text", { x: m.left + iw / 2, y: H - 6, "text-anchor": "middle", class: "hist-caption" }, t(s, "month")),
    svg("path", { class: "sim-line sim-line-cost", d: line("cumulative_cost") }),
    svg("path", { class: "sim-line sim-line-saving", d: line("cumulative_saving") }),
    sc.points.map((p) =>
      svg(
        "g",
        { class: "sim-points" },
        svg("circle", { class: "sim-dot sim-dot-cost", cx: x(p.month), cy: y(p.cumulative_cost), r: 3.5 }),
        svg(
          "circle",
          { class: "sim-dot sim-dot-saving", cx: x(p.month), cy: y(p.cumulative_saving), r: 3.5 },
          svg("title", {}, `${t(s, "month")} ${p.month}: ${t(s, "cumulative_saving")} ${fmtMoney(p.cumulative_saving, cur)}, ${t(s, "cumulative_cost")} ${fmtMoney(p.cumulative_cost, cur)}`),
        ),
      ),
    ),
    mark,
  );
}

function buildPage(s) {
  s.fields = new Map();
  const groups = ["sim_today", "sim_assumptions"].map((g) => {
    const rows = FIELD_DEFS.filter((f) => f.group === g).map((def) => {
      const row = fieldRow(s, def);
      s.fields.set(def.name, row);
      return row.el;
    });
    return h("fieldset", { class: "sim-group", id: `sim-group-${g === "sim_today" ? "today" : "assumptions"}` }, h("legend", { class: "card-title" }, t(s, g)), h("div", { class: "sim-fields" }, rows));
  });
  s.form = h("form", { id: "sim-form", class: "card sim-form", novalidate: true, "aria-label": t(s, "sim_title") }, groups);
  s.form.addEventListener("submit", (e) => {
    e.preventDefault();
    run(s);
  });

  s.tiles = new Map();
  const tiles = TILES.map(({ key, id }) => {
    const value = h("span", { id, class: "sim-tile-value mono" }, "—");
    const sub = h("span", { id: `${id}-sub`, class: "sim-tile-sub mono" });
    s.tiles.set(id, { value, sub });
    return h("div", { class: ["tile", "sim-tile", key === "payback" ? "sim-tile-key" : null], dataset: { testid: id } }, h("span", { class: "tile-label" }, t(s, key)), value, sub);
  });
  s.status = h("p", { id: "sim-status", class: "visually-hidden", role: "status", "aria-live": "polite" });
  s.error = h("div", { id: "sim-error", class: "error-slot" });
  s.chart = svg("svg", { id: "sim-chart", class: "sim-chart", viewBox: "0 0 720 320", role: "img", "aria-label": t(s, "sim_results") });
  s.results = h(
    "section",
    { id: "sim-results", class: "sim-results", "aria-labelledby": "sim-results-title", dataset: { stale: "false" } },
    h("h2", { id: "sim-results-title", class: "card-title" }, t(s, "sim_results")),
    s.status,
    s.error,
    h("div", { class: "sim-output" }, h("div", { class: "sim-tiles" }, tiles)),
    h(
      "figure",
      { class: "sim-chart-figure" },
      s.chart,
      h(
        "figcaption",
        {},
        h(
          "ul",
          { class: "legend sim-legend" },
          h("li", {}, h("span", { class: "swatch sim-swatch-saving", "aria-hidden": "true" }), t(s, "cumulative_saving")),
          h("li", {}, h("span", { class: "swatch sim-swatch-cost", "aria-hidden": "true" }), t(s, "cumulative_cost")),
        ),
      ),
    ),
  );
  setChildren(s.body, h("div", { class: "sim-layout" }, s.form, s.results));
}

/** GET /api/i18n and the defaults, then the form, then the first simulation. */
async function load(s) {
  setChildren(s.body, h("p", { class: "loading" }, "Loading…"));
  const [i18n, defaults] = await Promise.allSettled([
    getJson(withQuery("/api/i18n", { lang: s.lang }), { signal: s.abort.signal }),
    getJson(withQuery("/api/simulate/defaults", { currency: kept.currency }), { signal: s.abort.signal }),
  ]);
  if (state !== s) return;
  if (i18n.status === "fulfilled" && i18n.value && typeof i18n.value.strings === "object") {
    s.strings = i18n.value.strings || {};
    if (typeof i18n.value.lang === "string") s.root.setAttribute("lang", i18n.value.lang);
  }
  s.title.textContent = t(s, "sim_title");
  s.intro.textContent = t(s, "sim_intro");
  const notes = i18n.status === "rejected" && !isAbort(i18n.reason) ? errorBox(i18n.reason, { title: "Could not load the simulator's words" }) : null;
  if (defaults.status === "rejected") {
    if (isAbort(defaults.reason)) return;
    setChildren(
      s.body,
      notes,
      errorBox(defaults.reason, {
        title: "Could not load the simulator's defaults",
        extra: h("p", { class: "error-actions" }, h("button", { type: "button", class: "button", onclick: () => load(s) }, "Retry")),
      }),
    );
    return;
  }
  buildPage(s);
  if (notes) s.body.prepend(notes);
  fill(s, defaults.value);
  run(s);
}

/** Mounts the Simulator page. */
export function mount(main) {
  const lang = getLang();
  const title = h("h1", { id: "sim-title" }, "Cost simulator");
  const intro = h("p", { class: "lede" });
  const body = h("div", { class: "sim-body" });
  const root = h("section", { class: "page page-simulator", "aria-labelledby": "sim-title", lang }, title, intro, body);
  main.appendChild(root);
  state = {
    lang,
    root,
    title,
    intro,
    body,
    strings: null,
    abort: new AbortController(),
    simAbort: null,
    defaultsAbort: null,
    timer: null,
    input: {},
    sources: {},
    fields: new Map(),
  };
  load(state);
  return () => {
    if (!state) return;
    clearTimeout(state.timer);
    state.abort.abort();
    state.simAbort?.abort();
    state.defaultsAbort?.abort();
    state = null;
  };
}
