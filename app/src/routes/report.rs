//! The executive report and the cost simulator: `GET /report` (two windows of the trace store
//! as one HTML page), `POST /api/report` (the same page for two `ragtrace-lab` reports, as the
//! Compare page sends them), `POST /api/simulate` and its defaults, and `GET /api/i18n` (the
//! words of both, in English or Japanese).

use actix_web::{HttpRequest, HttpResponse, web};
use ragtrace_core::report::{Context, Lang, ReportError, Side, html, rfc3339_ms};
use ragtrace_core::semconv::span;
use ragtrace_core::simulate::SimOutput;
use ragtrace_core::simulate::{Currency, SimInput, simulate as project};
use ragtrace_core::trace_store::{StoredTrace, TraceQuery, summarize};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::routes::{parse_query, read_body};
use crate::state::AppState;

const SIMULATE_HINT: &str = "send {\"monthly_api_spend\": 1200, \"mean_response_s\": 8, \
     \"daily_requests\": 5000, \"error_rate_percent\": 3}; the other fields are optional \
     (GET /api/simulate/defaults gives them all)";
const REPORT_HINT: &str = "send {\"before\": <a ragtrace-lab run --out report>, \"after\": <another \
     of the same case>}";

fn lang(raw: Option<&str>) -> Result<Lang, ApiError> {
    raw.map_or(Ok(Lang::En), |s| {
        Lang::parse(s).ok_or_else(|| {
            ApiError::validation("lang", "must be en or ja", "use lang=en or lang=ja")
        })
    })
}

/// Parses a JSON body as `T`, naming the offending field.
fn parse_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    hint: &'static str,
) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_json("the request body is empty", hint));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::bad_json(&format!("malformed JSON: {inner}"), hint)
        } else {
            ApiError::schema((path != ".").then_some(path), &inner.to_string(), hint)
        }
    })
}

/// `?lang=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LangQuery {
    /// The page's language: `en` (default) or `ja`; `en-US`, `en-GB` and `ja-JP` are read as the same, in any case. Anything else is a 422 naming `lang`.
    #[param(example = "ja")]
    lang: Option<String>,
}

/// The words of the report and the simulator in one language.
#[derive(Debug, Serialize, ToSchema)]
pub struct I18n {
    /// `en` or `ja`.
    #[schema(example = "en")]
    pub lang: &'static str,
    /// Key → text, e.g. `payback` → `Payback period` (`投資回収期間` in Japanese). The
    /// simulator's field labels are keyed by their `SimInput` names.
    pub strings: std::collections::BTreeMap<&'static str, &'static str>,
}

/// `GET /api/i18n?lang=en|ja`: the report's and the simulator's words.
#[utoipa::path(
    get,
    path = "/api/i18n",
    tag = "report",
    operation_id = "i18n",
    summary = "The words of the report and the simulator, in English or Japanese",
    description = "The table the report is rendered with, so the UI's Simulator page and language switch show the same words. Both languages have the same keys.",
    params(LangQuery),
    responses(
        (status = 200, description = "The language and its words.", body = I18n),
        (status = 422, description = "`validation`: an invalid query string (an unknown parameter), or `lang` not `en` or `ja`.", body = ErrorBody),
    ),
)]
pub async fn strings(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let q: LangQuery = parse_query(&req)?;
    let l = lang(q.lang.as_deref())?;
    Ok(HttpResponse::Ok().json(I18n {
        lang: l.code(),
        strings: l.strings().iter().copied().collect(),
    }))
}

