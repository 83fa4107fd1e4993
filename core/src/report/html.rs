//! The report as one self-contained HTML page: inline CSS and SVG, no script, no external
//! reference, A4 when printed.

use std::fmt::Write as _;

use super::{Context, Kpis, Lang, ReportError, Side};
use crate::simulate::Currency;

/// Renders the report of `before` → `after`.
pub fn render(before: &Side, after: &Side, ctx: &Context) -> Result<String, ReportError> {
    let k = Kpis::of(before, after)?;
    let l = ctx.lang;
    let title = match &before.case {
        Some(case) => {
            let key = format!("case_{case}");
            l.strings()
                .iter()
                .find(|(k, _)| *k == key)
                .map_or_else(|| case.clone(), |(_, v)| (*v).to_owned())
        }
        None => l.t("live_title").to_owned(),
    };
    let mut page = String::with_capacity(24_000);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{report}: {title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n\
         <header><p class=\"kicker\">ragtrace · {report}</p><h1>{title}</h1>\
         <p class=\"sub\">{note} {generated} {at}</p></header>\n",
        lang = l.code(),
        report = esc(l.t("report_title")),
        title = esc(&title),
        note = esc(l.t(if before.case.is_some() {
            "lab_note"
        } else {
            "live_note"
        })),
        generated = esc(l.t("generated")),
        at = esc(&ctx.generated_at),
    );
    let _ = writeln!(
        page,
        "<p class=\"headline\" id=\"headline\">{}</p>",
        esc(&headline(&k, l))
    );
    page.push_str(&kpi_table(&k, l));
    page.push_str(&dominant(before, after, l));
    page.push_str("<div class=\"charts\">\n");
    page.push_str(&latency_chart(before, after, l));
    page.push_str(&stage_chart(before, after, l));
    page.push_str("</div>\n");
    page.push_str(&how_measured(before, after, &k, ctx));
    page.push_str("</main>\n</body>\n</html>\n");
    Ok(page)
}

/// "Responses 3.9× faster: 9.8 s → 2.5 s; projected saving $1,240 a month"; for a batch job
/// that measured its memory (transcription), its errors and its memory instead.
pub fn headline(k: &Kpis, l: Lang) -> String {
    let sep = if l == Lang::Ja { "。" } else { "; " };
    if let Some((b, a)) = k.peak_rss_bytes {
        let errors = l
            .t("headline_errors")
            .replace("{before}", &pct(k.error_rate.0))
            .replace("{after}", &pct(k.error_rate.1));
        let memory = l
            .t("headline_memory")
            .replace("{before}", &mib(b))
            .replace("{after}", &mib(a))
            .replace("{x}", &format!("{:.1}", b as f64 / a.max(1) as f64));
        return format!("{errors}{sep}{memory}");
    }
    let (key, x) = if k.speedup >= 1.0 {
        ("headline_faster", k.speedup)
    } else {
        ("headline_slower", 1.0 / k.speedup.max(f64::MIN_POSITIVE))
    };
    let speed = l
        .t(key)
        .replace("{x}", &format!("{x:.1}"))
        .replace("{before}", &dur(k.mean_ms.0, l))
        .replace("{after}", &dur(k.mean_ms.1, l));
    let money = if k.monthly_saving >= 0.0 {
        l.t("headline_saving")
            .replace("{amount}", &usd(k.monthly_saving))
    } else {
        l.t("headline_extra")
            .replace("{amount}", &usd(-k.monthly_saving))
    };
    format!("{speed}{sep}{money}")
}

