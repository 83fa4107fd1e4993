//! The API's one error type and its one mapping to HTTP.
//!
//! Every error answers with a JSON body: `{"error": {"type", "message", "field"?, "hint"?}}`.
//! Every variant is matched explicitly, so a new variant forces a decision about its status.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use ragtrace_core::llm::LlmError;
use ragtrace_core::queue::QueueError;
use ragtrace_core::vector_store::VectorStoreError;

/// What can go wrong serving a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body could not be read (the connection broke, a multipart body is malformed).
    #[error("{message}")]
    BadBody {
        /// Why the body could not be read, sent as `message` in the JSON error body.
        message: String,
        /// How to fix it.
        hint: String,
    },
    /// The body is not JSON at all.
    #[error("{message}")]
    BadJson {
        /// The parser's complaint (empty body, malformed JSON), sent as the error body's `message`.
        message: String,
        /// How to fix it.
        hint: String,
    },
    /// The JSON does not match the request schema (wrong type, missing or unknown field).
    #[error("{message}")]
    Schema {
        /// Offending field, when known.
        field: Option<String>,
        /// The deserializer's complaint (wrong type, missing or unknown field), sent as `message`.
        message: String,
        /// The shape the endpoint expects, so the caller can fix the body or query.
        hint: &'static str,
    },
    /// A field breaks a rule.
    #[error("{field}: {rule}")]
    Validation {
        /// The request field that broke the rule, echoed as `field` in the JSON error body.
        field: String,
        /// What the field must be, worded to follow its name: the message reads `{field} {rule}`.
        rule: String,
        /// How to fix it.
        hint: String,
    },
    /// The body is larger than the limit.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The byte limit the body went over, quoted in the message so the caller knows what fits.
        limit: usize,
        /// What to send instead, in the words of the endpoint (a shorter question, a smaller
        /// document, ...).
        hint: &'static str,
    },
    /// No route (or embedded UI asset) at this path: a JSON 404 whose hint points to
    /// `GET /openapi.json`. Not counted as a service error: it is the caller's typo.
    #[error("no route {method} {path}")]
    NotFound {
        /// The request's HTTP method, quoted in the message so the caller sees what was tried.
        method: String,
        /// The request path as received, quoted in the message so a typo is easy to spot.
        path: String,
    },
    /// The route exists but not for this method.
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed {
        /// The method the caller used, which the route at `path` does not accept.
        method: String,
        /// The route that exists, but not for `method`.
        path: String,
        /// The methods it does accept, as the `Allow` header lists them (`GET, POST`).
        allow: &'static str,
    },
    /// An upload whose type cannot be ingested.
    #[error("cannot ingest content of type {got:?}")]
    UnsupportedMediaType {
        /// The content type (or file name) given.
        got: String,
    },
    /// The caller sent more chats than `chat.{scope}_rate_per_minute` allows.
    #[error("too many chats from this {scope}: at most {per_minute} a minute")]
    RateLimited {
        /// `client` (an IP address) or `user` (a `user_id`).
        scope: &'static str,
        /// The configured rate.
        per_minute: u32,
        /// When the next chat would be allowed.
        retry_after: std::time::Duration,
    },
    /// The client has more connections open than `server.max_connections_per_client`.
    #[error("too many connections from this client: at most {cap} at once")]
    TooManyConnections {
        /// The configured cap.
        cap: usize,
    },
    /// The user's estimated spend today reached `chat.user_daily_budget_usd`.
    #[error("the daily budget of ${budget} is spent (${spent:.4} today)")]
    BudgetSpent {
        /// The configured budget, USD per day.
        budget: f64,
        /// What was spent today, USD.
        spent: f64,
        /// Time until midnight UTC.
        retry_after: std::time::Duration,
    },
    /// `server.api_key` is set and the request does not carry it.
    #[error("this API requires a key: {reason}")]
    Unauthorized {
        /// `no key was sent` or `the key is wrong`.
        reason: &'static str,
    },
    /// The request body did not arrive in time (`server.body_timeout_ms`).
    #[error("the request body did not arrive within {ms} ms")]
    BodyTimeout {
        /// The deadline, milliseconds.
        ms: u128,
    },
    /// A chat request whose body is not declared as JSON.
    #[error("POST /v1/chat takes a JSON body; got Content-Type {got:?}")]
    NotJson {
        /// The content type given (empty when none).
        got: String,
    },
    /// No ingest job with this id (never existed, or its status expired).
    #[error("no ingest job {id}")]
    JobNotFound {
        /// The id asked for.
        id: String,
    },
    /// The ingest queue is full or unreachable.
    #[error(transparent)]
    QueueUnavailable(#[from] QueueError),
    /// A part of the API that this deployment has switched off.
    #[error("{feature} is off in this deployment")]
    FeatureDisabled {
        /// What is off, e.g. `the in-process trace store`.
        feature: &'static str,
        /// How to switch it on, or where to look instead.
        hint: &'static str,
    },
    /// An admin request from a caller the admin API does not serve.
    #[error("the admin API answers loopback callers only; {peer} is not one")]
    Forbidden {
        /// Who asked.
        peer: String,
    },
    /// A browser request from a web page of another origin, not in `server.allowed_origins`.
    #[error("requests from pages on {origin} are not allowed")]
    CrossOrigin {
        /// The `Origin` the browser sent.
        origin: String,
    },
    /// A request naming a host this app is not published under (`server.allowed_hosts`).
    #[error("this app does not serve the host name {host:?}")]
    UnknownHost {
        /// The `Host` header's name, without its port.
        host: String,
    },
    /// The request needs the simulator, and the LLM upstream is not one.
    #[error("{0}")]
    NoSimulator(String),
    /// No trace with this id in the in-process store.
    #[error("no trace {trace_id} in the store")]
    TraceNotFound {
        /// The id asked for.
        trace_id: String,
    },
    /// An imported trace the store already holds.
    #[error("the store already holds trace {trace_id}")]
    TraceExists {
        /// The imported trace's id.
        trace_id: String,
    },
    /// The vector store failed.
    #[error(transparent)]
    VectorStore(#[from] VectorStoreError),
    /// The LLM failed, after retries.
    #[error(transparent)]
    Llm(#[from] LlmError),
    /// The whole request took longer than its deadline.
    #[error("the request did not finish within its {ms} ms deadline")]
    Deadline {
        /// The whole-request deadline that passed (`chat.deadline_ms`), quoted in the message.
        ms: u64,
    },
    /// A bug or an unforeseen failure: a 500 without a hint, since the caller cannot fix it.
    #[error("internal error: {0}")]
    Unexpected(#[from] anyhow::Error),
}

impl ApiError {
    /// A rule violation on `field`.
    pub fn validation(field: &str, rule: &str, hint: &str) -> Self {
        Self::Validation {
            field: field.to_owned(),
            rule: rule.to_owned(),
            hint: hint.to_owned(),
        }
    }

    /// A body that cannot be read.
    pub fn bad_body(message: &str, hint: &str) -> Self {
        Self::BadBody {
            message: message.to_owned(),
            hint: hint.to_owned(),
        }
    }

    /// A body that is not JSON.
    pub fn bad_json(message: &str, hint: &str) -> Self {
        Self::BadJson {
            message: message.to_owned(),
            hint: hint.to_owned(),
        }
    }

    /// A body or query string that does not match its schema, naming the field when it is known.
    pub fn schema(field: Option<String>, message: &str, hint: &'static str) -> Self {
        Self::Schema {
            field,
            message: message.to_owned(),
            hint,
        }
    }

    /// The error's `type` in the JSON body; also the `ragtrace_errors_total` label.
    pub fn error_kind(&self) -> ErrorKind {
        use ErrorKind as K;
        match self {
            ApiError::BadBody { .. }
            | ApiError::BadJson { .. }
            | ApiError::Schema { .. }
            | ApiError::Validation { .. }
            | ApiError::PayloadTooLarge { .. }
            | ApiError::UnsupportedMediaType { .. }
            | ApiError::NotJson { .. }
            | ApiError::BodyTimeout { .. } => K::Validation,
            ApiError::JobNotFound { .. } | ApiError::TraceNotFound { .. } => K::NotFound,
            ApiError::QueueUnavailable(_) => K::Queue,
            ApiError::RateLimited { .. } | ApiError::TooManyConnections { .. } => K::RateLimited,
            ApiError::Unauthorized { .. } => K::Unauthorized,
            ApiError::BudgetSpent { .. } => K::Budget,
            ApiError::FeatureDisabled { .. } => K::FeatureDisabled,
            ApiError::Forbidden { .. }
            | ApiError::CrossOrigin { .. }
            | ApiError::UnknownHost { .. } => K::Forbidden,
            ApiError::NoSimulator(_) => K::NoSimulator,
            ApiError::TraceExists { .. } => K::Conflict,
            ApiError::NotFound { .. } => K::NotFound,
            ApiError::MethodNotAllowed { .. } => K::MethodNotAllowed,
            ApiError::VectorStore(_) => K::VectorStore,
            ApiError::Llm(LlmError::Timeout { .. }) => K::LlmTimeout,
            ApiError::Llm(LlmError::RateLimited { .. }) => K::LlmRateLimited,
            ApiError::Llm(
                LlmError::Upstream { .. }
                | LlmError::Rejected { .. }
                | LlmError::Unreachable { .. }
                | LlmError::Protocol(_),
            ) => K::LlmUpstream,
            ApiError::Deadline { .. } => K::Deadline,
            ApiError::Unexpected(_) => K::Internal,
        }
    }

    /// The error class as text: the body's `type`, the `type` label of `ragtrace_errors_total`
    /// and the span's `error.type`.
    pub fn kind(&self) -> &'static str {
        self.error_kind().as_str()
    }

    /// The offending field, if the error is about one.
    pub fn field(&self) -> Option<&str> {
        match self {
            ApiError::Schema { field, .. } => field.as_deref(),
            ApiError::Validation { field, .. } => Some(field),
            ApiError::BadBody { .. }
            | ApiError::BadJson { .. }
            | ApiError::PayloadTooLarge { .. }
            | ApiError::NotFound { .. }
            | ApiError::MethodNotAllowed { .. }
            | ApiError::UnsupportedMediaType { .. }
            | ApiError::NotJson { .. }
            | ApiError::BodyTimeout { .. }
            | ApiError::RateLimited { .. }
            | ApiError::TooManyConnections { .. }
            | ApiError::BudgetSpent { .. }
            | ApiError::Unauthorized { .. }
            | ApiError::JobNotFound { .. }
            | ApiError::QueueUnavailable(_)
            | ApiError::FeatureDisabled { .. }
            | ApiError::Forbidden { .. }
            | ApiError::CrossOrigin { .. }
            | ApiError::UnknownHost { .. }
            | ApiError::NoSimulator(_)
            | ApiError::TraceNotFound { .. }
            | ApiError::TraceExists { .. }
            | ApiError::VectorStore(_)
            | ApiError::Llm(_)
            | ApiError::Deadline { .. }
            | ApiError::Unexpected(_) => None,
        }
    }

    /// The body's `message`: the `Display` text, but a validation error reads `{field} {rule}`.
    pub fn message(&self) -> String {
        match self {
            // The field is a separate key in the body; the message says the rule.
            ApiError::Validation { field, rule, .. } => format!("{field} {rule}"),
            // The provider's own words stay out of the body (a provider that echoes a key in
            // its error would hand it to the caller); they are on the span and in the log.
            ApiError::Llm(LlmError::Upstream {
                status, attempts, ..
            }) => format!("the LLM provider failed with HTTP {status} after {attempts} attempts"),
            ApiError::Llm(LlmError::Rejected { status, .. }) => {
                format!("the LLM provider rejected the request with HTTP {status}")
            }
            ApiError::Llm(LlmError::Unreachable { attempts, .. }) => {
                format!("cannot reach the LLM provider ({attempts} attempts)")
            }
            ApiError::Llm(LlmError::Protocol(_)) => {
                "the LLM provider's response could not be read".to_owned()
            }
            // Every other message is ours, but may quote a backend (a vector store URL): it
            // passes the masking rules like a span would.
            other => ragtrace_core::telemetry::masking::mask(&other.to_string()).into_owned(),
        }
    }

    /// How to fix it, when there is something the caller can do.
    pub fn hint(&self) -> Option<String> {
        match self {
            ApiError::BadBody { hint, .. }
            | ApiError::BadJson { hint, .. }
            | ApiError::Validation { hint, .. } => Some(hint.clone()),
            ApiError::FeatureDisabled { hint, .. } => Some((*hint).to_owned()),
            ApiError::Forbidden { .. } => Some(
                "call it from the app's host, or set RAGTRACE__ADMIN__ALLOW_REMOTE=true where the network is trusted".into(),
            ),
            ApiError::CrossOrigin { .. } => Some(
                "this API takes requests from its own pages (/ui/) and from tools such as curl; to let a page on another origin call it, add that origin to server.allowed_origins (RAGTRACE__SERVER__ALLOWED_ORIGINS)".into(),
            ),
            ApiError::UnknownHost { .. } => Some(
                "call it by IP address or localhost, or add the name it is published under to server.allowed_hosts (RAGTRACE__SERVER__ALLOWED_HOSTS)".into(),
            ),
            ApiError::NoSimulator(_) => Some(
                "scenarios are the simulator's: point OPENAI_BASE_URL at ragtrace-sim, or switch them on the simulator itself".into(),
            ),
            ApiError::TraceNotFound { .. } => Some(
                "it was evicted (see the store's caps in GET /api/traces), not sampled, or is not finished yet; Jaeger may still have it".into(),
            ),
            ApiError::TraceExists { trace_id } => Some(format!(
                "open it with GET /api/traces/{trace_id} (or /ui/#/traces/{trace_id})"
            )),
            ApiError::Schema { hint, .. } => Some((*hint).to_owned()),
            ApiError::PayloadTooLarge { hint, .. } => Some((*hint).to_owned()),
            ApiError::UnsupportedMediaType { .. } => Some(
                "upload Markdown, plain text, HTML or PDF: a multipart `file` field, a raw body with Content-Type text/markdown, text/plain, text/html or application/pdf and ?name=, or JSON {\"name\", \"text\" | \"content_base64\"}".into(),
            ),
            ApiError::TooManyConnections { .. } => Some(
                "reuse fewer connections (keep-alive), or raise server.max_connections_per_client".into(),
            ),
            ApiError::Unauthorized { .. } => Some(
                "send the header Authorization: Bearer <key>, the value of server.api_key (RAGTRACE__SERVER__API_KEY); the UI asks for it".into(),
            ),
            ApiError::RateLimited { scope, .. } => Some(format!(
                "wait for Retry-After seconds; the limit is chat.{scope}_rate_per_minute"
            )),
            ApiError::BudgetSpent { .. } => Some(
                "the budget starts again at midnight UTC (Retry-After); it is chat.user_daily_budget_usd".into(),
            ),
            ApiError::BodyTimeout { .. } => Some(
                "send the body at once: it must arrive whole within server.body_timeout_ms".into(),
            ),
            ApiError::NotJson { .. } => Some(
                "send the header Content-Type: application/json (curl: -H 'content-type: application/json'); a page on another origin cannot, which is the point".into(),
            ),
            ApiError::JobNotFound { .. } => Some(
                "use the id returned by POST /v1/documents; statuses are kept for ingest.job_ttl_secs".into(),
            ),
            ApiError::QueueUnavailable(_) => {
                Some("the ingest queue is full or unreachable; retry shortly".into())
            }
            ApiError::NotFound { .. } | ApiError::MethodNotAllowed { .. } => Some(
                "the API is described at GET /openapi.json; the chat endpoint is POST /v1/chat, the UI is at /ui/".into(),
            ),
            ApiError::VectorStore(_) => Some(
                "the vector store is down or saturated; retry shortly, and check GET /readyz".into(),
            ),
            ApiError::Llm(LlmError::Rejected { .. }) => Some(
                "check OPENAI_API_KEY, OPENAI_BASE_URL and the model names in the configuration".into(),
            ),
            ApiError::Llm(_) | ApiError::Deadline { .. } => {
                Some("the LLM provider is slow or failing; retry shortly".into())
            }
            ApiError::Unexpected(_) => None,
        }
    }

    /// Counts this error in `ragtrace_errors_total`. Routing misses are not counted: they are
    /// the caller's typo, not the service's error.
    pub fn count(&self) {
        match self {
            ApiError::NotFound { .. }
            | ApiError::MethodNotAllowed { .. }
            | ApiError::JobNotFound { .. }
            | ApiError::TraceNotFound { .. }
            | ApiError::FeatureDisabled { .. }
            | ApiError::Forbidden { .. }
            | ApiError::CrossOrigin { .. }
            | ApiError::UnknownHost { .. }
            | ApiError::Unauthorized { .. }
            | ApiError::TraceExists { .. }
            | ApiError::NoSimulator(_) => {}
            _ => ragtrace_core::metrics::count_error(self.kind()),
        }
    }

    /// The JSON error body, `{"error": {"type", "message", "field"?, "hint"?}}`: the response
    /// body, and the data of the `error` event when a streamed answer fails.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                kind: self.error_kind(),
                message: self.message(),
                field: self.field().map(str::to_owned),
                hint: self.hint(),
            },
        }
    }
}

