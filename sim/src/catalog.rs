//! The product catalog served by `GET /catalog/search`: `data/catalog/products.json`, compiled
//! into the binary so the simulator runs from any directory.

use ragtrace_core::catalog::{Product, ScoredProduct};

use crate::embeddings::content_words;

/// The shipped catalog (JSON).
pub const CATALOG_JSON: &str = include_str!("../../data/catalog/products.json");

/// An in-memory product catalog with keyword search.
#[derive(Debug, Clone)]
pub struct Catalog {
    products: Vec<(Product, Vec<String>, Vec<String>)>,
}

impl Catalog {
    /// The compiled-in `data/catalog/products.json`; panics only if that file does not parse.
    pub fn shipped() -> Self {
        Self::from_json(CATALOG_JSON).expect("data/catalog/products.json is valid")
    }

    /// A catalog from a JSON array of products.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        let products: Vec<Product> = serde_json::from_str(json)?;
        Ok(Self {
            products: products
                .into_iter()
                .map(|p| {
                    let title = content_words(&format!("{} {}", p.name, p.category));
                    let body = content_words(&p.description);
                    (p, title, body)
                })
                .collect(),
        })
    }

    /// How many products the catalog holds; a test checks the shipped file loads a few hundred.
    pub fn len(&self) -> usize {
        self.products.len()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }

    /// The `limit` best matches of `query`: words in the name or category count three times as
    /// much as words in the description; ties go to the better-rated product.
    pub fn search(&self, query: &str, limit: usize) -> Vec<ScoredProduct> {
        self.search_sorted(query, limit, Sort::Relevance)
    }

    /// [`Self::search`], then, for `Sort::Price` or `Sort::Rating`, the relevant products
    /// cheapest or best rated first. Relevant, for a sort, is the kind the question names: its
    /// category ("the cheapest smart plug" is among the plugs, whatever their descriptions
    /// say), else the products whose name holds as many of its words as the best one's does;
    /// packs only when asked for.
    pub fn search_sorted(&self, query: &str, limit: usize, sort: Sort) -> Vec<ScoredProduct> {
        // Digits count ("Lumen Hub 2"); other one-letter words do not.
        let q: Vec<String> = content_words(query)
            .into_iter()
            .map(|w| w.trim_end_matches('s').to_owned())
            .filter(|w| w.len() > 1 || w.chars().all(|c| c.is_ascii_digit()))
            .collect();
        if q.is_empty() {
            return Vec::new();
        }
        let matches =
            |words: &[String], w: &str| words.iter().any(|x| x.trim_end_matches('s') == w);
        // Packs and multi-packs only when asked for.
        let wants_pack = q.iter().any(|w| w == "pack" || w.ends_with("pack"));
        // The categories the question names ("plug" → plugs), and its words in a product's name.
        let kinds: Vec<&str> = self
            .products
            .iter()
            .map(|(p, _, _)| p.category.as_str())
            .filter(|c| q.iter().any(|w| c.trim_end_matches('s') == w))
            .collect();
        let named = |title: &[String]| q.iter().filter(|w| matches(title, w)).count();
        let most_named = self
            .products
            .iter()
            .map(|(_, title, _)| named(title))
            .max()
            .unwrap_or(0);
        let mut scored: Vec<ScoredProduct> = self
            .products
            .iter()
            .filter(|(p, title, _)| {
                // A sort ranks the named kind of product only.
                let kind = if kinds.is_empty() {
                    named(title) == most_named
                } else {
                    kinds.contains(&p.category.as_str())
                };
                sort == Sort::Relevance
                    || most_named == 0
                    || (kind && (wants_pack || !title.iter().any(|t| t.ends_with("pack"))))
            })
            .filter_map(|(p, title, body)| {
                let score: f32 = q
                    .iter()
                    .map(|w| {
                        // A word in the name counts three times; only in the description, once.
                        if matches(title, w) {
                            3.0
                        } else if matches(body, w) {
                            1.0
                        } else {
                            0.0
                        }
                    })
                    .sum();
                if score == 0.0 {
                    return None;
                }
                // The product asked about outranks its packs and its accessories: every word of
                // the name the question did not ask for costs a little.
                let extra = title
                    .iter()
                    .filter(|t| !q.iter().any(|w| t.trim_end_matches('s') == w))
                    .count();
                let pack = title.iter().any(|t| t.ends_with("pack")) && !wants_pack;
                let score = score / (3.0 * q.len() as f32)
                    - 0.02 * extra as f32
                    - if pack { 0.1 } else { 0.0 };
                Some(ScoredProduct {
                    product: p.clone(),
                    score: score.max(0.001),
                })
            })
            .collect();
        // Ties: what can be bought now first, then the catalog's order (its flagship first).
        scored.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(b.product.in_stock.cmp(&a.product.in_stock))
                .then_with(|| a.product.id.cmp(&b.product.id))
        });
        if sort != Sort::Relevance
            && let Some(best) = scored.first().map(|s| s.score)
        {
            // Without a named kind, the products that match at least half as well as the best.
            if most_named == 0 {
                scored.retain(|s| s.score >= best * 0.5);
            }
            match sort {
                Sort::Price => {
                    scored.sort_by(|a, b| a.product.price_usd.total_cmp(&b.product.price_usd))
                }
                _ => scored.sort_by(|a, b| b.product.rating.total_cmp(&a.product.rating)),
            }
        }
        scored.truncate(limit);
        scored
    }
}