/// `POST /api/simulate`: the cost simulator's projection of the body's numbers.
#[utoipa::path(
    post,
    path = "/api/simulate",
    tag = "report",
    operation_id = "simulate",
    summary = "The cost simulator: monthly saving, payback period and first-year ROI of tracing and its fixes",
    description = "Projects a team's own numbers with the formulas of docs/report.md (a month is 30 days, the horizon 12 months). Only the four figures of today are required; every other field has a default (in the input's currency), taken when it is missing or `null` (`currency`: only when missing). `GET /api/simulate/defaults` gives a complete input, filled from what the trace store measured. The same function answers the UI's Simulator page and `ragtrace-lab simulate`. Up to 64 KiB.",
    request_body(content = SimInput, example = json!({"currency": "JPY", "monthly_api_spend": 300000, "mean_response_s": 3, "daily_requests": 20000, "error_rate_percent": 1, "cache_hit_rate_percent": 46.67, "latency_reduction_percent": 0, "error_reduction_percent": 0, "setup_hours": 12, "hourly_rate": 10000, "stack_monthly_cost": 20000})),
    responses(
        (status = 200, description = "The projection.", body = SimOutput),
        (status = 400, description = "`validation`: the body is empty or not JSON.", body = ErrorBody),
        (status = 413, description = "`validation`: the body is larger than 64 KiB.", body = ErrorBody),
        (status = 422, description = "`validation`: `field` names the offending input. A required field missing, an unknown field, a value of the wrong type (e.g. a string for `mean_response_s`) or an unknown currency; an amount, count of hours or token count below 0; `mean_response_s` or `daily_requests` not above 0; a percentage outside 0–100; `switch_to` without `model`; a `model` or `switch_to` not in the price table (the message lists its models); a `model` that costs nothing per request.", body = ErrorBody),
    ),
)]
pub async fn simulate(
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(
        payload,
        64 << 10,
        state.body_timeout,
        SIMULATE_HINT,
        "send the simulator's inputs only: at most 64 KiB",
    )
    .await?;
    let input: SimInput = parse_json(&body, SIMULATE_HINT)?;
    let out = project(&input, &state.measuring.pricing)
        .map_err(|e| ApiError::validation(e.field, &e.rule, e.hint))?;
    Ok(HttpResponse::Ok().json(out))
}

/// `?currency=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DefaultsQuery {
    /// The currency of the amounts: `USD` (default) or `JPY` (`usd`, `jpy` accepted).
    currency: Option<Currency>,
}

/// Where a value of the simulator's input comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ValueSource {
    /// From what the trace store measured.
    Measured,
    /// The simulator's default.
    Default,
}

/// A complete simulator input and where its values come from.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimDefaults {
    /// Every field present: the assumptions filled with their defaults; `prices`, `switch_to`
    /// and `tokens_per_request` null (the app's table and the default mix).
    pub input: SimInput,
    /// For each field of `input`: `measured` (from the trace store) or `default`.
    pub sources: std::collections::BTreeMap<String, ValueSource>,
    /// The models of the app's price table, for `model` and `switch_to`.
    pub models: Vec<String>,
    /// Stored chat requests the measured values come from; 0 without the trace store.
    pub traces: usize,
}

