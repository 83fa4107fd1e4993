//! The external product-search API: its wire types and a client with a timeout, an HTTP client
//! span, `traceparent` injection, and an optional result cache (case study 1's fix). The chat
//! pipeline calls it as the GenAI tool `product_search` and makes the tool's span itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracing::Instrument as _;

use crate::cache::{Cache, catalog_key};
use crate::config::CatalogSettings;
use crate::semconv::attr;
use crate::telemetry::{inject_current, mark_failed};

/// A product of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// Stable id, e.g. `NL-0001`.
    pub id: String,
    /// Display name; the prompt quotes it and the answer lists it as the source title.
    pub name: String,
    /// Category: bulbs, strips, sensors, hubs, plugs, switches, cameras, accessories.
    pub category: String,
    /// Price in US dollars, given in the prompt so answers can quote it.
    pub price_usd: f64,
    /// Whether it can be ordered now.
    pub in_stock: bool,
    /// Average customer rating, 1-5.
    pub rating: f64,
    /// One or two sentences with the specs.
    pub description: String,
}

/// A product with its relevance to the query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredProduct {
    /// The product's fields, flattened into the same JSON object as `score` (the API's shape).
    #[serde(flatten)]
    pub product: Product,
    /// Relevance, higher is better.
    pub score: f32,
}

/// Response of `GET /catalog/search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResponse {
    /// The query as understood.
    pub query: String,
    /// Best matches first, as the API ranked them; the client keeps that order.
    pub results: Vec<ScoredProduct>,
}

/// Errors from the product search.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// No answer within the timeout.
    #[error("product search timed out after {0} ms")]
    Timeout(u64),
    /// The API answered with an error status.
    #[error("product search failed with HTTP {0}")]
    Status(u16),
    /// The API could not be reached or answered garbage.
    #[error("product search failed: {0}")]
    Transport(String),
}

/// What a product search found, and whether the result cache answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductSearch {
    /// Best matches first; the prompt lists them as `[P1]`, `[P2]`, ...
    pub products: Vec<ScoredProduct>,
    /// Whether the result cache answered; `None` when the cache is off.
    pub cache_hit: Option<bool>,
}

impl CatalogError {
    /// A short class for `error.type`: `timeout`, `http_status` or `transport`.
    pub fn kind(&self) -> &'static str {
        match self {
            CatalogError::Timeout(_) => "timeout",
            CatalogError::Status(_) => "http_status",
            CatalogError::Transport(_) => "transport",
        }
    }
}

/// The words that name the demo catalog's products (`data/catalog/products.json`): its product
/// lines and the kinds of thing it sells. A test checks every product's name holds one of them
/// or a model code.
#[rustfmt::skip]
pub const DEMO_PRODUCT_TERMS: &[&str] = &[
    // Product lines.
    "beam", "lumen", "orla", "vantor", "solenne", "tidewell", "quaylink", "brightfold",
    // Kinds of thing sold.
    "bulb", "bulbs", "plug", "plugs", "switch", "switches", "sensor", "sensors", "camera",
    "cameras", "cam", "hub", "hubs", "strip", "strips", "dimmer", "dimmers", "doorbell",
    "doorbells", "remote", "remotes", "lamp", "lamps", "accessory", "accessories", "probe",
    "alarm", "combo", "button", "buttons", "module", "panel", "panels", "cable", "cables",
    "batteries", "cells", "frame", "guide", "kit", "kits", "installer",
];

/// The order a question asks products in: by relevance, by price ("the cheapest plug") or by
/// rating ("the best rated remote"). Sent to the API as `sort=price|rating`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    /// The API's own relevance.
    #[default]
    Relevance,
    /// Cheapest first.
    Price,
    /// Best rated first.
    Rating,
}

impl Order {
    /// The order `question` (lower-case words) asks for.
    pub fn asked_in(question: &str) -> Self {
        let has = |w: &str| question.split(' ').any(|x| x == w);
        let phrase = |p: &str| question.contains(p);
        if has("cheapest") || has("cheaper") || phrase("lowest price") || phrase("least expensive")
        {
            Order::Price
        } else if phrase("best rated")
            || phrase("top rated")
            || phrase("highest rated")
            || phrase("best reviews")
            || phrase("best reviewed")
        {
            Order::Rating
        } else {
            Order::Relevance
        }
    }

    /// The API's `sort` value; `None` for relevance (the parameter is left out).
    pub fn param(self) -> Option<&'static str> {
        match self {
            Order::Relevance => None,
            Order::Price => Some("price"),
            Order::Rating => Some("rating"),
        }
    }
}

/// The product signal: whether a question names a product. Buying words alone are not enough
/// ("how much parental leave", "the learning budget"): the question must name a product line or
/// kind of the catalog, or a model code (a word of letters then digits, such as `P1`, `A60`,
/// `GU10`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductTerms(std::collections::BTreeSet<String>);

