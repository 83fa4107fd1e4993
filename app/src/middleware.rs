//! What wraps every request: its root span, the W3C `traceresponse` header, and the HTTP
//! server duration histogram.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _};
use ragtrace_core::metrics::{histogram, openmetrics};
use ragtrace_core::semconv::metric;
use ragtrace_core::telemetry::{sampled_trace_id_of, traceparent_of};
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpan, RootSpanBuilder};

use crate::error::ApiError;
use crate::state::AppState;

/// The root span of every request: tracing-actix-web's HTTP server span (its fields, made
/// cheaper: see `on_request_start`), plus the business attributes the handlers record on it.
#[derive(Debug)]
pub struct RagRootSpan;

/// Probes, scrapes and the trace viewer's own API are not traced: a Prometheus scrape every few
/// seconds, or a viewer polling for traces, would bury the requests worth looking at. They are
/// still counted in the HTTP metrics.
pub const UNTRACED_PATHS: [&str; 4] = ["/", "/metrics", "/healthz", "/readyz"];

/// Path prefixes that are not traced (see [`UNTRACED_PATHS`]).
pub const UNTRACED_PREFIXES: [&str; 3] = ["/api/", "/ui/", "/openapi.json"];

impl RootSpanBuilder for RagRootSpan {
    /// tracing-actix-web's HTTP server span (`root_span!`), field for field but for `trace_id`
    /// (the span's own trace id, which every exporter already carries), made for less: every
    /// value is recorded as text rather than formatted, the connection is read once, and the
    /// caller's context is looked for only when it sent a `traceparent`. Every request pays for
    /// its root span, sampled or not.
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        use tracing::field::Empty;

        let path = request.path();
        if UNTRACED_PATHS.contains(&path) || UNTRACED_PREFIXES.iter().any(|p| path.starts_with(p)) {
            return tracing::Span::none();
        }
        let method = request.method().as_str();
        let route = request.match_pattern();
        let route = route.as_deref().unwrap_or("default");
        let mut name = String::with_capacity(method.len() + 1 + route.len());
        name.push_str(method);
        name.push(' ');
        name.push_str(route);
        let user_agent = request
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let mut id = uuid::Uuid::encode_buffer();
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map_or("", |r| &*r.hyphenated().encode_lower(&mut id));
        let info = request.connection_info();
        let span = tracing::info_span!(
            "HTTP request",
            http.method = method,
            http.route = route,
            http.flavor = http_flavor(request.version()),
            http.scheme = info.scheme(),
            http.host = info.host(),
            http.client_ip = info.realip_remote_addr().unwrap_or(""),
            http.user_agent = user_agent,
            http.target = request.uri().path_and_query().map_or("", |p| p.as_str()),
            http.status_code = Empty,
            otel.name = name.as_str(),
            otel.kind = "server",
            otel.status_code = Empty,
            request_id = request_id,
            exception.message = Empty,
            exception.details = Empty,
            user.id = Empty,
            gen_ai.conversation.id = Empty,
            ragtrace.cache_hit = Empty,
            ragtrace.cost_usd = Empty,
            error.type = Empty,
        );
        drop(info);
        // The W3C propagator reads nothing else: without the header, there is nothing to join.
        if request.headers().contains_key("traceparent") {
            use tracing_opentelemetry::OpenTelemetrySpanExt as _;
            let caller = opentelemetry::global::get_text_map_propagator(|p| {
                p.extract(&HeaderCarrier(request.headers()))
            });
            // A malformed `traceparent` extracts as no context: the request starts its own trace.
            let _ = span.set_parent(caller);
        }
        span
    }

    fn on_request_end<B: MessageBody>(
        span: tracing::Span,
        outcome: &Result<ServiceResponse<B>, Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// `http.flavor` as tracing-actix-web writes it.
fn http_flavor(version: actix_web::http::Version) -> &'static str {
    use actix_web::http::Version;
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2.0",
        Version::HTTP_3 => "3.0",
        _ => "1.1",
    }
}

/// A request's headers, as the OpenTelemetry propagator reads them.
struct HeaderCarrier<'a>(&'a actix_web::http::header::HeaderMap);

impl opentelemetry::propagation::Extractor for HeaderCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Refuses a request whose `Host` names a host this app is not published under: an IP address
/// and `localhost` always pass, other names only when `server.allowed_hosts` lists them (or is
/// `*`). A page on an attacker's domain that resolves to this machine (DNS rebinding) sends its
/// own domain, so it gets a 403 instead of the API.
pub async fn allowed_host(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let host = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(host_name);
    if let (Some(host), Some(state)) = (host, req.app_data::<actix_web::web::Data<AppState>>())
        && !host_allowed(&host, &state.allowed_hosts)
    {
        return Err(ApiError::UnknownHost { host }.into());
    }
    next.call(req).await
}