/// The order of `GET /catalog/search`'s results (`sort=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Best match first.
    Relevance,
    /// Cheapest first, among the relevant products.
    Price,
    /// Best rated first, among the relevant products.
    Rating,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped catalog loads and has a few hundred products.
    #[test]
    fn shipped_catalog_loads() {
        let c = Catalog::shipped();
        assert!(c.len() >= 200, "{}", c.len());
    }

    /// Search ranks name matches first and respects the limit.
    #[test]
    fn search_ranks_and_limits() {
        let c = Catalog::shipped();
        let r = c.search("motion sensor", 3);
        assert_eq!(r.len(), 3);
        assert!(
            r[0].product.name.to_lowercase().contains("motion")
                || r[0].product.category == "sensors",
            "{:?}",
            r[0].product
        );
        assert!(r.windows(2).all(|w| w[0].score >= w[1].score));
        assert!(c.search("zzzz qqqq", 5).is_empty());
    }

    /// The product asked about comes before its packs and its accessories; digits in a name
    /// count.
    #[test]
    fn the_product_named_outranks_its_packs_and_accessories() {
        let c = Catalog::shipped();
        let first = |q: &str| c.search(q, 5)[0].product.name.clone();
        assert_eq!(first("beam bulb"), "Beam White A60");
        assert_eq!(first("lumen hub 2"), "Lumen Hub 2 (EU)");
        assert!(!first("beam white a60").contains("pack"));
        assert!(first("beam white a60 2 pack").contains("2-pack"));
    }

    /// Sorted by price or rating, among the products that match.
    #[test]
    fn sorts_the_relevant_products_by_price_or_rating() {
        let c = Catalog::shipped();
        let cheap = c.search_sorted("smart plug", 5, Sort::Price);
        assert!(
            cheap
                .windows(2)
                .all(|w| w[0].product.price_usd <= w[1].product.price_usd)
        );
        assert!(
            cheap[0].product.category == "plugs",
            "{:?}",
            cheap[0].product
        );
        let rated = c.search_sorted("smart plug", 5, Sort::Rating);
        assert!(
            rated
                .windows(2)
                .all(|w| w[0].product.rating >= w[1].product.rating)
        );
        // The cheapest and the best rated of the kind named, whatever their descriptions say
        // and the question's other words; no pack unless asked for.
        let first = |q: &str, sort| c.search_sorted(q, 5, sort)[0].product.name.clone();
        assert_eq!(
            first("what's the cheapest smart plug you sell", Sort::Price),
            "Plug P1 Mini EU"
        );
        assert_eq!(
            first("which smart plug has the best reviews", Sort::Rating),
            "Plug P1 Heavy Duty EU"
        );
        assert_eq!(first("cheapest smart bulb", Sort::Price), "Beam White GU10");
        assert!(
            c.search_sorted("best rated plug", 50, Sort::Rating)
                .iter()
                .all(|s| !s.product.name.contains("pack"))
        );
    }
}
