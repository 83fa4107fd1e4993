//! The OpenMetrics exposition of `/metrics`, with exemplars: the trace id of a recent traced
//! request on each bucket of the histograms that record them, so a dashboard can jump from a slow
//! point to its trace.
//!
//! `metrics-exporter-prometheus` renders the Prometheus text format, which has no exemplars.
//! [`render`] turns that text into OpenMetrics (counter families named without `_total`, no blank
//! lines, `# EOF`) and appends to each bucket line the exemplar kept for it by [`record`]. The
//! latest traced observation of each bucket is kept; untraced requests cost nothing here.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::semconv::metric::{Kind, Metric};

/// Content type of the OpenMetrics exposition, what Prometheus asks for to read exemplars.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether a scrape's `Accept` header asks for OpenMetrics.
pub fn accepted(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("application/openmetrics-text"))
}

struct Exemplar {
    trace_id: String,
    value: f64,
    unix_seconds: f64,
}

/// (metric name, label values joined by `\u{1f}` in declared order, bucket index).
type Key = (&'static str, String, usize);

fn store() -> &'static Mutex<HashMap<Key, Exemplar>> {
    static STORE: OnceLock<Mutex<HashMap<Key, Exemplar>>> = OnceLock::new();
    STORE.get_or_init(Default::default)
}

fn bucket_of(m: &Metric, value: f64) -> usize {
    m.buckets
        .iter()
        .position(|&le| value <= le)
        .unwrap_or(m.buckets.len())
}

/// Keeps `trace_id` as the exemplar of the bucket `value` falls in, for the series of histogram
/// `m` with these label values (in the order `m.labels` declares them).
pub fn record<const N: usize>(m: &'static Metric, values: [&str; N], value: f64, trace_id: &str) {
    debug_assert_eq!(m.kind, Kind::Histogram, "{} is not a histogram", m.name);
    let key = (m.name, values.join("\u{1f}"), bucket_of(m, value));
    let exemplar = Exemplar {
        trace_id: trace_id.to_owned(),
        value,
        unix_seconds: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
    };
    store()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(key, exemplar);
}

/// `text` (the Prometheus text format) as OpenMetrics, with the kept exemplars of the histograms
/// in `with_exemplars` on their bucket lines.
pub fn render(text: &str, with_exemplars: &[&'static Metric]) -> String {
    let exemplars = store()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut counters: Vec<&str> = Vec::new();
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            if kind == "counter" {
                counters.push(name);
            }
            let _ = writeln!(out, "# TYPE {} {kind}", family(name, kind == "counter"));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let _ = writeln!(
                out,
                "# HELP {} {help}",
                family(name, counters.contains(&name) || name.ends_with("_total"))
            );
            continue;
        }
        out.push_str(line);
        if let Some(e) = exemplar_for(line, with_exemplars, &exemplars) {
            let _ = write!(
                out,
                " # {{trace_id=\"{}\"}} {} {:.3}",
                e.trace_id, e.value, e.unix_seconds
            );
        }
        out.push('\n');
    }
    out.push_str("# EOF\n");
    out
}

/// An OpenMetrics counter family is named without its samples' `_total` suffix.
fn family(name: &str, counter: bool) -> &str {
    if counter {
        name.strip_suffix("_total").unwrap_or(name)
    } else {
        name
    }
}

fn exemplar_for<'a>(
    line: &str,
    metrics: &[&'static Metric],
    exemplars: &'a HashMap<Key, Exemplar>,
) -> Option<&'a Exemplar> {
    if exemplars.is_empty() {
        return None;
    }
    let (name, rest) = line.split_once('{')?;
    let m = metrics
        .iter()
        .find(|m| name.strip_suffix("_bucket") == Some(m.name))?;
    let labels = parse_labels(rest)?;
    let get = |k: &str| {
        labels
            .iter()
            .find(|(lk, _)| lk == k)
            .map(|(_, v)| v.as_str())
    };
    let le = get("le")?;
    let le = if le == "+Inf" {
        f64::INFINITY
    } else {
        le.parse().ok()?
    };
    let bucket = m
        .buckets
        .iter()
        .position(|&b| b == le)
        .or_else(|| le.is_infinite().then_some(m.buckets.len()))?;
    let values: Vec<&str> = m.labels.iter().map(|k| get(k).unwrap_or("")).collect();
    exemplars.get(&(m.name, values.join("\u{1f}"), bucket))
}

