//! The app a run drives, in-process or remote, and what the run reads back from it: its
//! metrics (every request counted, whatever the sampling) and its trace summary (latency,
//! stages on the critical path). The fixes and the simulator's scenario are switched through the
//! app's admin API in both cases, the way an operator would.

use std::collections::BTreeMap;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

/// A snapshot of the app's `/metrics`: each series (name and labels, as rendered) to its value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics(BTreeMap<String, f64>);

impl Metrics {
    /// Parses the Prometheus text exposition.
    pub fn parse(text: &str) -> Self {
        Self(
            text.lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .filter_map(|l| {
                    let (series, value) = l.rsplit_once(' ')?;
                    Some((series.to_owned(), value.parse().ok()?))
                })
                .collect(),
        )
    }

    /// The sum of the series of `name` whose labels include every one of `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|(series, _)| {
                let (n, rest) = series.split_once('{').unwrap_or((series, ""));
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
            })
            .map(|(_, v)| v)
            .sum()
    }

    /// `self - before`, series by series.
    pub fn since(&self, before: &Metrics) -> Metrics {
        Metrics(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v - before.0.get(k).copied().unwrap_or(0.0)))
                .collect(),
        )
    }
}

/// A running app reached over HTTP.
#[derive(Debug, Clone)]
pub struct App {
    /// `http://host:port`.
    pub base: String,
    /// The client every call goes through.
    pub http: reqwest::Client,
}

impl App {
    /// An app at `base`, checked to answer `/readyz`. When `RAGTRACE__SERVER__API_KEY` is set
    /// (the variable the app reads its `server.api_key` from), every call carries it as a bearer
    /// token.
    pub async fn connect(base: &str) -> anyhow::Result<Self> {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(key) = std::env::var("RAGTRACE__SERVER__API_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty())
        {
            let mut bearer =
                reqwest::header::HeaderValue::from_str(&format!("Bearer {}", key.trim()))
                    .context("RAGTRACE__SERVER__API_KEY is not a valid header value")?;
            bearer.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, bearer);
        }
        let app = Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(120))
                .default_headers(headers)
                .build()?,
        };
        let ready = app
            .http
            .get(format!("{}/readyz", app.base))
            .send()
            .await
            .with_context(|| format!("cannot reach ragtrace at {}", app.base))?;
        if !ready.status().is_success() {
            bail!(
                "ragtrace at {} is not ready (GET /readyz answered {}): {}",
                app.base,
                ready.status(),
                ready.text().await.unwrap_or_default()
            );
        }
        Ok(app)
    }

    async fn call(&self, req: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
        let resp = req
            .send()
            .await
            .with_context(|| format!("{what}: no answer from {}", self.base))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{what}: HTTP {status}: {body}");
        }
        Ok(body)
    }

    /// Sets the simulator's scenario through the app (`POST /admin/scenarios/{name}`).
    pub async fn set_scenario(&self, name: &str) -> anyhow::Result<Value> {
        let url = format!("{}/admin/scenarios/{name}", self.base);
        self.call(self.http.post(url), "setting the simulator scenario")
            .await
    }

    /// Applies fixes (`PUT /admin/fixes`) and returns those in force.
    pub async fn set_fixes(&self, fixes: &Value) -> anyhow::Result<Value> {
        let url = format!("{}/admin/fixes", self.base);
        self.call(self.http.put(url).json(fixes), "setting the fixes")
            .await
    }

    /// Builds the vector store's index (`POST /admin/index`).
    pub async fn build_index(&self) -> anyhow::Result<Value> {
        let url = format!("{}/admin/index", self.base);
        self.call(self.http.post(url), "building the index").await
    }

    /// The app's metrics now.
    pub async fn metrics(&self) -> anyhow::Result<Metrics> {
        let text = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .context("reading /metrics")?
            .text()
            .await?;
        Ok(Metrics::parse(&text))
    }

    /// What the traces of `user_id`'s requests measured (`GET /api/summary`).
    pub async fn summary(&self, user_id: &str) -> anyhow::Result<Value> {
        let url = format!("{}/api/summary", self.base);
        self.call(
            self.http.get(url).query(&[("user_id", user_id)]),
            "reading the trace summary",
        )
        .await
    }
}

/// The fixes a phase asks for, for the report: what was asked and what the app says is in force.
pub fn settings(scenario: &str, asked: &Value, in_force: &Value, target: &str) -> Value {
    json!({
        "scenario": scenario,
        "fixes": asked,
        "in_force": in_force,
        "target": target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Series are summed by name and labels, and a later snapshot minus an earlier one gives what
    /// happened in between.
    #[test]
    fn metrics_sum_and_difference() {
        let before = Metrics::parse(
            "# TYPE x counter\nx{a=\"1\",b=\"y\"} 2\nx{a=\"2\",b=\"y\"} 3\nother 9\n",
        );
        let after = Metrics::parse("x{a=\"1\",b=\"y\"} 5\nx{a=\"2\",b=\"y\"} 4\nother 9\n");
        assert_eq!(after.sum("x", &[]), 9.0);
        assert_eq!(after.sum("x", &[("a", "1")]), 5.0);
        let d = after.since(&before);
        assert_eq!(d.sum("x", &[("b", "y")]), 4.0);
        assert_eq!(d.sum("other", &[]), 0.0);
    }
}
