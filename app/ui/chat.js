// The chat page: ask a question, watch the answer stream in, then see its sources, tokens, cost,
// cache hit, model and a link to its trace. The page keeps its state while you look at traces.

import { chatStream } from "./api.js";
import { errorBox, fmtDurationUs, fmtInt, fmtScore, fmtUsd, h, isAbort, setChildren } from "./util.js";

const EXAMPLES = [
  "How do I reset the Lumen Hub 2?",
  "How much does a Beam bulb cost?",
  "Which motion sensors do you sell?",
];
const USER_KEY = "ragtrace.user_id";

let root = null; // the page element, built once
let els = null;
let inflight = null; // AbortController of the running request

/** Splits an answer into text and citation markers (`[1]`, `[P2]`) for highlighting. */
export function splitCitations(text) {
  const parts = [];
  const re = /\[(P?\d+)\]/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) parts.push({ text: text.slice(last, m.index) });
    parts.push({ text: m[0], marker: m[1] });
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

function build() {
  const question = h("textarea", {
    id: "question",
    name: "question",
    rows: "3",
    class: "input input-question",
    placeholder: "e.g. How do I reset the Lumen Hub 2?",
    "aria-describedby": "question-help",
    autocomplete: "off",
    spellcheck: "true",
  });
  let savedUser = "";
  try {
    savedUser = localStorage.getItem(USER_KEY) || "";
  } catch {
    savedUser = "";
  }
  const userId = h("input", {
    id: "user-id",
    name: "user_id",
    class: "input",
    type: "text",
    maxlength: "128",
    placeholder: "u-42",
    value: savedUser,
    autocomplete: "off",
    "aria-describedby": "user-help",
  });
  const ask = h("button", { id: "ask", type: "submit", class: "button button-primary" }, "Ask");
  const stop = h("button", { id: "stop", type: "button", class: "button", hidden: true }, "Stop");
  const form = h(
    "form",
    { class: "chat-form", id: "chat-form", novalidate: true },
    h("label", { for: "question", class: "label label-large" }, "Your question"),
    question,
    h("p", { id: "question-help", class: "help" }, "Enter sends, Shift+Enter starts a new line."),
    h(
      "div",
      { class: "chat-form-row" },
      h(
        "div",
        { class: "field field-user" },
        h("label", { for: "user-id", class: "label" }, "User id ", h("span", { class: "optional" }, "(optional)")),
        userId,
        h("span", { id: "user-help", class: "help" }, "Recorded on the trace as user.id"),
      ),
      h("div", { class: "chat-actions" }, ask, stop),
    ),
    h(
      "div",
      { class: "examples" },
      h("span", { class: "examples-label", id: "examples-label" }, "Try:"),
      h(
        "ul",
        { class: "chips", "aria-labelledby": "examples-label" },
        EXAMPLES.map((q) =>
          h(
            "li",
            {},
            h(
              "button",
              {
                type: "button",
                class: "chip",
                onclick: () => {
                  question.value = q;
                  send();
                },
              },
              q,
            ),
          ),
        ),
      ),
    ),
  );

  const status = h("p", { id: "chat-status", class: "chat-status", role: "status" });
  const error = h("div", { id: "chat-error" });
  const asked = h("p", { class: "asked", id: "asked" });
  const answer = h("div", {
    id: "answer",
    class: "answer",
    "aria-live": "polite",
    "aria-atomic": "false",
    "aria-labelledby": "answer-title",
    "data-testid": "answer",
  });
  const usage = h("div", { id: "usage", class: "usage", "data-testid": "usage" });
  const traceSlot = h("div", { class: "trace-slot", id: "trace-slot" });
  const sources = h("ol", { id: "sources", class: "sources", "data-testid": "sources" });
  const sourcesNote = h("p", { class: "help", id: "sources-note" });
  const result = h(
    "div",
    { class: "chat-result", id: "chat-result", hidden: true },
    h(
      "article",
      { class: "card answer-card", "aria-labelledby": "answer-title" },
      h("h2", { id: "answer-title", class: "card-title" }, "Answer"),
      asked,
      answer,
      usage,
      traceSlot,
    ),
    h(
      "section",
      { class: "card sources-card", "aria-labelledby": "sources-title" },
      h("h2", { id: "sources-title", class: "card-title" }, "Sources"),
      sourcesNote,
      sources,
    ),
  );

  const page = h(
    "section",
    { class: "page page-chat", "aria-labelledby": "chat-title" },
    h("h1", { id: "chat-title" }, "Ask a question"),
    h(
      "p",
      { class: "lede" },
      "The answer streams in; then open its trace to see where the time went.",
    ),
    form,
    status,
    error,
    result,
  );

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    send();
  });
  question.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  });
  stop.addEventListener("click", () => inflight?.abort());

  els = { question, userId, ask, stop, status, error, result, asked, answer, usage, traceSlot, sources, sourcesNote };
  return page;
}

