//! The admin API: each endpoint's latency and fault profile, and the named scenarios that set
//! them all at once.

use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::SimState;
use crate::error::SimError;
use crate::profile::{Endpoint, ProfilePatch, Scenario};

/// `GET /admin/profiles`: every endpoint's current profile, keyed by endpoint name.
pub async fn get_profiles(state: web::Data<SimState>) -> HttpResponse {
    let p = state
        .profiles
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    HttpResponse::Ok().json(p)
}

/// Refuses a change sent by a web page: browsers send `Origin` with every POST and PUT, tools
/// do not, and a page on any site could otherwise switch the simulator's faults on.
fn not_from_a_browser(req: &HttpRequest) -> Result<(), SimError> {
    match req.headers().get(actix_web::http::header::ORIGIN) {
        Some(origin) => Err(SimError::FromBrowser {
            origin: origin.to_str().unwrap_or("(not text)").to_owned(),
        }),
        None => Ok(()),
    }
}

/// `PUT /admin/profiles/{endpoint}`: patches one endpoint's profile.
pub async fn put_profile(
    req: HttpRequest,
    state: web::Data<SimState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, SimError> {
    not_from_a_browser(&req)?;
    let endpoint = Endpoint::parse(&path).ok_or(SimError::NotFound {
        message: "unknown endpoint; one of chat, embeddings, models, catalog".into(),
        param: Some("endpoint"),
    })?;
    let patch: ProfilePatch = serde_json::from_slice(&body).map_err(|e| SimError::BadRequest {
        message: format!(
            "invalid profile: {e}; fields: latency_ms, jitter_ms, error_rate, rate_limit_rate, hang_rate, retry_after_secs, hang_ms"
        ),
        param: None,
    })?;
    let result = state
        .profiles
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .patch(endpoint, &patch);
    let p = result.map_err(|e| SimError::Unprocessable {
        message: e.to_string(),
        param: e.field.clone(),
    })?;
    tracing::info!(endpoint = endpoint.as_str(), ?p, "profile changed");
    Ok(HttpResponse::Ok().json(p))
}

/// `GET /admin/requests`: what this simulator has served, by endpoint and outcome.
pub async fn requests(state: web::Data<SimState>) -> HttpResponse {
    HttpResponse::Ok().json(state.requests())
}

/// `GET /admin/scenarios`: each scenario's name and one-line description, to pick a drill.
pub async fn list_scenarios() -> HttpResponse {
    let list: Vec<Value> = Scenario::ALL
        .iter()
        .map(|s| json!({"name": s.as_str(), "description": s.description()}))
        .collect();
    HttpResponse::Ok().json(list)
}

/// `POST /admin/scenarios/{name}`: replaces every profile with the scenario's.
pub async fn set_scenario(
    req: HttpRequest,
    state: web::Data<SimState>,
    path: web::Path<String>,
) -> Result<HttpResponse, SimError> {
    not_from_a_browser(&req)?;
    let s = Scenario::parse(&path).ok_or_else(|| SimError::NotFound {
        message: format!("unknown scenario; one of {}", Scenario::names()),
        param: Some("name"),
    })?;
    let profiles = s.profiles();
    *state.profiles.write().unwrap_or_else(|p| p.into_inner()) = profiles.clone();
    tracing::info!(scenario = s.as_str(), "scenario set");
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .json(json!({"scenario": s.as_str(), "profiles": profiles})))
}