/// Refuses (429, connection closed) a request on a connection its client opened beyond
/// `server.max_connections_per_client` (counted by the server's `on_connect` hook).
pub async fn connection_cap(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if req
        .conn_data::<crate::limits::ConnectionSlot>()
        .is_some_and(|slot| slot.over)
        && let Some(state) = req.app_data::<actix_web::web::Data<AppState>>()
    {
        let e = ApiError::TooManyConnections {
            cap: state.max_connections_per_client,
        };
        e.count();
        return Err(e.into());
    }
    next.call(req).await
}

/// Paths served without the API key: the probes, the metrics scrape, the UI's static files (they
/// hold no data), the API description, and the UI's login.
fn open_path(path: &str) -> bool {
    matches!(
        path,
        "/" | "/healthz" | "/readyz" | "/metrics" | "/openapi.json" | "/api/session"
    ) || path.starts_with("/ui/")
}

/// The cookie `POST /api/session` sets for the UI.
pub const SESSION_COOKIE: &str = "ragtrace_key";

/// When `server.api_key` is set, refuses (401) a request to any other than [`open_path`]s that
/// carries neither `Authorization: Bearer <key>` nor the UI's session cookie with it.
pub async fn require_key(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if let Some(state) = req.app_data::<actix_web::web::Data<AppState>>()
        && let Some(key) = &state.api_key
        && !open_path(req.path())
    {
        use secrecy::ExposeSecret as _;
        let bearer = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::to_owned);
        let cookie = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
        let sent = bearer.or(cookie);
        match sent {
            None => {
                return Err(ApiError::Unauthorized {
                    reason: "no key was sent",
                }
                .into());
            }
            Some(sent) if !same_secret(sent.trim(), key.expose_secret()) => {
                return Err(ApiError::Unauthorized {
                    reason: "the key is wrong",
                }
                .into());
            }
            Some(_) => {}
        }
    }
    next.call(req).await
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The name part of a `Host` header (`[::1]:8080` → `::1`, `app:8080` → `app`), lower-cased.
fn host_name(header: &str) -> String {
    let name = match header.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => match header.rsplit_once(':') {
            Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
            _ => header,
        },
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn host_allowed(host: &str, allowed: &[String]) -> bool {
    host.parse::<std::net::IpAddr>().is_ok()
        || host == "localhost"
        || host.ends_with(".localhost")
        || allowed.iter().any(|a| a == "*" || a == host)
}

/// Adds the W3C `traceresponse` header, so a caller can find its request's trace.
pub async fn traceresponse(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let root = req.extensions().get::<RootSpan>().cloned();
    let mut res = next.call(req).await?;
    if let Some(tp) = root.and_then(|r| traceparent_of(&r))
        && let Ok(v) = HeaderValue::from_str(&tp)
    {
        res.headers_mut()
            .insert(HeaderName::from_static("traceresponse"), v);
    }
    Ok(res)
}

/// Records `http_server_request_duration_seconds` by route pattern, method and status, with the
/// request's trace id as the exemplar of its bucket when the trace is sampled.
pub async fn http_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    // A standard method and a status code are kept inline: no string is made for them.
    let method = req.method().clone();
    let root = req.extensions().get::<RootSpan>().cloned();
    let res = next.call(req).await;
    let status = match &res {
        Ok(r) => r.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    let labels = [route.as_str(), method.as_str(), status.as_str()];
    let seconds = started.elapsed().as_secs_f64();
    histogram(&metric::HTTP_SERVER_DURATION, labels).record(seconds);
    // The request's trace, when it is kept, becomes its bucket's exemplar on /metrics.
    if let Some(trace_id) = root.and_then(|r| sampled_trace_id_of(&r)) {
        openmetrics::record(&metric::HTTP_SERVER_DURATION, labels, seconds, &trace_id);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name is what counts, with or without a port, in any case; IP addresses and
    /// localhost always pass, other names only when listed.
    #[test]
    fn host_names_are_checked_without_their_port() {
        assert_eq!(host_name("App:8080"), "app");
        assert_eq!(host_name("[::1]:8080"), "::1");
        assert_eq!(host_name("example.com."), "example.com");
        let allowed = vec!["ragtrace.example".to_owned()];
        for ok in [
            "127.0.0.1",
            "::1",
            "10.0.0.7",
            "localhost",
            "ragtrace.example",
        ] {
            assert!(host_allowed(ok, &allowed), "{ok}");
        }
        for refused in ["rebind.example", "ragtrace.example.evil", "localhost.evil"] {
            assert!(!host_allowed(refused, &allowed), "{refused}");
        }
        assert!(host_allowed("anything", &["*".to_owned()]));
    }
}