function renderSources(list, final) {
  const items = Array.isArray(list) ? list : [];
  if (!items.length) {
    setChildren(els.sources);
    els.sourcesNote.textContent = "No passage or product was found for this question.";
    return;
  }
  const cited = items.filter((s) => s.cited).length;
  els.sourcesNote.textContent = final
    ? `${cited} of ${items.length} cited by the answer (highlighted).`
    : `${items.length} given to the model; citations are marked when the answer is complete.`;
  setChildren(
    els.sources,
    items.map((s) =>
      h(
        "li",
        {
          class: ["source", s.cited ? "source-cited" : null],
          "data-testid": "source",
          "data-marker": s.marker,
          "data-cited": s.cited ? "true" : "false",
        },
        h("span", { class: "marker mono", "aria-hidden": "true" }, `[${s.marker}]`),
        h(
          "div",
          { class: "source-body" },
          h("span", { class: "source-title" }, s.title || s.id),
          h(
            "span",
            { class: "source-meta" },
            h("span", { class: "mono" }, s.source),
            s.source === "catalog" ? h("span", { class: "mono" }, ` · ${s.id}`) : null,
            h("span", { class: "mono" }, ` · score ${fmtScore(s.score)}`),
          ),
        ),
        s.cited
          ? h("span", { class: "badge badge-ok" }, "cited", h("span", { class: "visually-hidden" }, ` as [${s.marker}]`))
          : h("span", { class: "visually-hidden" }, `marker ${s.marker}, not cited`),
      ),
    ),
  );
}

function renderAnswerFinal(text, sources) {
  const titles = new Map((sources || []).map((s) => [s.marker, s.title]));
  // The text is already announced piece by piece; redrawing it must not be announced again.
  els.answer.setAttribute("aria-live", "off");
  setChildren(
    els.answer,
    splitCitations(text).map((p) =>
      p.marker
        ? h("mark", { class: "cite mono", title: titles.get(p.marker) || `source ${p.marker}` }, p.text)
        : p.text,
    ),
  );
  requestAnimationFrame(() => els.answer.setAttribute("aria-live", "polite"));
}

function row(label, ...value) {
  return h("div", { class: "usage-item" }, h("dt", {}, label), h("dd", {}, ...value));
}

function renderUsage(resp, timing) {
  const u = resp.usage || {};
  setChildren(
    els.usage,
    h(
      "dl",
      { class: "usage-grid" },
      row(
        "Cache",
        resp.cache_hit
          ? h("span", { class: "badge badge-ok", "data-testid": "cache-hit" }, "cache hit")
          : h("span", { class: "badge", "data-testid": "cache-hit" }, "cache miss"),
      ),
      row("Cost", h("span", { class: "mono big-number", "data-testid": "cost" }, fmtUsd(resp.cost_usd))),
      row(
        "Tokens",
        h(
          "span",
          { class: "mono", "data-testid": "tokens" },
          `${fmtInt(u.input_tokens)} in · ${fmtInt(u.output_tokens)} out · ${fmtInt(u.embedding_tokens)} embedded`,
        ),
      ),
      row("Model", h("span", { class: "mono", "data-testid": "model" }, resp.model || "—")),
      row(
        "Time",
        h(
          "span",
          { class: "mono" },
          timing.firstUs !== null ? `first text ${fmtDurationUs(timing.firstUs)} · ` : "",
          `total ${fmtDurationUs(timing.totalUs)}`,
        ),
      ),
    ),
  );
}

function traceLink(traceId, label) {
  return h(
    "p",
    { class: "trace-link-row" },
    h(
      "a",
      { id: "trace-link", class: "button button-primary trace-link", href: `#/traces/${traceId}`, "data-testid": "trace-link" },
      label,
      h("span", { "aria-hidden": "true" }, " →"),
    ),
    h("span", { class: "mono trace-id", title: "W3C trace id" }, traceId),
  );
}

