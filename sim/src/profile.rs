//! Latency and fault profiles, one per simulated endpoint, changeable at run time.
//!
//! A profile is: mean latency, jitter, error rate (HTTP 500), rate-limit rate (HTTP 429 with
//! `Retry-After`) and hang rate (the request never answers; the caller's timeout must fire).
//! Profiles are set at start (`--profile` / `RAGTRACE_SIM_PROFILE`, e.g.
//! `catalog.latency_ms=6000,chat.error_rate=0.1`) and changed through the admin API, like
//! HotROD's simulated services, so a scenario is one command.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// The simulated endpoints, each with its own [`Profile`]; named in snake case (`chat`, `audio`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `POST /v1/chat/completions`, plain or streamed: the LLM call of a chat request.
    Chat,
    /// `POST /v1/embeddings`: embeds questions at chat time and chunks at ingest time.
    Embeddings,
    /// `GET /v1/models`: lists the four `sim-` models (chat, embedding and transcription).
    Models,
    /// `GET /catalog/search`: the product-search tool; about 6 s in the `slow-catalog` scenario.
    Catalog,
    /// `POST /v1/audio/transcriptions`. Its `latency_ms` is per minute of audio.
    Audio,
}

impl Endpoint {
    /// Every endpoint, for parsing names and building a full set of profiles.
    pub const ALL: [Endpoint; 5] = [
        Endpoint::Chat,
        Endpoint::Embeddings,
        Endpoint::Models,
        Endpoint::Catalog,
        Endpoint::Audio,
    ];

    /// Name used in profiles, the admin API and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Models => "models",
            Endpoint::Catalog => "catalog",
            Endpoint::Audio => "audio",
        }
    }

    /// Parses a profile's endpoint name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// How one endpoint behaves: latency, fault rates and concurrency limit, changeable at run time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Mean latency, milliseconds. For streamed chat it is the time of the whole stream.
    pub latency_ms: u64,
    /// Uniform jitter around the mean, milliseconds (latency is `mean ± jitter`, floored at 0).
    pub jitter_ms: u64,
    /// Share of requests answered with HTTP 500.
    pub error_rate: f64,
    /// Share of requests answered with HTTP 429 and a `Retry-After` header.
    pub rate_limit_rate: f64,
    /// Share of requests that never answer (until `hang_ms` has passed).
    pub hang_rate: f64,
    /// `Retry-After` value sent with 429s, seconds.
    pub retry_after_secs: u64,
    /// How long a hanging request hangs before the connection is closed, milliseconds.
    pub hang_ms: u64,
    /// Requests served at once at most (0 = no limit). Requests beyond it wait for a slot.
    #[serde(default)]
    pub concurrency: u64,
    /// How long a request waits for a slot before it is refused with 429, milliseconds.
    #[serde(default)]
    pub queue_ms: u64,
}

impl Profile {
    /// A healthy endpoint with the given mean latency and jitter.
    pub const fn healthy(latency_ms: u64, jitter_ms: u64) -> Self {
        Self {
            latency_ms,
            jitter_ms,
            error_rate: 0.0,
            rate_limit_rate: 0.0,
            hang_rate: 0.0,
            retry_after_secs: 1,
            hang_ms: 600_000,
            concurrency: 0,
            queue_ms: 10_000,
        }
    }

    /// Draws this request's latency.
    pub fn sample_latency(&self, rng: &mut impl Rng) -> Duration {
        let jitter = if self.jitter_ms == 0 {
            0
        } else {
            rng.random_range(-(self.jitter_ms as i64)..=self.jitter_ms as i64)
        };
        Duration::from_millis((self.latency_ms as i64 + jitter).max(0) as u64)
    }

    /// Draws this request's fault, if any.
    pub fn sample_fault(&self, rng: &mut impl Rng) -> Fault {
        let x: f64 = rng.random();
        if x < self.hang_rate {
            Fault::Hang
        } else if x < self.hang_rate + self.rate_limit_rate {
            Fault::RateLimited
        } else if x < self.hang_rate + self.rate_limit_rate + self.error_rate {
            Fault::ServerError
        } else {
            Fault::None
        }
    }