/// The `key="value"` pairs after a series name's `{`, values unescaped.
fn parse_labels(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches(',');
        if rest.starts_with('}') {
            return Some(out);
        }
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        out.push((key.to_owned(), value));
        rest = &after[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::semconv::metric;

    const TEXT: &str = "# HELP ragtrace_errors_total Errors by type.\n\
        # TYPE ragtrace_errors_total counter\n\
        ragtrace_errors_total{type=\"timeout\"} 2\n\
        \n\
        # TYPE http_server_request_duration_seconds histogram\n\
        http_server_request_duration_seconds_bucket{http_route=\"/v1/chat\",http_request_method=\"POST\",http_response_status_code=\"200\",le=\"0.1\"} 1\n\
        http_server_request_duration_seconds_bucket{http_route=\"/v1/chat\",http_request_method=\"POST\",http_response_status_code=\"200\",le=\"+Inf\"} 3\n\
        http_server_request_duration_seconds_bucket{http_route=\"/healthz\",http_request_method=\"GET\",http_response_status_code=\"200\",le=\"0.1\"} 9\n\
        http_server_request_duration_seconds_sum{http_route=\"/v1/chat\",http_request_method=\"POST\",http_response_status_code=\"200\"} 99.5\n";

    /// The exemplar of a traced observation lands on its bucket's line of its own series only;
    /// counter families lose `_total`, blank lines go, and the exposition ends with `# EOF`.
    #[test]
    fn exemplars_land_on_their_bucket_and_the_text_is_openmetrics() {
        let m = &metric::HTTP_SERVER_DURATION;
        assert!(m.buckets.contains(&0.1));
        record(
            m,
            ["/v1/chat", "POST", "200"],
            0.07,
            "4bf92f3577b34da6a3ce929d0e0e4736",
        );
        record(
            m,
            ["/v1/chat", "POST", "200"],
            1e9,
            "00f067aa0ba902b700f067aa0ba902b7",
        );
        let out = render(TEXT, &[m]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "# HELP ragtrace_errors Errors by type.");
        assert_eq!(lines[1], "# TYPE ragtrace_errors counter");
        assert_eq!(lines[2], "ragtrace_errors_total{type=\"timeout\"} 2");
        assert!(!out.contains("\n\n"), "{out}");
        assert!(out.ends_with("# EOF\n"));
        let chat_01 = lines
            .iter()
            .find(|l| l.contains("/v1/chat") && l.contains("le=\"0.1\""))
            .unwrap();
        assert!(
            chat_01.ends_with("} 1 # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} 0.07")
                || chat_01.contains("} 1 # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} 0.07 "),
            "{chat_01}"
        );
        let chat_inf = lines
            .iter()
            .find(|l| l.contains("/v1/chat") && l.contains("+Inf"))
            .unwrap();
        assert!(
            chat_inf.contains("# {trace_id=\"00f067aa0ba902b700f067aa0ba902b7\"} 1000000000 "),
            "{chat_inf}"
        );
        let health = lines.iter().find(|l| l.contains("/healthz")).unwrap();
        assert!(
            !health.contains('#'),
            "another series has no exemplar: {health}"
        );
        let sum = lines.iter().find(|l| l.contains("_sum")).unwrap();
        assert!(!sum.contains('#'), "{sum}");
    }

    #[test]
    fn labels_parse_with_escapes() {
        let labels = parse_labels(r#"a="x\"y",b="p\\q\nr",le="+Inf"} 3"#).unwrap();
        assert_eq!(
            labels,
            vec![
                ("a".to_owned(), "x\"y".to_owned()),
                ("b".to_owned(), "p\\q\nr".to_owned()),
                ("le".to_owned(), "+Inf".to_owned())
            ]
        );
        assert!(accepted(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
        )));
        assert!(!accepted(Some("text/plain")));
        assert!(!accepted(None));
    }
}