fn kpi_table(k: &Kpis, l: Lang) -> String {
    let mut rows: Vec<[String; 4]> = vec![
        [
            // A batch job (transcription) has one time: the job's.
            l.t(if k.peak_rss_bytes.is_some() {
                "job_time"
            } else {
                "mean_response"
            })
            .into(),
            dur(k.mean_ms.0, l),
            dur(k.mean_ms.1, l),
            speed_change(k.mean_ms, l),
        ],
        [
            l.t("p95_response").into(),
            dur(k.p95_ms.0, l),
            dur(k.p95_ms.1, l),
            speed_change(k.p95_ms, l),
        ],
        [
            l.t("improvement").into(),
            String::new(),
            String::new(),
            format!("{:.1} %", k.improvement_percent),
        ],
        [
            l.t("error_rate").into(),
            pct(k.error_rate.0),
            pct(k.error_rate.1),
            k.error_reduction_percent.map_or_else(
                || "–".to_owned(),
                |r| format!("{} {:.0} %", l.t("error_reduction"), r),
            ),
        ],
        [
            l.t("requests").into(),
            format!(
                "{} ({:.1}{})",
                group(k.requests.0 as f64),
                k.request_rate.0,
                l.t("per_second")
            ),
            format!(
                "{} ({:.1}{})",
                group(k.requests.1 as f64),
                k.request_rate.1,
                l.t("per_second")
            ),
            ratio_change(k.requests.0 as f64, k.requests.1 as f64, l),
        ],
        [
            l.t("cost_per_1k").into(),
            usd(k.cost_per_1k.0),
            usd(k.cost_per_1k.1),
            ratio_change(k.cost_per_1k.0, k.cost_per_1k.1, l),
        ],
        [
            l.t("monthly_spend").into(),
            usd(k.monthly_spend.0),
            usd(k.monthly_spend.1),
            format!("{} {}", l.t("monthly_saving"), usd(k.monthly_saving)),
        ],
        [
            l.t("cache_hit_rate").into(),
            pct(k.cache_hit_rate.0),
            pct(k.cache_hit_rate.1),
            String::new(),
        ],
    ];
    if let Some((b, a)) = k.catalog_cache_hit_rate {
        rows.push([
            format!("{} ({})", l.t("cache_hit_rate"), l.stage("external_api")),
            pct(b),
            pct(a),
            String::new(),
        ]);
    }
    if let Some((b, a)) = k.peak_rss_bytes {
        rows.push([
            l.t("peak_memory").into(),
            mib(b),
            mib(a),
            ratio_change(b as f64, a as f64, l),
        ]);
    }
    let mut out = format!(
        "<section><h2>{}</h2>\n<table class=\"kpi\" id=\"kpi\"><thead><tr><th></th><th>{}</th>\
         <th>{}</th><th>{}</th></tr></thead><tbody>\n",
        esc(l.t("kpi")),
        esc(l.t("before")),
        esc(l.t("after")),
        esc(l.t("change"))
    );
    for r in rows {
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r[0]),
            esc(&r[1]),
            esc(&r[2]),
            esc(&r[3])
        );
    }
    out.push_str("</tbody></table></section>\n");
    out
}

fn dominant(before: &Side, after: &Side, l: Lang) -> String {
    let line = |s: &Side, key: &'static str| {
        s.slowest_stage.as_ref().map(|stage| {
            l.t(key)
                .replace("{stage}", &l.stage(stage))
                .replace("{share}", &pct(s.share_of(stage).unwrap_or(0.0)))
        })
    };
    let text = match (
        line(before, "dominant_before"),
        line(after, "dominant_after"),
    ) {
        (None, None) => l.t("no_stages").to_owned(),
        (b, a) => [b, a].into_iter().flatten().collect::<Vec<_>>().join(" "),
    };
    format!(
        "<section><h2>{}</h2><p id=\"dominant\">{}</p></section>\n",
        esc(l.t("dominant_stage")),
        esc(&text)
    )
}

const BEFORE_COLOUR: &str = "#9aa5b1";
const AFTER_COLOUR: &str = "#2f6fdb";
const STAGE_COLOURS: [(&str, &str); 7] = [
    ("cache", "#b48ead"),
    ("embeddings", "#e57ba6"),
    ("retrieval", "#3b82f6"),
    ("external_api", "#f59e0b"),
    ("prompt", "#eab308"),
    ("llm", "#10b981"),
    ("postprocess", "#06b6d4"),
];