/// `GET /api/simulate/defaults?currency=USD|JPY`: a simulator input filled from what the trace
/// store measured over a minute or more (mean response, error rate, requests a day, and the USD
/// spend), the rest from the defaults; `sources` says which is which. The expected cache hit
/// rate stays a default: today's hits are already off the measured spend.
#[utoipa::path(
    get,
    path = "/api/simulate/defaults",
    tag = "report",
    operation_id = "simulateDefaults",
    summary = "A complete simulator input, filled from what the trace store measured",
    description = "With a minute or more of chat requests in the trace store, `mean_response_s`, `error_rate_percent` and `daily_requests` (the stored requests over their time span, scaled to a day) are measured; in USD, so is `monthly_api_spend` (the requests' estimated spend per request × requests a day × 30), never in JPY. The expected cache hit rate stays a default: today's hits are already off the measured spend. Without them, today's figures are placeholders (1,000 USD or 150,000 JPY a month, 8 s, 5,000 requests a day, 3 %). Every assumption is filled with its default in the currency, and `model` is the app's chat model when the price table has it. The input can be sent to `POST /api/simulate` as it stands. Answers 200 with the placeholders when the trace store is off.",
    params(DefaultsQuery),
    responses(
        (status = 200, description = "The input, and where each of its values comes from.", body = SimDefaults),
        (status = 422, description = "`validation`: an invalid query string (an unknown parameter or currency), or a measured figure the simulator refuses (`field` names it).", body = ErrorBody),
    ),
)]
pub async fn defaults(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q: DefaultsQuery = parse_query(&req)?;
    let currency = q.currency.unwrap_or_default();
    let chats = state.traces.as_deref().map(chat_traces).unwrap_or_default();
    let measured = measured_rates(&chats);
    let m = &state.measuring;
    // Placeholders for today's figures, until the store has measured them.
    let spend = if currency == Currency::Jpy {
        150_000.0
    } else {
        1_000.0
    };
    let mut input = SimInput::today(currency, spend, 8.0, 5_000.0, 3.0);
    input.model = Some(m.chat_model.clone()).filter(|c| m.pricing.contains_key(c));
    let mut sources = std::collections::BTreeMap::new();
    if let Some(r) = measured {
        input.mean_response_s = r.mean_s;
        input.error_rate_percent = r.error_rate_percent;
        input.daily_requests = r.daily_requests;
        for f in ["mean_response_s", "error_rate_percent", "daily_requests"] {
            sources.insert(f.to_owned(), ValueSource::Measured);
        }
        // Spend is measured in USD; a JPY bill is the team's own figure.
        if currency == Currency::Usd && r.monthly_spend_usd > 0.0 {
            input.monthly_api_spend = r.monthly_spend_usd;
            sources.insert("monthly_api_spend".to_owned(), ValueSource::Measured);
        }
    }
    // Fill every assumption, so the form shows the numbers the projection uses.
    let a = input
        .assumptions(&m.pricing)
        .map_err(|e| ApiError::validation(e.field, &e.rule, e.hint))?;
    input.cache_hit_rate_percent = Some(a.cache_hit_rate_percent);
    input.latency_reduction_percent = Some(a.latency_reduction_percent);
    input.error_reduction_percent = Some(a.error_reduction_percent);
    input.setup_hours = Some(a.setup_hours);
    input.hourly_rate = Some(a.hourly_rate);
    input.stack_monthly_cost = Some(a.stack_monthly_cost);
    input.value_per_user_hour = Some(a.value_per_user_hour);
    input.cost_per_error = Some(a.cost_per_error);
    let fields = serde_json::to_value(&input).map_err(anyhow::Error::from)?;
    if let Some(obj) = fields.as_object() {
        for key in obj.keys() {
            sources.entry(key.clone()).or_insert(ValueSource::Default);
        }
    }
    Ok(HttpResponse::Ok().json(SimDefaults {
        input,
        sources,
        models: m.pricing.keys().cloned().collect(),
        traces: chats.len(),
    }))
}

/// What the stored chat requests say, as simulator inputs.
struct Rates {
    mean_s: f64,
    error_rate_percent: f64,
    daily_requests: f64,
    monthly_spend_usd: f64,
}

fn measured_rates(chats: &[StoredTrace]) -> Option<Rates> {
    let (first, last) = span_of(chats)?;
    let s = summarize(chats);
    let n = s.requests as f64;
    // A rate needs a minute of requests at least; fewer seconds would make a burst of
    // questions look like a day's traffic.
    let seconds = (last - first) as f64 / 1000.0;
    if seconds < 60.0 {
        return None;
    }
    let daily = n / seconds * 86_400.0;
    Some(Rates {
        mean_s: s.latency_ms.mean / 1000.0,
        error_rate_percent: s.errors as f64 / n * 100.0,
        daily_requests: daily,
        monthly_spend_usd: s.cost_usd / n * daily * ragtrace_core::simulate::DAYS_PER_MONTH,
    })
}

/// The stored chat requests.
fn chat_traces(store: &ragtrace_core::trace_store::TraceStore) -> Vec<StoredTrace> {
    let q = TraceQuery {
        operation: Some(span::CHAT_PIPELINE.to_owned()),
        ..TraceQuery::default()
    };
    store.matching(&q, usize::MAX)
}

/// The first start and the last end among `traces`, Unix milliseconds.
fn span_of(traces: &[StoredTrace]) -> Option<(u64, u64)> {
    let summaries = traces.iter().map(StoredTrace::summary);
    let (mut first, mut last) = (u64::MAX, 0);
    for s in summaries {
        first = first.min(s.start_us / 1000);
        last = last.max((s.start_us + s.duration_us) / 1000 + 1);
    }
    (first <= last && !traces.is_empty()).then_some((first, last))
}