function renderTraceLink(traceId, label = "View trace") {
  if (traceId) setChildren(els.traceSlot, traceLink(traceId, label));
  else setChildren(els.traceSlot);
}

function setBusy(busy) {
  els.ask.disabled = busy;
  els.ask.textContent = busy ? "Asking…" : "Ask";
  els.stop.hidden = !busy;
  els.answer.setAttribute("aria-busy", busy ? "true" : "false");
}

async function send() {
  const question = els.question.value;
  const userId = els.userId.value.trim();
  try {
    if (userId) localStorage.setItem(USER_KEY, userId);
    else localStorage.removeItem(USER_KEY);
  } catch {
    // Not remembered; fine.
  }
  inflight?.abort();
  const ctrl = new AbortController();
  inflight = ctrl;

  setChildren(els.error);
  setChildren(els.answer);
  setChildren(els.usage);
  setChildren(els.sources);
  els.sourcesNote.textContent = "";
  renderTraceLink(null);
  els.asked.textContent = question.trim() ? `“${question.trim()}”` : "";
  els.result.hidden = true;
  els.status.textContent = "Sending…";
  setBusy(true);

  const t0 = performance.now();
  const timing = { firstUs: null, totalUs: 0 };
  let traceId = null;
  let text = "";
  const body = { question };
  if (userId) body.user_id = userId;

  try {
    await chatStream(
      body,
      {
        open: (info) => {
          traceId = info.traceId;
          els.result.hidden = false;
          els.status.textContent = "Looking up the cache, searching, building the prompt…";
        },
        sources: (list) => {
          renderSources(list, false);
          els.status.textContent = "Generating the answer…";
        },
        delta: (piece) => {
          if (timing.firstUs === null) timing.firstUs = (performance.now() - t0) * 1000;
          text += piece;
          els.answer.appendChild(document.createTextNode(piece));
        },
        done: (resp) => {
          timing.totalUs = (performance.now() - t0) * 1000;
          traceId = resp.trace_id || traceId;
          renderAnswerFinal(typeof resp.answer === "string" ? resp.answer : text, resp.sources);
          renderSources(resp.sources, true);
          renderUsage(resp, timing);
          renderTraceLink(traceId);
          els.status.textContent = `Answered in ${fmtDurationUs(timing.totalUs)}${resp.cache_hit ? " from the cache" : ""}.`;
        },
        error: (err) => {
          timing.totalUs = (performance.now() - t0) * 1000;
          els.status.textContent = `The answer failed after ${fmtDurationUs(timing.totalUs)}.`;
          setChildren(els.error, errorBox(err, { title: "The answer failed mid-stream" }));
          renderTraceLink(err.traceId || traceId, "View the failed trace");
        },
      },
      { signal: ctrl.signal },
    );
  } catch (e) {
    if (isAbort(e)) {
      if (inflight === ctrl) {
        els.status.textContent = "Stopped.";
        renderTraceLink(traceId, "View the trace so far");
      }
    } else {
      els.status.textContent = "";
      const title =
        e.type === "network"
          ? "Cannot reach ragtrace"
          : e.status >= 500
            ? `The service failed (HTTP ${e.status})`
            : e.status >= 400
              ? `The request was refused (HTTP ${e.status})`
              : "The answer could not be read";
      const id = e.traceId || traceId;
      if (text) {
        // Part of the answer arrived: keep it, and link the trace under it.
        renderTraceLink(id, "View the failed trace");
        setChildren(els.error, errorBox(e, { title }));
      } else {
        els.result.hidden = true;
        const label = e.status >= 500 ? "View the failed trace" : "View its trace";
        setChildren(els.error, errorBox(e, { title, extra: id ? traceLink(id, label) : null }));
      }
    }
  } finally {
    if (inflight === ctrl) {
      inflight = null;
      setBusy(false);
    }
  }
}

/** Mounts the chat page (built once; its state survives navigation). */
export function mount(main) {
  if (!root) root = build();
  main.appendChild(root);
  if (!els.question.value && !inflight) els.question.focus({ preventScroll: true });
  return () => root.remove();
}
