//! `[catalog]`: the external product-search API and its result cache (case study 1's fix). Every key is explained, with its default, in
//! `core/config/default.toml`.

use serde::Deserialize;

/// `[catalog]`: the external product-search API behind the chat's `product_search` tool.
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogSettings {
    /// Base URL of the catalog API (its `/search` lives under it); empty = built-in simulator.
    pub base_url: String,
    /// Total timeout of one product search; past it the answer goes on without products.
    pub timeout_ms: u64,
    /// Products asked for per search (the API's `limit`); they join the passages in the prompt.
    pub limit: usize,
    /// Cache search results (case study 1's fix).
    pub cache_enabled: bool,
    /// Lifetime of a cached search result.
    pub cache_ttl_secs: u64,
    /// The words that name the catalog's products (product lines and kinds), comma-separated:
    /// a question calls the product search only when it names one and asks about buying. Empty
    /// = the built-in demo catalog's ([`crate::catalog::DEMO_PRODUCT_TERMS`]).
    pub product_terms: String,
}