impl ProductTerms {
    /// The terms of `catalog.product_terms` (comma-separated), or the demo catalog's when empty.
    pub fn from_setting(csv: &str) -> Self {
        let given: std::collections::BTreeSet<String> = csv
            .split(',')
            .map(|t| t.trim().to_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        if given.is_empty() {
            Self(DEMO_PRODUCT_TERMS.iter().map(|t| (*t).to_owned()).collect())
        } else {
            Self(given)
        }
    }

    /// Whether `words` (lower-case) name a product.
    pub fn named_in<'a>(&self, words: impl IntoIterator<Item = &'a str>) -> bool {
        words
            .into_iter()
            .any(|w| self.0.contains(w) || is_model_code(w))
    }
}

/// `p1`, `a60`, `gu10`, `cr2032`: letters, then digits (and maybe more).
fn is_model_code(word: &str) -> bool {
    let letters = word.chars().take_while(char::is_ascii_alphabetic).count();
    (1..=3).contains(&letters)
        && word[letters..].starts_with(|c: char| c.is_ascii_digit())
        && word.chars().all(|c| c.is_ascii_alphanumeric())
}

impl CatalogSettings {
    /// The client for `base_url`, caching results in `cache` when `cache_enabled` is set.
    pub fn build(
        &self,
        base_url: &str,
        cache: Arc<dyn Cache>,
    ) -> Result<CatalogClient, CatalogError> {
        CatalogClient::new(self, base_url, cache)
    }
}

/// The product-search client: bounded by `catalog.timeout_ms`, traced, optionally cached.
#[derive(Clone)]
pub struct CatalogClient {
    http: reqwest::Client,
    base_url: String,
    limit: usize,
    timeout_ms: u64,
    cache: Arc<dyn Cache>,
    cache_ttl: Duration,
    // Shared by every clone, so switching the fix at run time reaches every request.
    cache_enabled: Arc<AtomicBool>,
}

impl std::fmt::Debug for CatalogClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogClient")
            .field("base_url", &self.base_url)
            .field("cached", &self.cached())
            .finish()
    }
}