    fn validate(&self) -> Result<(), ProfileError> {
        for (field, v) in [
            ("error_rate", self.error_rate),
            ("rate_limit_rate", self.rate_limit_rate),
            ("hang_rate", self.hang_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(ProfileError::new(field, "must be between 0.0 and 1.0"));
            }
        }
        if self.error_rate + self.rate_limit_rate + self.hang_rate > 1.0 + 1e-9 {
            return Err(ProfileError::new(
                "error_rate",
                "error_rate + rate_limit_rate + hang_rate must not exceed 1.0",
            ));
        }
        if self.latency_ms > 600_000 || self.hang_ms > 3_600_000 {
            return Err(ProfileError::new(
                "latency_ms",
                "latency_ms must be <= 600000 and hang_ms <= 3600000",
            ));
        }
        Ok(())
    }
}

/// What a request suffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No fault: the request is served after its sampled latency.
    None,
    /// HTTP 500 after half the sampled latency, as OpenAI's `server_error`.
    ServerError,
    /// HTTP 429 with `Retry-After`.
    RateLimited,
    /// No answer for `hang_ms`, then a 504: the caller's own timeout should fire first.
    Hang,
}

/// A partial update of a profile, as the admin API and `--profile` take it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// New mean latency in ms ([`Profile::latency_ms`]); `None` keeps the current one.
    pub latency_ms: Option<u64>,
    /// New jitter in ms ([`Profile::jitter_ms`]); `None` keeps the current one.
    pub jitter_ms: Option<u64>,
    /// New share of HTTP 500s ([`Profile::error_rate`]); `None` keeps the current one.
    pub error_rate: Option<f64>,
    /// New share of 429s ([`Profile::rate_limit_rate`]); `None` keeps the current one.
    pub rate_limit_rate: Option<f64>,
    /// New share of hanging requests ([`Profile::hang_rate`]); `None` keeps the current one.
    pub hang_rate: Option<f64>,
    /// New `Retry-After` of 429s ([`Profile::retry_after_secs`]); `None` keeps the current one.
    pub retry_after_secs: Option<u64>,
    /// New hang length in ms ([`Profile::hang_ms`]); `None` keeps the current one.
    pub hang_ms: Option<u64>,
    /// New concurrency limit, 0 = none ([`Profile::concurrency`]); `None` keeps the current one.
    pub concurrency: Option<u64>,
    /// New wait for a slot in ms ([`Profile::queue_ms`]); `None` keeps the current one.
    pub queue_ms: Option<u64>,
}

impl ProfilePatch {
    fn apply(&self, p: &Profile) -> Profile {
        Profile {
            latency_ms: self.latency_ms.unwrap_or(p.latency_ms),
            jitter_ms: self.jitter_ms.unwrap_or(p.jitter_ms),
            error_rate: self.error_rate.unwrap_or(p.error_rate),
            rate_limit_rate: self.rate_limit_rate.unwrap_or(p.rate_limit_rate),
            hang_rate: self.hang_rate.unwrap_or(p.hang_rate),
            retry_after_secs: self.retry_after_secs.unwrap_or(p.retry_after_secs),
            hang_ms: self.hang_ms.unwrap_or(p.hang_ms),
            concurrency: self.concurrency.unwrap_or(p.concurrency),
            queue_ms: self.queue_ms.unwrap_or(p.queue_ms),
        }
    }
}

/// A rejected profile value.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize)]
#[error("{field}: {rule}")]
pub struct ProfileError {
    /// Offending field (`endpoint.key` in a profile string).
    pub field: String,
    /// The rule it breaks.
    pub rule: String,
}

impl ProfileError {
    fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            rule: rule.into(),
        }
    }
}

/// The profiles of every endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profiles(pub BTreeMap<Endpoint, Profile>);

impl Default for Profiles {
    /// Latencies of a healthy hosted API as seen from a nearby region.
    fn default() -> Self {
        Scenario::Healthy.profiles()
    }
}

impl Profiles {
    /// Every endpoint answering at once with no faults: for tests.
    pub fn instant() -> Self {
        Self(
            Endpoint::ALL
                .into_iter()
                .map(|e| (e, Profile::healthy(0, 0)))
                .collect(),
        )
    }

    /// The profile of `e`.
    pub fn get(&self, e: Endpoint) -> Profile {
        self.0.get(&e).copied().unwrap_or(Profile::healthy(0, 0))
    }

    /// Applies a patch to one endpoint, validating the result.
    pub fn patch(&mut self, e: Endpoint, patch: &ProfilePatch) -> Result<Profile, ProfileError> {
        let next = patch.apply(&self.get(e));
        next.validate().map_err(|err| ProfileError {
            field: format!("{}.{}", e.as_str(), err.field),
            rule: err.rule,
        })?;
        self.0.insert(e, next);
        Ok(next)
    }

