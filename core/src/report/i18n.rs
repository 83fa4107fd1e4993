//! The report's and the simulator's words, in English and Japanese. The UI reads the same table
//! (`GET /api/i18n?lang=`), so the language switch shows the same words everywhere.

use serde::{Deserialize, Serialize};

/// A language of the report and the simulator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Japanese.
    Ja,
}

impl Lang {
    /// `en` or `ja`; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" | "en-us" | "en-gb" => Some(Lang::En),
            "ja" | "ja-jp" => Some(Lang::Ja),
            _ => None,
        }
    }

    /// The `lang` attribute value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// Every `(key, text)` of this language.
    pub fn strings(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Lang::En => EN,
            Lang::Ja => JA,
        }
    }

    /// The text of `key`; the key itself when it is missing (a test keeps both tables whole).
    pub fn t(self, key: &'static str) -> &'static str {
        self.strings()
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(key, |(_, v)| v)
    }

    /// A stage id (`retrieval`, `llm`, ...) in the case studies' words.
    pub fn stage(self, id: &str) -> String {
        let key = format!("stage_{id}");
        self.strings()
            .iter()
            .find(|(k, _)| *k == key)
            .map_or_else(|| id.to_owned(), |(_, v)| (*v).to_owned())
    }
}

/// English.
pub const EN: &[(&str, &str)] = &[
    ("report_title", "Executive report"),
    ("generated", "Generated"),
    ("before", "Before"),
    ("after", "After"),
    ("change", "Change"),
    ("kpi", "Key figures"),
    ("mean_response", "Mean response time"),
    ("p95_response", "95th percentile response time"),
    ("improvement", "Improvement"),
    ("error_rate", "Error rate"),
    ("error_reduction", "Error reduction"),
    ("requests", "Requests processed"),
    ("request_rate", "Request rate"),
    ("cost_per_1k", "Spend per 1,000 requests"),
    ("monthly_spend", "Projected monthly spend"),
    ("monthly_saving", "Projected monthly saving"),
    ("cache_hit_rate", "Cache hit rate"),
    ("peak_memory", "Peak memory"),
    ("job_time", "Job time"),
    ("faster", "× faster"),
    ("slower", "× slower"),
    ("less", "less"),
    ("more", "more"),
    (
        "headline_faster",
        "Responses {x}× faster: {before} → {after}",
    ),
    (
        "headline_slower",
        "Responses {x}× slower: {before} → {after}",
    ),
    ("headline_saving", "projected saving {amount} a month"),
    ("headline_errors", "Errors {before} → {after}"),
    (
        "headline_memory",
        "peak memory {before} → {after} ({x}× less)",
    ),
    ("headline_extra", "projected extra spend {amount} a month"),
    ("dominant_stage", "Stage that dominated"),
    (
        "dominant_before",
        "Before, {stage} took {share} of the critical path.",
    ),
    ("dominant_after", "After, {stage} takes {share}."),
    ("no_stages", "These traces hold no pipeline stages."),
    ("latency_chart", "Response time distribution"),
    (
        "latency_chart_note",
        "Share of requests in each response-time bucket.",
    ),
    ("stage_chart", "Where the time goes, per request"),
    (
        "stage_chart_note",
        "Mean time on the critical path per stage: the stage's share of the critical path × the mean response time.",
    ),
    ("how_measured", "How this was measured"),
    ("window", "Window"),
    ("traces", "Traces"),
    ("traces_count", "traces"),
    ("unchanged", "unchanged"),
    ("sampling", "Sampling"),
    ("simulated", "Simulated"),
    ("projection", "Projection"),
    (
        "projection_note",
        "Monthly figures assume the before window's request rate ({rate}) for 30 days, at each window's spend per request.",
    ),
    (
        "spend_note",
        "Spend is estimated from token counts and the configured price table.",
    ),
    ("seconds", "s"),
    ("per_second", "/s"),
    // The cost simulator.
    ("sim_title", "Cost simulator"),
    (
        "sim_intro",
        "Your numbers today and what you expect the fixes to do: the projected saving and when tracing pays for itself.",
    ),
    ("sim_today", "Today"),
    ("sim_assumptions", "Assumptions"),
    ("sim_results", "Projection"),
    ("currency", "Currency"),
    ("monthly_api_spend", "Monthly API spend"),
    ("mean_response_s", "Mean response time (s)"),
    ("daily_requests", "Requests a day"),
    ("error_rate_percent", "Error rate (%)"),
    ("cache_hit_rate_percent", "Expected cache hit rate (%)"),
    ("latency_reduction_percent", "Latency reduction (%)"),
    ("error_reduction_percent", "Error reduction (%)"),
    ("model", "Model today"),
    ("switch_to", "Switch to model"),
    ("setup_hours", "Hours to introduce tracing"),
    ("hourly_rate", "Hourly rate"),
    ("stack_monthly_cost", "Stack running cost a month"),
    ("value_per_user_hour", "Value of an hour of users' waiting"),
    ("cost_per_error", "Cost of one failed request"),
    ("monthly_spend_after", "Monthly spend after"),
    ("monthly_api_saving", "Monthly API saving"),
    ("mean_response_after", "Mean response after"),
    ("time_saved_per_day", "Users' time saved a day"),
    ("errors_avoided_per_day", "Errors avoided a day"),
    ("monthly_benefit", "Monthly benefit"),
    ("one_off_cost", "One-off cost"),
    ("payback", "Payback period"),
    ("first_year_roi", "First-year ROI"),
    ("cumulative_saving", "Cumulative saving"),
    ("cumulative_cost", "Cumulative cost"),
    ("month", "Month"),
    ("never", "never at these figures"),
    ("days", "days"),
    ("months", "months"),
    ("hours", "h"),
    ("measured", "measured"),
    ("default", "default"),
    ("report_button", "Report"),
    ("stage_cache", "answer cache"),
    ("stage_embeddings", "embeddings"),
    ("stage_retrieval", "vector search"),
    ("stage_external_api", "product search API"),
    ("stage_prompt", "prompt build"),
    ("stage_llm", "LLM call"),
    ("stage_postprocess", "post-processing"),
    ("case_chatbot", "Chatbot slowed by a product-search API"),
    ("case_doc-search", "Document search under afternoon load"),
    ("case_transcription", "Meeting-transcription batch job"),
    ("live_title", "Live data"),
    (
        "lab_note",
        "Two runs of ragtrace-lab: the same load before and after the fix.",
    ),
    ("live_note", "Two windows of the app's trace store."),
    (
        "sim_upstream",
        "Only the external services' response times come from the built-in simulator.",
    ),
    (
        "real_upstream",
        "Nothing: the configured external services answered.",
    ),
];

