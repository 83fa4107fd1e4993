//! The three case studies: what each runs, with which settings in each phase, and which
//! questions its users ask.

use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::load::{LoadPlan, LoadStage};

/// A case study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Case {
    /// Case study 1: a chatbot slowed by an external product-search API; fixed by caching its
    /// results and calling it beside the vector search.
    Chatbot,
    /// Case study 2: a document search whose vector-store connections saturate under load;
    /// fixed by sizing the pool and building the index.
    DocSearch,
    /// Case study 3: a meeting-transcription batch job whose chunking blows up memory; fixed by
    /// bounded batches.
    Transcription,
}

/// Before or after the fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// With the problem.
    Before,
    /// With the fix.
    After,
}

impl Case {
    /// The name on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Case::Chatbot => "chatbot",
            Case::DocSearch => "doc-search",
            Case::Transcription => "transcription",
        }
    }

    /// The simulator scenario the case runs in.
    pub fn scenario(self) -> &'static str {
        match self {
            Case::Chatbot => "slow-catalog",
            Case::DocSearch => "afternoon",
            Case::Transcription => "healthy",
        }
    }

    /// The fixes in force in `phase` (the body of `PUT /admin/fixes`).
    pub fn fixes(self, phase: Phase) -> serde_json::Value {
        let after = phase == Phase::After;
        match self {
            Case::Chatbot => serde_json::json!({
                "catalog_cache": after,
                "parallel_product_search": after,
            }),
            Case::DocSearch => serde_json::json!({
                "vector_store_pool_size": if after { 16 } else { 1 },
            }),
            Case::Transcription => serde_json::json!({}),
        }
    }

    /// The default load: `requests` at most, `duration` seconds at most, `users` at most.
    pub fn plan(
        self,
        requests: Option<u64>,
        duration: Option<u64>,
        users: Option<usize>,
    ) -> LoadPlan {
        match self {
            // A few shoppers at once, each waiting for the answer before asking again.
            Case::Chatbot => LoadPlan {
                stages: vec![LoadStage {
                    users: users.unwrap_or(4),
                    secs: 1.0,
                }],
                think_ms: 0,
                max_requests: Some(requests.unwrap_or(40)),
                max_secs: duration.unwrap_or(110),
            },
            // The afternoon: users ramp up, stay, then a spike.
            Case::DocSearch => {
                let peak = users.unwrap_or(64);
                LoadPlan {
                    stages: vec![
                        LoadStage {
                            users: peak,
                            secs: 15.0,
                        },
                        LoadStage {
                            users: peak,
                            secs: 35.0,
                        },
                        LoadStage {
                            users: peak + peak / 2,
                            secs: 5.0,
                        },
                        LoadStage {
                            users: peak + peak / 2,
                            secs: 10.0,
                        },
                    ],
                    think_ms: 200,
                    max_requests: requests,
                    max_secs: duration.unwrap_or(65),
                }
            }
            Case::Transcription => LoadPlan {
                stages: vec![],
                think_ms: 0,
                max_requests: Some(0),
                max_secs: 0,
            },
        }
    }
}

impl Case {
    /// Questions asked before measuring, and not measured: one about each of the most popular
    /// products, the way a shop's product-search cache is warm by the afternoon. Asked in both
    /// phases (before the fix the cache is off, so they only cost time).
    pub fn warmup(self) -> Vec<String> {
        match self {
            Case::Chatbot => PRODUCTS[..8]
                .iter()
                .map(|p| BUYING[0].replace("{}", p))
                .collect(),
            Case::DocSearch | Case::Transcription => Vec::new(),
        }
    }
}

/// Products shoppers ask about, most popular first (questions pick them with a Zipf-like skew,
/// so popular products recur, as in a real shop).
const PRODUCTS: [&str; 16] = [
    "Beam bulb",
    "Lumen Hub 2",
    "motion sensor",
    "smart plug",
    "LED strip",
    "dimmer switch",
    "door sensor",
    "indoor camera",
    "filament bulb",
    "outdoor plug",
    "light strip controller",
    "water leak sensor",
    "doorbell camera",
    "bulb multipack",
    "wall switch",
    "hub power adapter",
];

/// Ways of asking for a price: buying and filler words only, so every wording of one product
/// searches (and caches) the same product query.
const BUYING: [&str; 6] = [
    "How much does the {} cost?",
    "What is the price of the {}?",
    "Can you tell me the price of the {}?",
    "How much is the {}?",
    "Please tell me what the {} costs.",
    "Which {} do you sell, and at what price?",
];

/// Questions about the documents (HR, IT, product manuals).
const DOCS: [&str; 12] = [
    "How do I reset the Lumen Hub 2?",
    "How many weeks of paid parental leave does a birth parent get?",
    "How long are print jobs kept?",
    "How do I connect to the office VPN?",
    "What is the travel expense limit for hotels?",
    "How do I update the firmware of a Beam bulb?",
    "Who approves remote work requests?",
    "How do I pair a motion sensor with the hub?",
    "What should I do if my laptop is stolen?",
    "How many vacation days do new employees get?",
    "How do I book a meeting room?",
    "What does the blinking blue light on the hub mean?",
];

/// The `n`-th question of a run of `case`: shoppers in the chatbot (with one document question in
/// four), employees searching the documents in doc-search. `salt` makes one run's questions
/// differ from another's.
pub fn question(case: Case, n: u64, salt: u64) -> String {
    let mut rng = rand::rng();
    match case {
        Case::Chatbot if n % 4 == 3 => DOCS[rng.random_range(0..DOCS.len())].to_owned(),
        Case::Chatbot => {
            // Zipf-like: product k with weight 1/(k+1).
            let weights: Vec<f64> = (0..PRODUCTS.len())
                .map(|k| 1.0 / (k as f64 + 1.0))
                .collect();
            let total: f64 = weights.iter().sum();
            let mut x = rng.random_range(0.0..total);
            let mut k = 0;
            while x > weights[k] && k + 1 < PRODUCTS.len() {
                x -= weights[k];
                k += 1;
            }
            BUYING[rng.random_range(0..BUYING.len())].replace("{}", PRODUCTS[k])
        }
        // Distinct per request and per run, so the answer cache never answers.
        Case::DocSearch => format!(
            "{} (request {n} of run {salt:x})",
            DOCS[(n as usize) % DOCS.len()]
        ),
        Case::Transcription => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every wording of a buying question mentions its product, and popular products recur.
    #[test]
    fn chatbot_questions_recur_on_popular_products() {
        let qs: Vec<String> = (0..400).map(|n| question(Case::Chatbot, n, 1)).collect();
        let beam = qs.iter().filter(|q| q.contains("Beam bulb")).count();
        let last = qs
            .iter()
            .filter(|q| q.contains("hub power adapter"))
            .count();
        assert!(beam > 3 * last.max(1), "Beam bulb {beam} vs adapter {last}");
        assert!(
            qs.iter()
                .any(|q| q.starts_with("How do I") || q.starts_with("How many"))
        );
    }
}
