//! Where the LLM provider and the product-search API are: configured URLs, or the built-in
//! simulator, started in-process for whichever is not configured.
//!
//! The app and `ragtrace-ingest` both resolve their upstreams here, so the embedded simulator is
//! wired in one place. It sits behind the cargo feature `embedded-sim` (on by default): a build
//! without it, such as the Docker image, which talks to real services, does not compile the
//! simulator at all, and says so when an upstream is left unconfigured.

use ragtrace_core::config::Settings;

/// The base URLs of the services a binary calls, and the simulator standing in for them.
#[derive(Debug)]
pub struct Upstreams {
    /// OpenAI-compatible base URL, ending in `/v1`.
    pub llm: String,
    /// The product-search API's base URL (its `/search` lives under it); empty when the
    /// binary does not call it.
    pub catalog: String,
    llm_simulated: bool,
    catalog_simulated: bool,
    #[cfg(feature = "embedded-sim")]
    sim: Option<ragtrace_sim::RunningSim>,
}

impl Upstreams {
    /// The app's upstreams: the LLM and the product-search API. Must run inside an actix system
    /// (the embedded simulator is an actix server).
    pub fn for_app(settings: &Settings) -> anyhow::Result<Self> {
        Self::resolve(settings, true)
    }

    /// Whether the built-in simulator answers for the LLM or the product-search API.
    pub fn simulated(&self) -> bool {
        self.llm_simulated || self.catalog_simulated
    }

    /// `ragtrace-ingest`'s upstream: the LLM only (embeddings and transcription).
    pub fn for_ingest(settings: &Settings) -> anyhow::Result<Self> {
        Self::resolve(settings, false)
    }

    fn resolve(settings: &Settings, catalog: bool) -> anyhow::Result<Self> {
        let llm_simulated = settings.llm.base_url.is_empty();
        let catalog_simulated = catalog && settings.catalog.base_url.is_empty();
        #[cfg(feature = "embedded-sim")]
        {
            let sim = if llm_simulated || catalog_simulated {
                Some(ragtrace_sim::start_embedded(
                    &settings.simulator.profile,
                    settings.vector_store.dimension,
                )?)
            } else {
                None
            };
            let pick = |configured: &str,
                        simulated: bool,
                        url: fn(&ragtrace_sim::RunningSim) -> String| {
                match (&sim, simulated) {
                    (Some(s), true) => url(s),
                    _ => configured.to_owned(),
                }
            };
            Ok(Self {
                llm: pick(
                    &settings.llm.base_url,
                    llm_simulated,
                    ragtrace_sim::RunningSim::openai_base_url,
                ),
                catalog: if catalog {
                    pick(
                        &settings.catalog.base_url,
                        catalog_simulated,
                        ragtrace_sim::RunningSim::catalog_base_url,
                    )
                } else {
                    String::new()
                },
                llm_simulated,
                catalog_simulated,
                sim,
            })
        }
        #[cfg(not(feature = "embedded-sim"))]
        {
            anyhow::ensure!(
                !llm_simulated,
                "no LLM provider is configured (set OPENAI_API_KEY, or OPENAI_BASE_URL for an \
                 OpenAI-compatible server), and this build has no embedded simulator (it was \
                 built without the `embedded-sim` feature)"
            );
            anyhow::ensure!(
                !catalog_simulated,
                "no product-search API is configured (set RAGTRACE__CATALOG__BASE_URL), and this \
                 build has no embedded simulator (it was built without the `embedded-sim` feature)"
            );
            Ok(Self {
                llm: settings.llm.base_url.clone(),
                catalog: if catalog {
                    settings.catalog.base_url.clone()
                } else {
                    String::new()
                },
                llm_simulated,
                catalog_simulated,
            })
        }
    }

    /// The LLM client's own description, prefixed when it is the built-in simulator.
    pub fn describe_llm(&self, described: String) -> String {
        simulated(self.llm_simulated, described)
    }

    /// The product-search client's own description, prefixed when it is the simulator.
    pub fn describe_catalog(&self, described: String) -> String {
        simulated(self.catalog_simulated, described)
    }

    /// Stops the embedded simulator, if one runs. `graceful` lets its requests in flight finish.
    pub async fn stop(self, graceful: bool) {
        #[cfg(feature = "embedded-sim")]
        if let Some(sim) = self.sim {
            sim.handle.stop(graceful).await;
        }
        #[cfg(not(feature = "embedded-sim"))]
        let _ = graceful;
    }
}

fn simulated(simulated: bool, described: String) -> String {
    if simulated {
        format!("built-in simulator at {described}")
    } else {
        described
    }
}
