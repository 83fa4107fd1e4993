//! The simulator's one error type, written out once in OpenAI's shape
//! (`{"error": {message, type, param, code}}`), which async-openai and the official SDKs parse
//! into typed errors.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};

use crate::SimState;
use crate::profile::Endpoint;

/// What a simulated endpoint can answer instead of a result.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A request the real API would refuse (400), naming the offending parameter.
    #[error("{message}")]
    BadRequest {
        /// What the request got wrong, sent as OpenAI's `error.message`.
        message: String,
        /// The offending parameter, when there is one.
        param: Option<String>,
    },
    /// An upload over the API's size limit (413).
    #[error("{message}")]
    TooLarge {
        /// The size limit that was passed and how to stay under it, sent as `error.message`.
        message: String,
    },
    /// No such route, endpoint or scenario (404).
    #[error("{message}")]
    NotFound {
        /// The valid routes, endpoints or scenarios instead, so the caller can fix the request.
        message: String,
        /// The path parameter that named nothing, when there is one.
        param: Option<&'static str>,
    },
    /// A value that parses but breaks a rule (422).
    #[error("{message}")]
    Unprocessable {
        /// The rule the value breaks (a `ProfileError` as `field: rule`), sent as `error.message`.
        message: String,
        /// The offending `endpoint.key` (e.g. `chat.error_rate`), sent as `error.param`.
        param: String,
    },
    /// A simulated hang that has run its course (504).
    #[error("simulated hang ended")]
    Hang,
    /// A simulated rate limit, or a concurrency limit reached (429 with `Retry-After`).
    #[error("{message}")]
    RateLimited {
        /// Which limit refused it (simulated rate limit or audio slots), sent as `error.message`.
        message: String,
        /// Seconds to wait before retrying.
        retry_after_secs: u64,
    },
    /// A simulated server error (500).
    #[error("The server had an error while processing your request (simulated by ragtrace-sim).")]
    ServerError,
    /// A change sent by a web page (403): the admin API is for tools, not for browsers.
    #[error(
        "the simulator's admin API does not take changes from web pages (Origin {origin}); use curl, the lab or the app's UI"
    )]
    FromBrowser {
        /// The `Origin` the browser sent.
        origin: String,
    },
}

impl SimError {
    /// A 400 for a request to `endpoint`, counted as `bad_request`.
    pub fn bad_request(
        state: &SimState,
        endpoint: Endpoint,
        message: impl Into<String>,
        param: &str,
    ) -> Self {
        state.count(endpoint, "bad_request");
        Self::BadRequest {
            message: message.into(),
            param: Some(param.to_owned()),
        }
    }

    /// OpenAI's `type` of the error.
    fn kind(&self) -> &'static str {
        match self {
            SimError::BadRequest { .. }
            | SimError::TooLarge { .. }
            | SimError::NotFound { .. }
            | SimError::Unprocessable { .. } => "invalid_request_error",
            SimError::FromBrowser { .. } => "permission_error",
            SimError::Hang => "timeout",
            SimError::RateLimited { .. } => "requests",
            SimError::ServerError => "server_error",
        }
    }

    fn param(&self) -> Option<&str> {
        match self {
            SimError::BadRequest { param, .. } => param.as_deref(),
            SimError::TooLarge { .. } => Some("file"),
            SimError::NotFound { param, .. } => *param,
            SimError::Unprocessable { param, .. } => Some(param),
            SimError::Hang
            | SimError::RateLimited { .. }
            | SimError::ServerError
            | SimError::FromBrowser { .. } => None,
        }
    }
}

impl ResponseError for SimError {
    fn status_code(&self) -> StatusCode {
        match self {
            SimError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            SimError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            SimError::NotFound { .. } => StatusCode::NOT_FOUND,
            SimError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            SimError::Hang => StatusCode::GATEWAY_TIMEOUT,
            SimError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            SimError::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            SimError::FromBrowser { .. } => StatusCode::FORBIDDEN,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status_code()).json(json!({
            "error": {
                "message": self.to_string(),
                "type": self.kind(),
                "param": self.param(),
                "code": Value::Null,
            }
        }));
        if let SimError::RateLimited {
            retry_after_secs, ..
        } = self
        {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        resp
    }
}