/// The windows of `GET /report`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// The page's language: `en` (default) or `ja`; `en-US`, `en-GB` and `ja-JP` are read as the same, in any case. Anything else is a 422 naming `lang`.
    #[param(example = "ja")]
    lang: Option<String>,
    /// Start of the baseline (before) window, Unix milliseconds, inclusive. Default: the first
    /// stored chat request's start. Must be before `baseline_to` (422 naming `baseline_from`).
    #[param(example = 1764669600000_u64)]
    baseline_from: Option<u64>,
    /// End of the baseline window, Unix milliseconds, exclusive. Default: the middle of the
    /// stored requests' time span.
    #[param(example = 1764669660000_u64)]
    baseline_to: Option<u64>,
    /// Start of the current (after) window, Unix milliseconds, inclusive. Default: the middle of
    /// the stored requests' time span. Must be before `to` (422 naming `from`).
    #[param(example = 1764669660000_u64)]
    from: Option<u64>,
    /// End of the current window, Unix milliseconds, exclusive. Default: just after the last
    /// stored request's end.
    #[param(example = 1764669720000_u64)]
    to: Option<u64>,
    /// Only the requests of this `user.id` (exact match), e.g. one `ragtrace-lab run`'s; the
    /// default windows are then the halves of this user's requests.
    user_id: Option<String>,
}

/// `GET /report?baseline_from=&baseline_to=&from=&to=&lang=&user_id=`: the report of two
/// windows of the trace store (Unix milliseconds); by default the first and the last half of
/// what it holds. `user_id` keeps one user's requests (a lab run's, for instance).
#[utoipa::path(
    get,
    path = "/report",
    tag = "report",
    operation_id = "liveReport",
    summary = "The executive report of two windows of the trace store, as one HTML page",
    description = "Compares two windows of the stored chat requests (traces with a `rag.pipeline` span; a request belongs to the window its trace started in, start inclusive, end exclusive): the baseline (`baseline_from`..`baseline_to`) and the current one (`from`..`to`), Unix milliseconds. A bound left out defaults to the store's: the baseline is the first half of the time from the first stored request's start to the last one's end, the current window the second half. The page's figures are derived as in docs/report.md. The UI's nav links here (`Report`), and the Compare page's Report button for two live windows. Unknown query parameters are rejected with 422. This path is traced, unlike `/api/*`.",
    params(LiveQuery),
    responses(
        (status = 200, description = "The report: one self-contained HTML page, inline CSS and SVG, no script and no external reference; it prints to A4.", body = String, content_type = "text/html"),
        (status = 404, description = "`feature_disabled`: the in-process trace store is off (`trace_store.enabled = false`); the hint points to `ragtrace-lab report BEFORE.json AFTER.json`.", body = ErrorBody),
        (status = 422, description = "`validation`: an invalid query string (an unknown parameter, a bound that is not a whole number), `lang` not `en` or `ja`, a window whose start is not before its end (`baseline_from` or `from`), a window holding no chat request (`baseline_from` or `from`, with its bounds in RFC 3339), or a store holding no chat request at all, or none of `user_id` (`traces`).", body = ErrorBody),
    ),
)]
pub async fn live(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let q: LiveQuery = parse_query(&req)?;
    let l = lang(q.lang.as_deref())?;
    let store = state.traces.as_deref().ok_or(ApiError::FeatureDisabled {
        feature: "the in-process trace store (trace_store.enabled)",
        hint: "set RAGTRACE__TRACE_STORE__ENABLED=true, or build a report from two lab runs: ragtrace-lab report BEFORE.json AFTER.json",
    })?;
    let mut chats = chat_traces(store);
    if let Some(user) = &q.user_id {
        chats.retain(|t| t.summary().user_id.as_ref() == Some(user));
    }
    let Some((first, last)) = span_of(&chats) else {
        let rule = q.user_id.as_ref().map_or_else(
            || "the trace store holds no chat requests yet".to_owned(),
            |u| format!("the trace store holds no chat requests of user_id {u:?}"),
        );
        return Err(ApiError::validation(
            "traces",
            &rule,
            "ask a few questions on the Chat page (or run ragtrace-lab), then reload",
        ));
    };
    let mid = first + (last - first) / 2;
    let baseline = (
        q.baseline_from.unwrap_or(first),
        q.baseline_to.unwrap_or(mid),
    );
    let current = (q.from.unwrap_or(mid), q.to.unwrap_or(last));
    for (name, (from, to)) in [("baseline_from", baseline), ("from", current)] {
        if from >= to {
            return Err(ApiError::validation(
                name,
                "must be before the window's end",
                "give Unix times in milliseconds, the start before the end",
            ));
        }
    }
    let window = |(from, to): (u64, u64), which: &'static str| {
        let inside: Vec<StoredTrace> = chats
            .iter()
            .filter(|t| {
                let start = t.summary().start_us / 1000;
                (from..to).contains(&start)
            })
            .cloned()
            .collect();
        if inside.is_empty() {
            return Err(ApiError::validation(
                which,
                &format!(
                    "holds no chat requests ({} to {})",
                    rfc3339_ms(from),
                    rfc3339_ms(to)
                ),
                "widen the window, or omit the bounds for the first and the last half of the store",
            ));
        }
        Ok(Side::from_summary(
            &summarize(&inside),
            rfc3339_ms(from),
            (to - from) as f64 / 1000.0,
        ))
    };
    let before = window(baseline, "baseline_from")?;
    let after = window(current, "from")?;
    render(&state, &before, &after, l)
}

