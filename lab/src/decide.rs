//! For the people who decide: `ragtrace-lab report` (the executive report of a before/after
//! pair, one HTML file) and `ragtrace-lab simulate` (the cost simulator, with defaults taken
//! from a measured pair when one is given).

use std::path::Path;

use anyhow::Context as _;
use ragtrace_core::report::{Context, Kpis, Lang, Side, html, rfc3339_ms};
use ragtrace_core::simulate::{Currency, SimInput, SimOutput};

/// Reads a `run --out` report as a report window.
pub fn read_side(path: &Path) -> anyhow::Result<Side> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a ragtrace-lab report", path.display()))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The executive report of `before` → `after` in `lang`.
pub fn report(before: &Side, after: &Side, lang: Lang) -> anyhow::Result<String> {
    let ctx = Context {
        lang,
        generated_at: rfc3339_ms(now_ms()),
        sample_ratio: None,
        simulated_upstreams: true,
    };
    Ok(html::render(before, after, &ctx)?)
}

/// The simulator's inputs that a measured pair provides: today's mean response and error rate
/// from `before`; the latency and error reductions the fix achieved, `before` → `after`; and as
/// the cache hit rate, the share of the calls `before` paid for that `after` answered from the
/// answer cache (today's spend already has `before`'s hits taken off).
pub fn measured_input(before: &Side, after: &Side, input: &mut SimInput) -> anyhow::Result<()> {
    let k = Kpis::of(before, after)?;
    input.mean_response_s = before.latency_ms.mean / 1000.0;
    input.error_rate_percent = before.error_rate() * 100.0;
    input.latency_reduction_percent = Some(k.improvement_percent.clamp(0.0, 100.0));
    input.error_reduction_percent =
        Some(k.error_reduction_percent.unwrap_or(0.0).clamp(0.0, 100.0));
    let (hb, ha) = (before.cache_hit_rate, after.cache_hit_rate);
    let extra = if hb < 1.0 {
        (ha - hb) / (1.0 - hb)
    } else {
        0.0
    };
    input.cache_hit_rate_percent = Some((extra * 100.0).clamp(0.0, 100.0));
    Ok(())
}

/// The projection as a short table.
pub fn table(o: &SimOutput) -> String {
    let c = o.currency;
    let money = |x: f64| c.format(x);
    let payback = match o.payback_days {
        None => "never at these figures".to_owned(),
        Some(d) if d < 60.0 => format!("{d:.0} days"),
        Some(d) => format!("{:.1} months", d / 30.0),
    };
    let a = &o.assumptions;
    format!(
        "cost simulator ({cur}): cache hit {ch:.0} %, latency −{lr:.0} %, errors −{er:.0} %{switch}\n\
         \x20 monthly API spend    {sb} → {sa} ({sp:.0} % saved, {save} a month)\n\
         \x20 mean response        → {mr:.2} s; users wait {ts:.1} h less a day\n\
         \x20 errors a day         {eb:.0} → {ea:.0} ({ev:.0} avoided)\n\
         \x20 monthly benefit      {ben} (API {save}, time {tv}, errors {evv}) − stack {run}\n\
         \x20 one-off cost         {once} ({h:.0} h × {rate})\n\
         \x20 payback              {payback}\n\
         \x20 first-year ROI       {roi:.0} %\n",
        cur = match c {
            Currency::Usd => "USD",
            Currency::Jpy => "JPY",
        },
        ch = a.cache_hit_rate_percent,
        lr = a.latency_reduction_percent,
        er = a.error_reduction_percent,
        switch = a
            .model_switch
            .as_ref()
            .map_or_else(String::new, |(f, t)| format!(
                ", {f} → {t} (×{:.2} per request)",
                a.price_factor
            )),
        sb = money(o.monthly_spend_before),
        sa = money(o.monthly_spend_after),
        sp = o.api_saving_percent,
        save = money(o.monthly_api_saving),
        mr = o.mean_response_after_s,
        ts = o.time_saved_hours_per_day,
        eb = o.errors_per_day_before,
        ea = o.errors_per_day_after,
        ev = o.errors_avoided_per_day,
        ben = money(o.monthly_benefit),
        tv = money(o.monthly_time_value),
        evv = money(o.monthly_error_value),
        run = money(o.monthly_running_cost),
        once = money(o.one_off_cost),
        h = a.setup_hours,
        rate = money(a.hourly_rate),
        roi = o.first_year_roi_percent,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs() -> (Side, Side) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/case-studies/runs/");
        (
            read_side(&Path::new(dir).join("chatbot-before.json")).unwrap(),
            read_side(&Path::new(dir).join("chatbot-after.json")).unwrap(),
        )
    }

    #[test]
    fn the_recorded_case_study_runs_read_as_report_windows() {
        let (b, a) = runs();
        let page = report(&b, &a, Lang::En).unwrap();
        let k = Kpis::of(&b, &a).unwrap();
        assert!(k.speedup > 1.0);
        assert!(page.contains(&html::headline(&k, Lang::En)));
    }

    #[test]
    fn a_measured_pair_fills_the_simulator_inputs() {
        let (b, a) = runs();
        let mut input: SimInput = serde_json::from_str(
            r#"{"monthly_api_spend":1000,"mean_response_s":1,"daily_requests":1000,"error_rate_percent":0}"#,
        )
        .unwrap();
        measured_input(&b, &a, &mut input).unwrap();
        assert!((input.mean_response_s * 1000.0 - b.latency_ms.mean).abs() < 1e-9);
        let expected = (1.0 - a.latency_ms.mean / b.latency_ms.mean) * 100.0;
        assert!((input.latency_reduction_percent.unwrap() - expected).abs() < 1e-9);
    }
}