/// Grouped bars: the share of each window's requests in each latency bucket.
fn latency_chart(before: &Side, after: &Side, l: Lang) -> String {
    let share = |s: &Side| -> Vec<f64> {
        let n: usize = s.histogram.iter().map(|b| b.count).sum();
        s.histogram
            .iter()
            .map(|b| {
                if n == 0 {
                    0.0
                } else {
                    b.count as f64 / n as f64
                }
            })
            .collect()
    };
    let (b, a) = (share(before), share(after));
    // Only the buckets from the first to the last one in use.
    let used = |i: usize| b.get(i).copied().unwrap_or(0.0) + a.get(i).copied().unwrap_or(0.0) > 0.0;
    let n = b.len().max(a.len());
    let first = (0..n).find(|&i| used(i)).unwrap_or(0);
    let last = (0..n).rev().find(|&i| used(i)).unwrap_or(0);
    let labels: Vec<String> = (first..=last)
        .map(|i| {
            let bucket = before.histogram.get(i).or(after.histogram.get(i));
            match bucket.and_then(|b| b.le_ms) {
                Some(le) => format!("≤{}", dur(le, l)),
                // The open bucket: above the last bound.
                None => {
                    let last = crate::trace_store::summary::HISTOGRAM_BOUNDS_MS
                        .last()
                        .copied()
                        .unwrap_or(0.0);
                    format!(">{}", dur(last, l))
                }
            }
        })
        .collect();
    let max = b.iter().chain(&a).copied().fold(0.0, f64::max).max(0.01);
    let (w, h, pad_l, pad_b) = (640.0, 240.0, 44.0, 40.0);
    let slot = (w - pad_l - 8.0) / labels.len().max(1) as f64;
    let bar = (slot * 0.38).min(28.0);
    let y = |v: f64| (h - pad_b) - v / max * (h - pad_b - 14.0);
    let mut svg = svg_open("latency-chart", w, h, l.t("latency_chart"));
    for t in [0.0, max / 2.0, max] {
        let _ = write!(
            svg,
            "<line x1=\"{pad_l}\" x2=\"{x2}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" class=\"grid\"/>\
             <text x=\"{tx}\" y=\"{ty:.1}\" class=\"axis\" text-anchor=\"end\">{v:.0} %</text>",
            x2 = w - 8.0,
            yy = y(t),
            tx = pad_l - 4.0,
            ty = y(t) + 4.0,
            v = t * 100.0
        );
    }
    for (j, i) in (first..=last).enumerate() {
        let x0 = pad_l + j as f64 * slot + slot / 2.0 - bar;
        for (k, (vals, colour)) in [(&b, BEFORE_COLOUR), (&a, AFTER_COLOUR)].iter().enumerate() {
            let v = vals.get(i).copied().unwrap_or(0.0);
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{top:.1}\" width=\"{bar:.1}\" height=\"{hh:.1}\" fill=\"{colour}\"><title>{v:.1} %</title></rect>",
                x = x0 + k as f64 * bar,
                top = y(v),
                hh = (h - pad_b) - y(v),
                v = v * 100.0,
            );
        }
        let _ = write!(
            svg,
            "<text x=\"{x:.1}\" y=\"{ty}\" class=\"axis\" text-anchor=\"middle\">{label}</text>",
            x = pad_l + j as f64 * slot + slot / 2.0,
            ty = h - pad_b + 16.0,
            label = esc(&labels[j]),
        );
    }
    svg.push_str(&legend(
        &[(l.t("before"), BEFORE_COLOUR), (l.t("after"), AFTER_COLOUR)],
        pad_l,
        h - 8.0,
    ));
    svg.push_str("</svg>");
    figure(l.t("latency_chart"), l.t("latency_chart_note"), &svg)
}

