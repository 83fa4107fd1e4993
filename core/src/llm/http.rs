//! The HTTP layer under async-openai. async-openai makes no spans of its own; this tower service
//! makes one HTTP client span per attempt, injects `traceparent`, and keeps non-2xx answers typed
//! (status, `Retry-After`, the provider's message) for the retry loop.

use std::time::Duration;

use async_openai::error::{OpenAIError, WrappedError};
use async_openai::middleware::HttpRequestFactory;
use tracing::Instrument as _;

use super::error::HttpStatusError;
use crate::semconv::attr;
use crate::telemetry::{mark_failed, traceparent_of};

/// The HTTP layer under async-openai: one client span per attempt, `traceparent` injected,
/// non-2xx kept typed. Called inside the GenAI span's future, so `Span::current()` is it.
pub(super) fn http_service(
    http: reqwest::Client,
) -> impl tower::Service<
    HttpRequestFactory,
    Response = reqwest::Response,
    Error = OpenAIError,
    Future = impl Future<Output = Result<reqwest::Response, OpenAIError>> + Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static {
    tower::service_fn(move |factory: HttpRequestFactory| {
        let http = http.clone();
        let span = tracing::info_span!(
            "http.client",
            { attr::OTEL_NAME } = "POST",
            { attr::OTEL_KIND } = "client",
            { attr::HTTP_REQUEST_METHOD } = "POST",
            { attr::URL_FULL } = tracing::field::Empty,
            { attr::SERVER_ADDRESS } = tracing::field::Empty,
            { attr::SERVER_PORT } = tracing::field::Empty,
            { attr::HTTP_RESPONSE_STATUS_CODE } = tracing::field::Empty,
            { attr::ERROR_TYPE } = tracing::field::Empty,
            { attr::OTEL_STATUS_CODE } = tracing::field::Empty,
            { attr::OTEL_STATUS_DESCRIPTION } = tracing::field::Empty,
        );
        let traceparent = traceparent_of(&span);
        let span2 = span.clone();
        async move {
            let mut req = factory.build().await?;
            let url = req.url();
            tracing::record_all!(
                span,
                { attr::URL_FULL } = url.as_str(),
                { attr::SERVER_ADDRESS } = url.host_str(),
                { attr::SERVER_PORT } = url.port_or_known_default().map(i64::from),
            );
            if let Some(tp) =
                traceparent.and_then(|t| reqwest::header::HeaderValue::from_str(&t).ok())
            {
                req.headers_mut().insert("traceparent", tp);
            }
            let resp = match http.execute(req).await {
                Ok(r) => r,
                Err(e) => {
                    let kind = if e.is_timeout() { "timeout" } else { "connect" };
                    mark_failed(&span, kind, &e.to_string());
                    return Err(OpenAIError::Reqwest(e));
                }
            };
            let status = resp.status();
            span.record(attr::HTTP_RESPONSE_STATUS_CODE, i64::from(status.as_u16()));
            if status.is_success() {
                return Ok(resp);
            }
            mark_failed(
                &span,
                status.as_str(),
                status.canonical_reason().unwrap_or("error"),
            );
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = resp.bytes().await.unwrap_or_default();
            let message = serde_json::from_slice::<WrappedError>(&body)
                .map(|w| w.error.message)
                .unwrap_or_else(|_| status.canonical_reason().unwrap_or("error").to_owned());
            Err(OpenAIError::Boxed(Box::new(HttpStatusError {
                status: status.as_u16(),
                retry_after,
                message: message.chars().take(300).collect(),
            })))
        }
        .instrument(span2)
    })
}
