// The HTTP API, same origin: JSON reads, the streamed chat, and one error type for every failure.

import { traceIdFromHeader } from "./util.js";

/** Any failed call: a network error (status 0), an HTTP error with the API's JSON body, or a bad body. */
export class ApiError extends Error {
  constructor({ status = 0, type = "network", message, field = null, hint = null, traceId = null }) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.type = type;
    this.field = field;
    this.hint = hint;
    this.traceId = traceId;
  }
}

function networkError(url, e) {
  return new ApiError({
    status: 0,
    type: "network",
    message: `Cannot reach the ragtrace API (${url}): ${e?.message || e}`,
    hint: "Is ragtrace still running? Start it with `cargo run --release` and reload this page.",
  });
}

/** Turns a non-2xx response into an ApiError, reading the API's `{"error": {...}}` body if any. */
export async function errorFromResponse(res, url) {
  const traceId = traceIdFromHeader(res.headers.get("traceresponse"));
  let text = "";
  try {
    text = await res.text();
  } catch {
    // The body is gone; the status alone has to do.
  }
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const err = body && typeof body === "object" ? body.error : null;
  if (err && typeof err === "object" && typeof err.message === "string") {
    return new ApiError({
      status: res.status,
      type: err.type || "error",
      message: err.message,
      // The simulator's errors (forwarded by /admin/scenarios) are OpenAI-shaped: `param`.
      field: err.field ?? err.param ?? null,
      hint: err.hint ?? null,
      traceId,
    });
  }
  const snippet = text.trim().slice(0, 200);
  return new ApiError({
    status: res.status,
    type: "http",
    message: `${url} answered HTTP ${res.status} ${res.statusText || ""}`.trim() + (snippet ? `: ${snippet}` : ""),
    hint: res.status === 404 ? "This ragtrace build may not serve this endpoint yet." : null,
    traceId,
  });
}

async function readJson(res, url) {
  try {
    return await res.json();
  } catch (e) {
    if (e?.name === "AbortError") throw e;
    throw new ApiError({
      status: res.status,
      type: "protocol",
      message: `${url} did not answer JSON: ${e.message}`,
    });
  }
}

let loginAttempt = null;

/**
 * Asks for the API key (the app runs with `server.api_key`), sends it to `POST /api/session`,
 * which answers with an HttpOnly cookie the browser then sends itself, and resolves `true` when
 * the key was right. Concurrent 401s share one prompt.
 */
function login() {
  if (!loginAttempt) {
    loginAttempt = (async () => {
      const key = window.prompt("This ragtrace requires an API key (server.api_key). Paste it to continue:");
      if (!key) return false;
      const res = await fetch("/api/session", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ key: key.trim() }),
        cache: "no-store",
      });
      return res.ok;
    })().finally(() => setTimeout(() => { loginAttempt = null; }, 0));
  }
  return loginAttempt;
}

/** `fetch`, asking for the API key and trying once more when the app answers 401. */
export async function authedFetch(url, init) {
  const res = await fetch(url, init);
  if (res.status === 401 && (await login())) return fetch(url, init);
  return res;
}

/** GET `url` and parse its JSON body; throws ApiError. */
export async function getJson(url, { signal } = {}) {
  let res;
  try {
    res = await authedFetch(url, { headers: { accept: "application/json" }, signal, cache: "no-store" });
  } catch (e) {
    if (e?.name === "AbortError") throw e;
    throw networkError(url, e);
  }
  if (!res.ok) throw await errorFromResponse(res, url);
  return readJson(res, url);
}

/**
 * `method` (PUT, POST, ...) `url` with `body` as JSON (no body when undefined), and parse the
 * JSON answer; throws ApiError (the API's `{"error": {...}}` on a non-2xx answer).
 */
export async function sendJson(method, url, body, { signal } = {}) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  let res;
  try {
    res = await authedFetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
    });
  } catch (e) {
    if (e?.name === "AbortError") throw e;
    throw networkError(url, e);
  }
  if (!res.ok) throw await errorFromResponse(res, url);
  return readJson(res, url);
}

/** Builds `path?query` from an object, leaving out empty values. */
export function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === null || v === undefined || v === "") continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/**
 * Incremental parser of a `text/event-stream` body. `push(text)` returns the complete events
 * seen so far as `{event, data}` (data lines joined with "\n"); `end()` returns a last event
 * left without its blank line.
 */
export class SseParser {
  constructor() {
    this.buf = "";
  }