/// One stacked bar per window: the mean time per request on the critical path, by stage.
fn stage_chart(before: &Side, after: &Side, l: Lang) -> String {
    let parts = |s: &Side| -> Vec<(String, f64)> {
        s.stages
            .iter()
            .map(|st| (st.stage.clone(), st.share * s.latency_ms.mean))
            .filter(|(_, ms)| *ms > 0.0)
            .collect()
    };
    let (pb, pa) = (parts(before), parts(after));
    if pb.is_empty() && pa.is_empty() {
        return figure(l.t("stage_chart"), l.t("no_stages"), "");
    }
    let total = |p: &[(String, f64)]| p.iter().map(|(_, ms)| ms).sum::<f64>();
    let max = total(&pb).max(total(&pa)).max(1.0);
    let (w, pad_l, row) = (640.0, 80.0, 46.0);
    let mut stages: Vec<&str> = Vec::new();
    for (s, _) in pb.iter().chain(&pa) {
        if !stages.contains(&s.as_str()) {
            stages.push(s);
        }
    }
    let h = 2.0 * row + 24.0 + 22.0 * stages.len().div_ceil(3) as f64;
    let mut svg = svg_open("stage-chart", w, h, l.t("stage_chart"));
    let scale = (w - pad_l - 90.0) / max;
    for (r, (label, p)) in [(l.t("before"), &pb), (l.t("after"), &pa)]
        .iter()
        .enumerate()
    {
        let y = 8.0 + r as f64 * row;
        let _ = write!(
            svg,
            "<text x=\"{tx}\" y=\"{ty}\" class=\"axis\" text-anchor=\"end\">{label}</text>",
            tx = pad_l - 8.0,
            ty = y + 19.0,
            label = esc(label)
        );
        let mut x = pad_l;
        for (stage, ms) in p.iter() {
            let bw = ms * scale;
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{bw:.1}\" height=\"28\" fill=\"{c}\"><title>{name}: {d}</title></rect>",
                c = stage_colour(stage),
                name = esc(&l.stage(stage)),
                d = esc(&dur(*ms, l)),
            );
            x += bw;
        }
        let _ = write!(
            svg,
            "<text x=\"{tx:.1}\" y=\"{ty}\" class=\"value\">{d}</text>",
            tx = x + 6.0,
            ty = y + 19.0,
            d = esc(&dur(total(p), l))
        );
    }
    let items: Vec<(String, &str)> = stages
        .iter()
        .map(|s| (l.stage(s), stage_colour(s)))
        .collect();
    for (i, chunk) in items.chunks(3).enumerate() {
        let refs: Vec<(&str, &str)> = chunk.iter().map(|(n, c)| (n.as_str(), *c)).collect();
        svg.push_str(&legend(&refs, pad_l, 2.0 * row + 22.0 + 22.0 * i as f64));
    }
    svg.push_str("</svg>");
    figure(l.t("stage_chart"), l.t("stage_chart_note"), &svg)
}

fn how_measured(before: &Side, after: &Side, k: &Kpis, ctx: &Context) -> String {
    let l = ctx.lang;
    let window = |s: &Side, label: &str| {
        format!(
            "{}: {} + {:.0} {} · {} {}",
            label,
            s.started_at,
            s.seconds,
            l.t("seconds"),
            group(s.traces as f64),
            l.t("traces_count"),
        )
    };
    // Without the app's ratio (a lab pair), the share of requests that left a trace.
    let sampling = ctx.sample_ratio.map_or_else(
        || {
            let (t, r) = (
                before.traces + after.traces,
                before.requests + after.requests,
            );
            format!(
                "{} / {} ({})",
                group(t as f64),
                group(r as f64),
                pct(t as f64 / r.max(1) as f64)
            )
        },
        |r| format!("{:.0} %", r * 100.0),
    );
    let rate = format!("{:.2}{}", k.request_rate.0, l.t("per_second"));
    let items = [
        (l.t("window"), window(before, l.t("before"))),
        (l.t("window"), window(after, l.t("after"))),
        (l.t("sampling"), sampling),
        (
            l.t("simulated"),
            l.t(if ctx.simulated_upstreams {
                "sim_upstream"
            } else {
                "real_upstream"
            })
            .to_owned(),
        ),
        (
            l.t("projection"),
            format!(
                "{} {}",
                l.t("projection_note").replace("{rate}", &rate),
                l.t("spend_note")
            ),
        ),
    ];
    let mut out = format!(
        "<section class=\"how\" id=\"how-measured\"><h2>{}</h2><dl>",
        esc(l.t("how_measured"))
    );
    for (term, text) in items {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(term), esc(&text));
    }
    out.push_str("</dl></section>\n");
    out
}