    /// Applies a profile string such as `catalog.latency_ms=6000,chat.error_rate=0.1`.
    /// An empty string changes nothing.
    pub fn apply_str(&mut self, spec: &str) -> Result<(), ProfileError> {
        for item in spec
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let (key, value) = item.split_once('=').ok_or_else(|| {
                ProfileError::new(
                    item,
                    "expected ENDPOINT.KEY=VALUE, e.g. chat.latency_ms=800",
                )
            })?;
            if key == "scenario" {
                let s = Scenario::parse(value).ok_or_else(|| {
                    ProfileError::new(
                        "scenario",
                        format!("unknown scenario; one of {}", Scenario::names()),
                    )
                })?;
                *self = s.profiles();
                continue;
            }
            let (endpoint, field) = key.split_once('.').ok_or_else(|| {
                ProfileError::new(key, "expected ENDPOINT.KEY, e.g. catalog.latency_ms")
            })?;
            let endpoint = Endpoint::parse(endpoint).ok_or_else(|| {
                ProfileError::new(
                    endpoint,
                    "unknown endpoint; one of chat, embeddings, models, catalog, audio",
                )
            })?;
            let int = || {
                value.parse::<u64>().map_err(|_| {
                    ProfileError::new(key, "must be a whole number of milliseconds/seconds")
                })
            };
            let rate = || {
                value
                    .parse::<f64>()
                    .map_err(|_| ProfileError::new(key, "must be a number between 0.0 and 1.0"))
            };
            let mut patch = ProfilePatch::default();
            match field {
                "latency_ms" => patch.latency_ms = Some(int()?),
                "jitter_ms" => patch.jitter_ms = Some(int()?),
                "retry_after_secs" => patch.retry_after_secs = Some(int()?),
                "hang_ms" => patch.hang_ms = Some(int()?),
                "concurrency" => patch.concurrency = Some(int()?),
                "queue_ms" => patch.queue_ms = Some(int()?),
                "error_rate" => patch.error_rate = Some(rate()?),
                "rate_limit_rate" => patch.rate_limit_rate = Some(rate()?),
                "hang_rate" => patch.hang_rate = Some(rate()?),
                _ => {
                    return Err(ProfileError::new(
                        key,
                        "unknown key; one of latency_ms, jitter_ms, error_rate, rate_limit_rate, hang_rate, retry_after_secs, hang_ms, concurrency, queue_ms",
                    ));
                }
            }
            self.patch(endpoint, &patch)?;
        }
        Ok(())
    }
}

/// Named presets: one command sets up a case study or a failure drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Realistic latencies, no faults.
    Healthy,
    /// Everything instant: for tests and benchmarks of ragtrace's own overhead.
    Instant,
    /// Case study 1: the product-search API takes ~6 s.
    SlowCatalog,
    /// Case study 2: a quick LLM, so the vector store carries the afternoon's load.
    Afternoon,
    /// The LLM answers 429 to most requests.
    RateLimited,
    /// The LLM answers 500 to most requests.
    LlmErrors,
    /// The LLM never answers.
    LlmHang,
}

impl Scenario {
    /// Every scenario, in the order the admin API lists them.
    pub const ALL: [Scenario; 7] = [
        Scenario::Healthy,
        Scenario::Instant,
        Scenario::SlowCatalog,
        Scenario::Afternoon,
        Scenario::RateLimited,
        Scenario::LlmErrors,
        Scenario::LlmHang,
    ];