  push(text) {
    this.buf += text;
    const out = [];
    for (;;) {
      const m = /\r\n\r\n|\n\n|\r\r/.exec(this.buf);
      if (!m) break;
      const block = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      const ev = SseParser.parseBlock(block);
      if (ev) out.push(ev);
    }
    return out;
  }

  end() {
    const block = this.buf;
    this.buf = "";
    const ev = SseParser.parseBlock(block);
    return ev ? [ev] : [];
  }

  static parseBlock(block) {
    let event = "message";
    const data = [];
    let seen = false;
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (!line || line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      let value = i < 0 ? "" : line.slice(i + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") {
        event = value;
        seen = true;
      } else if (field === "data") {
        data.push(value);
        seen = true;
      }
    }
    return seen ? { event, data: data.join("\n") } : null;
  }
}

/**
 * POST /v1/chat with `stream: true`, calling `on.sources(sources)`, `on.delta(text)`,
 * `on.done(response)`, `on.error(apiError)` as events arrive, and `on.open({traceId})` once the
 * response headers are in. Resolves when the stream ends; throws ApiError (before the first
 * byte: the API's JSON error) or AbortError.
 */
export async function chatStream(body, on, { signal } = {}) {
  const url = "/v1/chat";
  let res;
  try {
    res = await authedFetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream, application/json" },
      body: JSON.stringify({ ...body, stream: true }),
      signal,
      cache: "no-store",
    });
  } catch (e) {
    if (e?.name === "AbortError") throw e;
    throw networkError(url, e);
  }
  if (!res.ok) throw await errorFromResponse(res, url);
  const traceId = traceIdFromHeader(res.headers.get("traceresponse"));
  on.open?.({ traceId });

  const ctype = res.headers.get("content-type") || "";
  if (!ctype.includes("text/event-stream")) {
    // A plain JSON answer (a server that does not stream): treat it as one `done`.
    let resp;
    try {
      resp = await res.json();
    } catch (e) {
      throw new ApiError({ status: res.status, type: "protocol", message: `the chat answer is not JSON: ${e.message}`, traceId });
    }
    on.sources?.(resp.sources || []);
    on.delta?.(resp.answer || "");
    on.done?.(resp);
    return;
  }
  if (!res.body) {
    throw new ApiError({ status: res.status, type: "protocol", message: "the browser gave no readable stream for the answer", traceId });
  }

  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  let finished = false;
  const handle = (ev) => {
    let data;
    try {
      data = ev.data ? JSON.parse(ev.data) : {};
    } catch (e) {
      throw new ApiError({ status: 200, type: "protocol", message: `bad data in the "${ev.event}" event: ${e.message}`, traceId });
    }
    switch (ev.event) {
      case "sources":
        on.sources?.(Array.isArray(data.sources) ? data.sources : []);
        break;
      case "delta":
        on.delta?.(typeof data.text === "string" ? data.text : "");
        break;
      case "done":
        finished = true;
        on.done?.(data);
        break;
      case "error": {
        finished = true;
        const err = data?.error || {};
        on.error?.(
          new ApiError({
            status: 200,
            type: err.type || "error",
            message: err.message || "the answer failed mid-stream",
            field: err.field ?? null,
            hint: err.hint ?? null,
            traceId,
          }),
        );
        break;
      }
      default:
        break;
    }
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const ev of parser.push(decoder.decode(value, { stream: true }))) handle(ev);
    }
    for (const ev of parser.push(decoder.decode())) handle(ev);
    for (const ev of parser.end()) handle(ev);
  } catch (e) {
    if (e instanceof ApiError || e?.name === "AbortError") throw e;
    throw new ApiError({
      status: res.status,
      type: "network",
      message: `the answer stream broke off: ${e?.message || e}`,
      hint: "Is ragtrace still running? Ask again.",
      traceId,
    });
  }
  if (!finished) {
    throw new ApiError({
      status: res.status,
      type: "protocol",
      message: "the answer stream ended without a `done` or `error` event",
      hint: "The server may have stopped mid-answer; ask again.",
      traceId,
    });
  }
}

let uiConfig = null;

/**
 * GET /api/ui-config once: `{jaeger_url, stages: [{id, label, budget_ms}], operations: [...]}`
 * (core/src/semconv.rs `Stage` and `span::chat_request`); `{jaeger_url: null, stages: [],
 * operations: []}` when it is not served or fails.
 */
export function getUiConfig() {
  if (!uiConfig) {
    uiConfig = getJson("/api/ui-config").catch(() => ({ jaeger_url: null, stages: [], operations: [] }));
  }
  return uiConfig;
}
