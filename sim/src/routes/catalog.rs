//! `GET /catalog/search`: the external product-search API of case study 1.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::SimState;
use crate::error::SimError;
use crate::fault::apply_profile;
use crate::profile::Endpoint;

/// The query string: what to search for, and how many results.
#[derive(Debug, Deserialize)]
pub struct CatalogQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    limit: Option<usize>,
}

/// `GET /catalog/search?q=&limit=`: the best `limit` products (1 to 50, default 5) for `q`,
/// answered after the catalog profile's latency.
pub async fn catalog_search(
    state: web::Data<SimState>,
    query: web::Query<CatalogQuery>,
) -> Result<HttpResponse, SimError> {
    let q = query.q.trim();
    if q.is_empty() {
        return Err(SimError::bad_request(
            &state,
            Endpoint::Catalog,
            "query parameter 'q' is required, e.g. /catalog/search?q=motion+sensor",
            "q",
        ));
    }
    let limit = query.limit.unwrap_or(5);
    if !(1..=50).contains(&limit) {
        return Err(SimError::bad_request(
            &state,
            Endpoint::Catalog,
            "'limit' must be between 1 and 50",
            "limit",
        ));
    }
    let latency = apply_profile(&state, Endpoint::Catalog).await?;
    let results = state.catalog.search(q, limit);
    tokio::time::sleep(latency).await;
    state.count(Endpoint::Catalog, "ok");
    Ok(
        HttpResponse::Ok().json(ragtrace_core::catalog::SearchResponse {
            query: q.to_owned(),
            results,
        }),
    )
}