    /// Name used on the command line and in the admin API.
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Healthy => "healthy",
            Scenario::Instant => "instant",
            Scenario::SlowCatalog => "slow-catalog",
            Scenario::Afternoon => "afternoon",
            Scenario::RateLimited => "rate-limited",
            Scenario::LlmErrors => "llm-errors",
            Scenario::LlmHang => "llm-hang",
        }
    }

    /// Parses a scenario name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// All names, comma-separated, for error messages.
    pub fn names() -> String {
        Self::ALL.map(|s| s.as_str()).join(", ")
    }

    /// What one sentence says about the scenario.
    pub fn description(self) -> &'static str {
        match self {
            Scenario::Healthy => "realistic latencies of a hosted API, no faults",
            Scenario::Instant => "every endpoint answers at once, no faults",
            Scenario::SlowCatalog => "case study 1: the product-search API takes about 6 s",
            Scenario::Afternoon => {
                "case study 2: a quick LLM (about 0.4 s), so the vector store carries the load"
            }
            Scenario::RateLimited => "the LLM answers 429 with Retry-After to 80 % of requests",
            Scenario::LlmErrors => "the LLM answers 500 to 80 % of requests",
            Scenario::LlmHang => "the LLM never answers; callers must time out",
        }
    }

    /// The profiles this scenario sets.
    pub fn profiles(self) -> Profiles {
        let mut p = BTreeMap::new();
        p.insert(Endpoint::Chat, Profile::healthy(1200, 300));
        p.insert(Endpoint::Embeddings, Profile::healthy(60, 20));
        p.insert(Endpoint::Models, Profile::healthy(5, 0));
        p.insert(Endpoint::Catalog, Profile::healthy(250, 80));
        // Speech to text: about 3 s per minute of audio, 8 requests at once (like a provider's
        // concurrency limit); beyond that requests queue for up to 6 s, then get 429. A burst of
        // a one-hour meeting's ~130 chunks outlasts the queue and the client's three attempts
        // (case study 3); batches of up to 8 never wait.
        p.insert(
            Endpoint::Audio,
            Profile {
                concurrency: 8,
                queue_ms: 6000,
                ..Profile::healthy(3000, 500)
            },
        );
        let chat = p.get_mut(&Endpoint::Chat).expect("inserted above");
        match self {
            Scenario::Healthy => {}
            Scenario::Instant => return Profiles::instant(),
            Scenario::SlowCatalog => {
                p.insert(Endpoint::Catalog, Profile::healthy(6000, 500));
            }
            Scenario::Afternoon => *chat = Profile::healthy(400, 100),
            Scenario::RateLimited => chat.rate_limit_rate = 0.8,
            Scenario::LlmErrors => chat.error_rate = 0.8,
            Scenario::LlmHang => chat.hang_rate = 1.0,
        }
        Profiles(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A profile string patches just the named fields.
    #[test]
    fn profile_string_patches_fields() {
        let mut p = Profiles::instant();
        p.apply_str("catalog.latency_ms=6000, chat.error_rate=0.25")
            .unwrap();
        assert_eq!(p.get(Endpoint::Catalog).latency_ms, 6000);
        assert_eq!(p.get(Endpoint::Chat).error_rate, 0.25);
        assert_eq!(p.get(Endpoint::Embeddings), Profile::healthy(0, 0));
        p.apply_str("scenario=slow-catalog").unwrap();
        assert_eq!(p.get(Endpoint::Catalog).latency_ms, 6000);
        assert_eq!(p.get(Endpoint::Chat).error_rate, 0.0);
    }

    /// Bad profile strings name the key and the rule.
    #[test]
    fn bad_profile_strings_are_rejected() {
        let mut p = Profiles::instant();
        let e = p.apply_str("chat.error_rate=1.5").unwrap_err();
        assert_eq!(e.field, "chat.error_rate");
        assert!(p.apply_str("nope.latency_ms=1").is_err());
        assert!(p.apply_str("chat.speed=1").is_err());
        assert!(p.apply_str("chat.latency_ms=fast").is_err());
        assert!(
            p.apply_str("chat.error_rate=0.6,chat.hang_rate=0.6")
                .is_err()
        );
        assert!(p.apply_str("scenario=nope").is_err());
    }

    /// Fault draws follow the configured rates.
    #[test]
    fn faults_follow_rates() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let p = Profile {
            error_rate: 0.2,
            rate_limit_rate: 0.1,
            hang_rate: 0.05,
            ..Profile::healthy(0, 0)
        };
        let n = 20_000;
        let mut counts = [0usize; 4];
        for _ in 0..n {
            counts[match p.sample_fault(&mut rng) {
                Fault::None => 0,
                Fault::ServerError => 1,
                Fault::RateLimited => 2,
                Fault::Hang => 3,
            }] += 1;
        }
        let share = |i: usize| counts[i] as f64 / n as f64;
        assert!((share(1) - 0.2).abs() < 0.02, "{counts:?}");
        assert!((share(2) - 0.1).abs() < 0.02, "{counts:?}");
        assert!((share(3) - 0.05).abs() < 0.01, "{counts:?}");
    }
}
