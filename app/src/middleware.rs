//! What wraps every request: its root span, the W3C `traceresponse` header, and the HTTP
//! server duration histogram.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _};
use ragtrace_core::metrics::histogram;
use ragtrace_core::semconv::metric;
use ragtrace_core::telemetry::traceparent_of;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpan, RootSpanBuilder};

/// The root span of every request: tracing-actix-web's HTTP server span, plus the business
/// attributes the handlers record on it.
#[derive(Debug)]
pub struct RagRootSpan;

/// Probes, scrapes and the trace viewer's own API are not traced: a Prometheus scrape every few
/// seconds, or a viewer polling for traces, would bury the requests worth looking at. They are
/// still counted in the HTTP metrics.
pub const UNTRACED_PATHS: [&str; 4] = ["/", "/metrics", "/healthz", "/readyz"];

/// Path prefixes that are not traced (see [`UNTRACED_PATHS`]).
pub const UNTRACED_PREFIXES: [&str; 3] = ["/api/", "/ui/", "/openapi.json"];

impl RootSpanBuilder for RagRootSpan {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        let path = request.path();
        if UNTRACED_PATHS.contains(&path) || UNTRACED_PREFIXES.iter().any(|p| path.starts_with(p)) {
            return tracing::Span::none();
        }
        tracing_actix_web::root_span!(
            request,
            user.id = tracing::field::Empty,
            gen_ai.conversation.id = tracing::field::Empty,
            ragtrace.cache_hit = tracing::field::Empty,
            ragtrace.cost_usd = tracing::field::Empty,
            error.type = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: tracing::Span,
        outcome: &Result<ServiceResponse<B>, Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
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

/// Records `http_server_request_duration_seconds` by route pattern, method and status.
pub async fn http_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().to_string();
    let res = next.call(req).await;
    let status = match &res {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    histogram(
        &metric::HTTP_SERVER_DURATION,
        [&route, &method, &status.to_string()],
    )
    .record(started.elapsed().as_secs_f64());
    res
}