/// Japanese.
pub const JA: &[(&str, &str)] = &[
    ("report_title", "経営向けレポート"),
    ("generated", "作成日時"),
    ("before", "改善前"),
    ("after", "改善後"),
    ("change", "変化"),
    ("kpi", "主要指標"),
    ("mean_response", "平均応答時間"),
    ("p95_response", "95パーセンタイル応答時間"),
    ("improvement", "改善率"),
    ("error_rate", "エラー率"),
    ("error_reduction", "エラー削減率"),
    ("requests", "処理リクエスト数"),
    ("request_rate", "リクエストレート"),
    ("cost_per_1k", "1,000リクエストあたりの費用"),
    ("monthly_spend", "月間費用の見込み"),
    ("monthly_saving", "月間削減額の見込み"),
    ("cache_hit_rate", "キャッシュヒット率"),
    ("peak_memory", "ピークメモリ"),
    ("job_time", "ジョブの所要時間"),
    ("faster", "倍高速"),
    ("slower", "倍低速"),
    ("less", "減"),
    ("more", "増"),
    ("headline_faster", "応答が{x}倍高速に: {before} → {after}"),
    ("headline_slower", "応答が{x}倍低速に: {before} → {after}"),
    ("headline_saving", "月間の削減見込み {amount}"),
    ("headline_errors", "エラー率 {before} → {after}"),
    (
        "headline_memory",
        "ピークメモリ {before} → {after}({x}分の1)",
    ),
    ("headline_extra", "月間の追加費用見込み {amount}"),
    ("dominant_stage", "支配的だった処理段階"),
    (
        "dominant_before",
        "改善前はクリティカルパスの{share}を{stage}が占めていました。",
    ),
    ("dominant_after", "改善後は{stage}が{share}を占めています。"),
    (
        "no_stages",
        "これらのトレースにはパイプラインの処理段階がありません。",
    ),
    ("latency_chart", "応答時間の分布"),
    (
        "latency_chart_note",
        "応答時間の区間ごとのリクエストの割合。",
    ),
    ("stage_chart", "1リクエストあたりの時間の内訳"),
    (
        "stage_chart_note",
        "処理段階ごとのクリティカルパス上の平均時間: クリティカルパスに占める割合 × 平均応答時間。",
    ),
    ("how_measured", "計測方法"),
    ("window", "期間"),
    ("traces", "トレース数"),
    ("traces_count", "件のトレース"),
    ("unchanged", "変化なし"),
    ("sampling", "サンプリング"),
    ("simulated", "シミュレーション部分"),
    ("projection", "見込みの前提"),
    (
        "projection_note",
        "月間の数値は、改善前の期間のリクエストレート({rate})が30日続くと仮定し、各期間の1リクエストあたりの費用で計算しています。",
    ),
    (
        "spend_note",
        "費用はトークン数と設定された価格表から推定しています。",
    ),
    ("seconds", "秒"),
    ("per_second", "/秒"),
    ("sim_title", "コストシミュレーター"),
    (
        "sim_intro",
        "現在の数値と改善の見込みから、削減額とトレーシング導入の回収期間を予測します。",
    ),
    ("sim_today", "現在"),
    ("sim_assumptions", "前提"),
    ("sim_results", "予測"),
    ("currency", "通貨"),
    ("monthly_api_spend", "月間API費用"),
    ("mean_response_s", "平均応答時間(秒)"),
    ("daily_requests", "1日のリクエスト数"),
    ("error_rate_percent", "エラー率(%)"),
    ("cache_hit_rate_percent", "想定キャッシュヒット率(%)"),
    ("latency_reduction_percent", "応答時間の短縮率(%)"),
    ("error_reduction_percent", "エラーの削減率(%)"),
    ("model", "現在のモデル"),
    ("switch_to", "切り替え先のモデル"),
    ("setup_hours", "導入にかかる工数(時間)"),
    ("hourly_rate", "時間単価"),
    ("stack_monthly_cost", "基盤の月間運用費"),
    ("value_per_user_hour", "ユーザーの待ち時間1時間の価値"),
    ("cost_per_error", "失敗1件あたりの損失"),
    ("monthly_spend_after", "改善後の月間費用"),
    ("monthly_api_saving", "月間API削減額"),
    ("mean_response_after", "改善後の平均応答時間"),
    ("time_saved_per_day", "1日に節約されるユーザーの時間"),
    ("errors_avoided_per_day", "1日に回避されるエラー"),
    ("monthly_benefit", "月間の効果"),
    ("one_off_cost", "初期費用"),
    ("payback", "投資回収期間"),
    ("first_year_roi", "初年度ROI"),
    ("cumulative_saving", "累積削減額"),
    ("cumulative_cost", "累積費用"),
    ("month", "月"),
    ("never", "この数値では回収できません"),
    ("days", "日"),
    ("months", "か月"),
    ("hours", "時間"),
    ("measured", "計測値"),
    ("default", "既定値"),
    ("report_button", "レポート"),
    ("stage_cache", "回答キャッシュ"),
    ("stage_embeddings", "埋め込み"),
    ("stage_retrieval", "ベクトル検索"),
    ("stage_external_api", "商品検索API"),
    ("stage_prompt", "プロンプト生成"),
    ("stage_llm", "LLM呼び出し"),
    ("stage_postprocess", "後処理"),
    ("case_chatbot", "商品検索APIで遅くなったチャットボット"),
    ("case_doc-search", "午後の負荷でのドキュメント検索"),
    ("case_transcription", "会議文字起こしのバッチ処理"),
    ("live_title", "ライブデータ"),
    (
        "lab_note",
        "ragtrace-labの2回の実行: 改善の前後で同じ負荷をかけています。",
    ),
    ("live_note", "アプリのトレースストアの2つの期間。"),
    (
        "sim_upstream",
        "外部サービスの応答時間だけが組み込みシミュレーターによるものです。",
    ),
    (
        "real_upstream",
        "なし: 設定された外部サービスが応答しました。",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_keys_once() {
        fn keys(t: &'static [(&'static str, &'static str)]) -> Vec<&'static str> {
            t.iter().map(|(k, _)| *k).collect()
        }
        assert_eq!(keys(EN), keys(JA));
        let mut sorted = keys(EN);
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), EN.len(), "a key is listed twice");
        assert!(JA.iter().all(|(_, v)| !v.is_empty()));
    }

    #[test]
    fn languages_parse_and_fall_back_to_the_key() {
        assert_eq!(Lang::parse("JA"), Some(Lang::Ja));
        assert_eq!(Lang::parse("fr"), None);
        assert_eq!(Lang::Ja.t("before"), "改善前");
        assert_eq!(Lang::En.t("no_such_key"), "no_such_key");
    }
}