/// Two `ragtrace-lab run --out` reports of one case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReportPair)]
pub struct Pair {
    /// The run before the fix.
    before: Side,
    /// The run after it.
    after: Side,
}

/// `POST /api/report?lang=`: the report of two `ragtrace-lab run --out` reports,
/// `{"before": …, "after": …}`.
#[utoipa::path(
    post,
    path = "/api/report",
    tag = "report",
    operation_id = "labReport",
    summary = "The executive report of two lab runs, as one HTML page",
    description = "Renders the report of two `ragtrace-lab run --out` reports of one case, sent as they were written: `{\"before\": …, \"after\": …}`. Only the fields of `ReportSide` are read; the others are ignored. The same page as `ragtrace-lab report BEFORE.json AFTER.json`. The Compare page's Report button sends its two loaded lab reports here. Up to 4 MiB.",
    params(LangQuery),
    request_body = Pair,
    responses(
        (status = 200, description = "The report: one self-contained HTML page, inline CSS and SVG, no script and no external reference; it prints to A4.", body = String, content_type = "text/html"),
        (status = 400, description = "`validation`: the body is empty or not JSON.", body = ErrorBody),
        (status = 413, description = "`validation`: the body is larger than 4 MiB.", body = ErrorBody),
        (status = 422, description = "`validation`: a field is missing or of the wrong type (`field` is its path, e.g. `before.latency_ms`), a top-level field other than `before` and `after`, the two runs are of different cases (`after.case`), a run holds no request (`before` or `after`), or `lang` is not `en` or `ja`.", body = ErrorBody),
    ),
)]
pub async fn lab_pair(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let q: LangQuery = parse_query(&req)?;
    let l = lang(q.lang.as_deref())?;
    let body = read_body(
        payload,
        4 << 20,
        state.body_timeout,
        REPORT_HINT,
        "send two ragtrace-lab run reports, at most 4 MiB in all",
    )
    .await?;
    let pair: Pair = parse_json(&body, REPORT_HINT)?;
    render(&state, &pair.before, &pair.after, l)
}

fn render(
    state: &AppState,
    before: &Side,
    after: &Side,
    lang: Lang,
) -> Result<HttpResponse, ApiError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let ctx = Context {
        lang,
        generated_at: rfc3339_ms(now),
        sample_ratio: before
            .case
            .is_none()
            .then_some(state.measuring.sample_ratio),
        // The lab always runs its cases in a simulator scenario.
        simulated_upstreams: before.case.is_some() || state.measuring.simulated_upstreams,
    };
    let page = html::render(before, after, &ctx).map_err(|e| match e {
        ReportError::DifferentCases { .. } => ApiError::validation(
            "after.case",
            &e.to_string(),
            "compare two runs of the same case",
        ),
        ReportError::Empty { which } => ApiError::validation(
            which,
            &e.to_string(),
            "pick a window, or a run, with requests in it",
        ),
    })?;
    let mut resp = HttpResponse::Ok();
    resp.content_type("text/html; charset=utf-8");
    // The report is one self-contained page: its own inline CSS and SVG, no script at all.
    crate::routes::ui::secure_page(
        &mut resp,
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    );
    Ok(resp.body(page))
}
