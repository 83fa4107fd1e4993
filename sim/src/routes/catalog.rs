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
    /// `price` (cheapest first) or `rating` (best rated first) among the relevant products;
    /// relevance when left out.
    #[serde(default)]
    sort: Option<String>,
}

/// `GET /catalog/search?q=&limit=&sort=`: the best `limit` products (1 to 50, default 5) for
/// `q`, by relevance or, with `sort`, cheapest or best rated first among the relevant ones;
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
    let sort = match query.sort.as_deref() {
        None | Some("relevance") => crate::catalog::Sort::Relevance,
        Some("price") => crate::catalog::Sort::Price,
        Some("rating") => crate::catalog::Sort::Rating,
        Some(_) => {
            return Err(SimError::bad_request(
                &state,
                Endpoint::Catalog,
                "'sort' must be relevance, price or rating",
                "sort",
            ));
        }
    };
    let latency = apply_profile(&state, Endpoint::Catalog).await?;
    let results = state.catalog.search_sorted(q, limit, sort);
    tokio::time::sleep(latency).await;
    state.count(Endpoint::Catalog, "ok");
    Ok(
        HttpResponse::Ok().json(ragtrace_core::catalog::SearchResponse {
            query: q.to_owned(),
            results,
        }),
    )
}