/// Every error response (and the data of a streamed `error` event).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Error, example = json!({"error": {
    "type": "validation",
    "message": "question must not be empty",
    "field": "question",
    "hint": "send a question such as {\"question\": \"How do I reset the Lumen Hub 2?\"}"
}}))]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The error itself.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// The error class; also the `type` label of `ragtrace_errors_total`.
    #[serde(rename = "type")]
    pub kind: ErrorKind,
    /// What went wrong.
    pub message: String,
    /// The offending field, present only when the error is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// How to fix it, present only when there is something the caller can do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// The error classes: the `type` of an error body.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request is malformed or breaks a rule (400, 408, 413, 415, 422).
    Validation,
    /// No such route, trace or job (404).
    NotFound,
    /// The route exists, the method does not (405).
    MethodNotAllowed,
    /// Too many requests from this client or user, or too many connections (429).
    RateLimited,
    /// The user's daily budget is spent (429).
    Budget,
    /// The API key is missing or wrong (401).
    Unauthorized,
    /// The caller may not do this from where it is (403).
    Forbidden,
    /// The feature is switched off in this deployment (404).
    FeatureDisabled,
    /// The LLM upstream is not ragtrace-sim (409).
    NoSimulator,
    /// The resource exists already (409).
    Conflict,
    /// The ingest queue is full or cannot write (503).
    Queue,
    /// The vector store failed (500, 503).
    VectorStore,
    /// Every LLM attempt timed out (504).
    LlmTimeout,
    /// The LLM provider kept answering 429 (502).
    LlmRateLimited,
    /// The LLM provider failed, was unreachable or answered nonsense (502).
    LlmUpstream,
    /// The request passed `chat.deadline_ms` (504).
    Deadline,
    /// A bug (500).
    Internal,
}