impl CatalogClient {
    /// A client for `base_url` (the API's `/search` lives under it). With `settings.cache_enabled`
    /// results are cached in `cache`.
    pub fn new(
        settings: &CatalogSettings,
        base_url: &str,
        cache: Arc<dyn Cache>,
    ) -> Result<Self, CatalogError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.timeout_ms))
            .build()
            .map_err(|e| CatalogError::Transport(e.to_string()))?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            limit: settings.limit,
            timeout_ms: settings.timeout_ms,
            cache,
            cache_ttl: Duration::from_secs(settings.cache_ttl_secs),
            cache_enabled: Arc::new(AtomicBool::new(settings.cache_enabled)),
        })
    }

    /// Base URL, for the start-up banner.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Whether results are cached now.
    pub fn cached(&self) -> bool {
        self.cache_enabled.load(Ordering::Acquire)
    }

    /// Switches the result cache on or off for the next searches (case study 1's fix, applied
    /// to a running app).
    pub fn set_cached(&self, on: bool) {
        self.cache_enabled.store(on, Ordering::Release);
    }

    /// What this client calls and whether it caches, for the start-up banner.
    pub fn describe(&self) -> String {
        format!(
            "{} (result cache {})",
            self.base_url,
            if self.cached() { "on" } else { "off" }
        )
    }

    /// Searches products: from the result cache when it is on and holds the query, otherwise
    /// from the API (an HTTP client span), storing the answer in the cache. A cache that fails
    /// is skipped: the API still answers.
    pub async fn search(&self, query: &str, order: Order) -> Result<ProductSearch, CatalogError> {
        // A relevance search keeps the key it always had; an ordered one has its own.
        let key = match order.param() {
            None => catalog_key(query, self.limit),
            Some(sort) => catalog_key(&format!("{query}\nsort={sort}"), self.limit),
        };
        let cached = self.cached();
        let mut cache_hit = None;
        if cached {
            match self.cache.get(&key).await {
                Ok(Some(hit)) => {
                    if let Ok(products) = serde_json::from_str::<Vec<ScoredProduct>>(&hit) {
                        crate::metrics::count_cache("catalog", "hit");
                        return Ok(ProductSearch {
                            products,
                            cache_hit: Some(true),
                        });
                    }
                    crate::metrics::count_cache("catalog", "miss");
                }
                Ok(None) => crate::metrics::count_cache("catalog", "miss"),
                Err(e) => {
                    crate::metrics::count_cache("catalog", "error");
                    crate::metrics::count_error("cache");
                    tracing::warn!(error.type = e.kind(), "catalog cache lookup failed, calling the API: {e}");
                }
            }
            cache_hit = Some(false);
        }
        // Boxed: the HTTP client's future is large, and the pipeline's would carry it.
        let products = Box::pin(self.fetch(query, order)).await?;
        if cached {
            let value = serde_json::to_string(&products).unwrap_or_default();
            if let Err(e) = self.cache.set(&key, &value, self.cache_ttl).await {
                crate::metrics::count_error("cache");
                tracing::warn!(error.type = e.kind(), "catalog cache store failed: {e}");
            }
        }
        Ok(ProductSearch {
            products,
            cache_hit,
        })
    }

    async fn fetch(&self, query: &str, order: Order) -> Result<Vec<ScoredProduct>, CatalogError> {
        let mut url = reqwest::Url::parse(&format!("{}/search", self.base_url))
            .map_err(|e| CatalogError::Transport(format!("invalid catalog URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("q", query)
            .append_pair("limit", &self.limit.to_string());
        if let Some(sort) = order.param() {
            url.query_pairs_mut().append_pair("sort", sort);
        }
        // The query is the user's question: recorded as REDACTED, as the HTTP conventions advise
        // for sensitive query values.
        let mut shown = url.clone();
        shown
            .query_pairs_mut()
            .clear()
            .append_pair("q", "REDACTED")
            .append_pair("limit", &self.limit.to_string());
        if let Some(sort) = order.param() {
            shown.query_pairs_mut().append_pair("sort", sort);
        }
        let span = tracing::info_span!(
            "http.client",
            { attr::OTEL_NAME } = "GET",
            { attr::OTEL_KIND } = "client",
            { attr::HTTP_REQUEST_METHOD } = "GET",
            { attr::URL_FULL } = shown.as_str(),
            { attr::SERVER_ADDRESS } = url.host_str().unwrap_or_default(),
            { attr::SERVER_PORT } = url.port_or_known_default().map_or(0, i64::from),
            { attr::HTTP_RESPONSE_STATUS_CODE } = tracing::field::Empty,
            { attr::ERROR_TYPE } = tracing::field::Empty,
            { attr::OTEL_STATUS_CODE } = tracing::field::Empty,
            { attr::OTEL_STATUS_DESCRIPTION } = tracing::field::Empty,
        );
        async {
            let mut headers = http::HeaderMap::new();
            inject_current(&mut headers);
            let resp = self
                .http
                .get(url)
                .headers(headers)
                .send()
                .await
                .map_err(|e| {
                    let (kind, err) = if e.is_timeout() {
                        ("timeout", CatalogError::Timeout(self.timeout_ms))
                    } else {
                        ("connect", CatalogError::Transport(e.to_string()))
                    };
                    mark_failed(&tracing::Span::current(), kind, &err.to_string());
                    err
                })?;
            let status = resp.status();
            let current = tracing::Span::current();
            current.record(attr::HTTP_RESPONSE_STATUS_CODE, i64::from(status.as_u16()));
            if !status.is_success() {
                let err = CatalogError::Status(status.as_u16());
                mark_failed(&current, status.as_str(), &err.to_string());
                return Err(err);
            }
            let body: SearchResponse = resp.json().await.map_err(|e| {
                if e.is_timeout() {
                    CatalogError::Timeout(self.timeout_ms)
                } else {
                    CatalogError::Transport(format!("invalid response: {e}"))
                }
            })?;
            Ok(body.results)
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Every product of the shipped catalog is named by a demo term or a model code, so the
    /// default signal cannot drift from the catalog.
    #[test]
    fn every_demo_product_is_named_by_the_demo_terms() {
        let terms = ProductTerms::from_setting("");
        let products: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../../data/catalog/products.json")).unwrap();
        for p in &products {
            let name = p["name"].as_str().unwrap();
            let w = words(name);
            assert!(
                terms.named_in(w.iter().map(String::as_str)),
                "{name} is named by no term"
            );
        }
    }

    #[test]
    fn the_order_asked_for() {
        assert_eq!(
            Order::asked_in("what is the cheapest smart plug"),
            Order::Price
        );
        assert_eq!(Order::asked_in("which remote is best rated"), Order::Rating);
        assert_eq!(
            Order::asked_in("which smart plug has the best reviews"),
            Order::Rating
        );
        assert_eq!(
            Order::asked_in("how much is the beam bulb"),
            Order::Relevance
        );
        assert_eq!(Order::Relevance.param(), None);
    }

    #[test]
    fn model_codes_and_configured_terms_name_products() {
        let terms = ProductTerms::from_setting("");
        let named = |q: &str| terms.named_in(words(q).iter().map(String::as_str));
        assert!(named("what's the max load of the P1 UK?"));
        assert!(named("a60 or gu10"));
        assert!(!named("how much parental leave do I get"));
        assert!(!named("is 2fa required for the vpn"));
        let own = ProductTerms::from_setting(" Widget, gizmo ");
        assert!(own.named_in(["widget"]));
        assert!(!own.named_in(["bulb"]));
    }
}