fn stage_colour(stage: &str) -> &'static str {
    STAGE_COLOURS
        .iter()
        .find(|(s, _)| *s == stage)
        .map_or("#64748b", |(_, c)| c)
}

fn svg_open(id: &str, w: f64, h: f64, title: &str) -> String {
    format!(
        "<svg id=\"{id}\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" \
         role=\"img\" aria-label=\"{t}\"><title>{t}</title>",
        t = esc(title)
    )
}

fn legend(items: &[(&str, &str)], x: f64, y: f64) -> String {
    let mut out = String::new();
    let mut at = x;
    for (name, colour) in items {
        let _ = write!(
            out,
            "<rect x=\"{at:.1}\" y=\"{ry:.1}\" width=\"12\" height=\"12\" fill=\"{colour}\"/>\
             <text x=\"{tx:.1}\" y=\"{y:.1}\" class=\"axis\">{n}</text>",
            ry = y - 10.0,
            tx = at + 16.0,
            n = esc(name)
        );
        at += 24.0 + 7.5 * name.chars().count() as f64 + 16.0;
    }
    out
}

fn figure(title: &str, note: &str, svg: &str) -> String {
    format!(
        "<figure><figcaption><strong>{}</strong> {}</figcaption>{svg}</figure>\n",
        esc(title),
        esc(note)
    )
}

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `9.80 s` or `466 ms`.
fn dur(ms: f64, l: Lang) -> String {
    if ms >= 1000.0 {
        format!("{:.2} {}", ms / 1000.0, l.t("seconds"))
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

fn group(x: f64) -> String {
    Currency::Usd.format(x).trim_start_matches('$').to_owned()
}

/// Dollars: whole and grouped from $100, cents below, four decimals below ten cents.
fn usd(x: f64) -> String {
    if x.abs() >= 100.0 {
        Currency::Usd.format(x)
    } else if x.abs() >= 0.1 {
        format!("${x:.2}")
    } else {
        format!("${x:.4}")
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / 1_048_576.0)
}

/// `3.9× faster` for a time that went from `b` to `a`.
fn speed_change((b, a): (f64, f64), l: Lang) -> String {
    if a <= 0.0 || b <= 0.0 {
        return "–".to_owned();
    }
    if b >= a {
        format!("{:.1}{}", b / a, l.t("faster"))
    } else {
        format!("{:.1}{}", a / b, l.t("slower"))
    }
}

/// `+12 %` / `-40 %` in words.
fn ratio_change(b: f64, a: f64, l: Lang) -> String {
    if b <= 0.0 {
        return "–".to_owned();
    }
    let change = (a / b - 1.0) * 100.0;
    if change.abs() < 0.5 {
        return l.t("unchanged").to_owned();
    }
    let word = if change < 0.0 {
        l.t("less")
    } else {
        l.t("more")
    };
    format!("{:.0} % {word}", change.abs())
}

const CSS: &str = r#"
:root{--fg:#1b2430;--muted:#5b6675;--line:#d8dee6;--accent:#2f6fdb;--bg:#fff;--card:#f5f7fa}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI","Hiragino Sans","Noto Sans CJK JP",sans-serif}
main{max-width:860px;margin:0 auto;padding:32px 28px 48px}
.kicker{margin:0;color:var(--muted);font-size:13px;letter-spacing:.04em;text-transform:uppercase}
h1{margin:4px 0 4px;font-size:28px}
h2{font-size:17px;margin:28px 0 8px}
.sub{margin:0;color:var(--muted);font-size:13px}
.headline{margin:22px 0 6px;padding:16px 18px;border-left:5px solid var(--accent);background:var(--card);font-size:21px;font-weight:650}
table.kpi{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}
.kpi th,.kpi td{padding:7px 10px;border-bottom:1px solid var(--line);text-align:right}
.kpi th[scope=row],.kpi thead th:first-child{text-align:left;font-weight:600}
.kpi thead th{color:var(--muted);font-weight:600;font-size:13px}
.kpi td:last-child{font-weight:600}
.charts{display:grid;grid-template-columns:1fr;gap:18px;margin-top:12px}
figure{margin:0;padding:14px;border:1px solid var(--line);border-radius:8px;break-inside:avoid}
figcaption{font-size:13px;color:var(--muted);margin-bottom:6px}
figcaption strong{color:var(--fg);font-size:15px;margin-right:6px}
svg{width:100%;height:auto;display:block}
svg .axis{font-size:11px;fill:var(--muted)}
svg .value{font-size:12px;fill:var(--fg);font-weight:600}
svg .grid{stroke:var(--line);stroke-width:1}
.how{margin-top:26px;padding:6px 18px 14px;background:var(--card);border-radius:8px;break-inside:avoid}
.how dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0;font-size:13px}
.how dt{font-weight:600}
.how dd{margin:0;color:var(--muted)}
@page{size:A4;margin:14mm}
@media print{main{padding:0;max-width:none}body{font-size:12px}.headline{font-size:17px}h1{font-size:22px}section,figure,table{break-inside:avoid}}
"#;

#[cfg(test)]
mod tests {
    use super::super::tests::side;
    use super::*;
    use crate::report::StageShare;

    fn ctx(lang: Lang) -> Context {
        Context {
            lang,
            generated_at: "2026-12-02T15:00:00Z".to_owned(),
            sample_ratio: Some(1.0),
            simulated_upstreams: true,
        }
    }

    #[test]
    fn the_headline_says_the_speedup_and_the_saving() {
        let k = Kpis::of(&side(9_800.0, 100, 0, 2.0), &side(2_500.0, 100, 0, 1.0)).unwrap();
        let h = headline(&k, Lang::En);
        assert!(
            h.starts_with("Responses 3.9× faster: 9.80 s → 2.50 s; projected saving $"),
            "{h}"
        );
        let h = headline(&k, Lang::Ja);
        assert!(
            h.starts_with("応答が3.9倍高速に: 9.80 秒 → 2.50 秒。月間の削減見込み"),
            "{h}"
        );
    }

    #[test]
    fn a_batch_job_headline_says_its_errors_and_its_memory() {
        let mut b = side(23_000.0, 129, 17, 0.0);
        let mut a = side(55_000.0, 129, 0, 0.0);
        b.peak_rss_bytes = Some(619 << 20);
        a.peak_rss_bytes = Some(87 << 20);
        let h = headline(&Kpis::of(&b, &a).unwrap(), Lang::En);
        assert_eq!(
            h,
            "Errors 13.2 % → 0.0 %; peak memory 619 MiB → 87 MiB (7.1× less)"
        );
    }

    #[test]
    fn the_page_escapes_text_and_has_both_charts() {
        let mut b = side(9_800.0, 100, 5, 2.0);
        b.stages = vec![StageShare {
            stage: "<script>".to_owned(),
            p50_ms: 1.0,
            p95_ms: 1.0,
            share: 1.0,
        }];
        b.slowest_stage = Some("<script>".to_owned());
        let page = render(&b, &side(2_500.0, 100, 0, 1.0), &ctx(Lang::En)).unwrap();
        assert!(!page.contains("<script>"), "unescaped text");
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("id=\"latency-chart\""));
        assert!(page.contains("id=\"stage-chart\""));
        assert!(page.starts_with("<!DOCTYPE html>"));
    }
}