impl ErrorKind {
    /// Every class.
    pub const ALL: [ErrorKind; 17] = [
        Self::Validation,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::RateLimited,
        Self::Budget,
        Self::Unauthorized,
        Self::Forbidden,
        Self::FeatureDisabled,
        Self::NoSimulator,
        Self::Conflict,
        Self::Queue,
        Self::VectorStore,
        Self::LlmTimeout,
        Self::LlmRateLimited,
        Self::LlmUpstream,
        Self::Deadline,
        Self::Internal,
    ];

    /// The name the JSON body, the metric label and the span use.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Validation => "validation",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RateLimited => "rate_limited",
            Self::Budget => "budget",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::FeatureDisabled => "feature_disabled",
            Self::NoSimulator => "no_simulator",
            Self::Conflict => "conflict",
            Self::Queue => "queue",
            Self::VectorStore => "vector_store",
            Self::LlmTimeout => "llm_timeout",
            Self::LlmRateLimited => "llm_rate_limited",
            Self::LlmUpstream => "llm_upstream",
            Self::Deadline => "deadline",
            Self::Internal => "internal",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadBody { .. } | ApiError::BadJson { .. } => StatusCode::BAD_REQUEST,
            ApiError::Schema { .. } | ApiError::Validation { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::RateLimited { .. }
            | ApiError::BudgetSpent { .. }
            | ApiError::TooManyConnections { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotFound { .. }
            | ApiError::JobNotFound { .. }
            | ApiError::TraceNotFound { .. }
            | ApiError::FeatureDisabled { .. } => StatusCode::NOT_FOUND,
            ApiError::Forbidden { .. }
            | ApiError::CrossOrigin { .. }
            | ApiError::UnknownHost { .. } => StatusCode::FORBIDDEN,
            ApiError::NoSimulator(_) | ApiError::TraceExists { .. } => StatusCode::CONFLICT,
            ApiError::UnsupportedMediaType { .. } | ApiError::NotJson { .. } => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            ApiError::QueueUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::VectorStore(e) => match e {
                VectorStoreError::Unavailable(_)
                | VectorStoreError::Timeout(_)
                | VectorStoreError::PoolExhausted(_) => StatusCode::SERVICE_UNAVAILABLE,
                VectorStoreError::Dimension { .. } | VectorStoreError::Backend(_) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            },
            ApiError::Llm(e) => match e {
                LlmError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
                LlmError::RateLimited { .. }
                | LlmError::Upstream { .. }
                | LlmError::Rejected { .. }
                | LlmError::Unreachable { .. }
                | LlmError::Protocol(_) => StatusCode::BAD_GATEWAY,
            },
            ApiError::Deadline { .. } => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status_code()).json(self.body());
        if self.status_code() == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let ApiError::RateLimited { retry_after, .. }
        | ApiError::BudgetSpent { retry_after, .. } = self
        {
            // Whole seconds, rounded up: retrying at the given time succeeds.
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if let ApiError::Unauthorized { .. } = self {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ragtrace\""),
            );
        }
        if let ApiError::TooManyConnections { .. } = self {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let ApiError::BodyTimeout { .. } | ApiError::TooManyConnections { .. } = self {
            // The rest of the body may still be trickling in: the connection is not reusable.
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let ApiError::MethodNotAllowed { allow, .. } = self {
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if let ApiError::Llm(LlmError::RateLimited {
            retry_after_secs: Some(s),
            ..
        }) = self
        {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*s));
        }
        resp
    }
}

#[cfg(test)]
impl ApiError {
    /// Status as a number, for tests.
    pub fn status_code_u16(&self) -> u16 {
        ResponseError::status_code(self).as_u16()
    }
}
