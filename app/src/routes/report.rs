//! The executive report and the cost simulator: `GET /report` (two windows of the trace store
//! as one HTML page), `POST /api/report` (the same page for two `ragtrace-lab` reports, as the
//! Compare page sends them), `POST /api/simulate` and its defaults, and `GET /api/i18n` (the
//! words of both, in English or Japanese).

use actix_web::{HttpRequest, HttpResponse, web};
use ragtrace_core::report::{Context, Lang, ReportError, Side, html, rfc3339_ms};
use ragtrace_core::semconv::span;
use ragtrace_core::simulate::{Currency, SimInput, simulate as project};
use ragtrace_core::trace_store::{StoredTrace, TraceQuery, summarize};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LangQuery {
    lang: Option<String>,
}

/// `GET /api/i18n?lang=en|ja`: the report's and the simulator's words.
pub async fn strings(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let q: LangQuery = parse_query(&req)?;
    let l = lang(q.lang.as_deref())?;
    let strings: serde_json::Map<String, serde_json::Value> = l
        .strings()
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "lang": l.code(), "strings": strings })))
}

/// `POST /api/simulate`: the cost simulator's projection of the body's numbers.
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultsQuery {
    currency: Option<Currency>,
}

/// `GET /api/simulate/defaults?currency=USD|JPY`: a simulator input filled from what the trace
/// store measured over a minute or more (mean response, error rate, requests a day, and the USD
/// spend), the rest from the defaults; `sources` says which is which. The expected cache hit
/// rate stays a default: today's hits are already off the measured spend.
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
    let mut sources = serde_json::Map::new();
    if let Some(r) = measured {
        input.mean_response_s = r.mean_s;
        input.error_rate_percent = r.error_rate_percent;
        input.daily_requests = r.daily_requests;
        for f in ["mean_response_s", "error_rate_percent", "daily_requests"] {
            sources.insert(f.to_owned(), json!("measured"));
        }
        // Spend is measured in USD; a JPY bill is the team's own figure.
        if currency == Currency::Usd && r.monthly_spend_usd > 0.0 {
            input.monthly_api_spend = r.monthly_spend_usd;
            sources.insert("monthly_api_spend".to_owned(), json!("measured"));
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
    let mut fields = serde_json::to_value(&input).map_err(anyhow::Error::from)?;
    if let Some(obj) = fields.as_object() {
        for key in obj.keys() {
            sources
                .entry(key.clone())
                .or_insert_with(|| json!("default"));
        }
    }
    Ok(HttpResponse::Ok().json(json!({
        "input": fields.take(),
        "sources": sources,
        "models": m.pricing.keys().collect::<Vec<_>>(),
        "traces": chats.len(),
    })))
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LiveQuery {
    lang: Option<String>,
    baseline_from: Option<u64>,
    baseline_to: Option<u64>,
    from: Option<u64>,
    to: Option<u64>,
    user_id: Option<String>,
}

/// `GET /report?baseline_from=&baseline_to=&from=&to=&lang=&user_id=`: the report of two
/// windows of the trace store (Unix milliseconds); by default the first and the last half of
/// what it holds. `user_id` keeps one user's requests (a lab run's, for instance).
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pair {
    before: Side,
    after: Side,
}

/// `POST /api/report?lang=`: the report of two `ragtrace-lab run --out` reports,
/// `{"before": …, "after": …}`.
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
