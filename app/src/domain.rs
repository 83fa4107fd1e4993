//! Request and response types of the chat API. Request bodies are parsed into types that cannot
//! be invalid ("parse, don't validate"): a [`Question`] is never empty or too long.

use ragtrace_core::catalog::ProductTerms;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Words that make a question a buying question.
const BUYING_INTENT: &[&str] = &[
    "price",
    "prices",
    "priced",
    "cost",
    "costs",
    "buy",
    "purchase",
    "order",
    "stock",
    "recommend",
    "cheapest",
    "cheap",
    "expensive",
    "catalog",
    "catalogue",
    "product",
    "products",
    "sell",
    "sells",
    "offer",
    "compare",
    "budget",
    "shop",
    "rating",
    "rated",
    "usd",
    "dollars",
];

/// Words of a shopper choosing between products: with a product named, they make a buying
/// question too ("which plug has the best reviews", "is the D1 sold out").
const CHOOSING: &[&str] = &[
    "best",
    "review",
    "reviews",
    "vs",
    "versus",
    "brighter",
    "sold",
    "available",
    "which",
];

/// Words that carry nothing for a product search.
const FILLER: &[&str] = &[
    "a", "an", "the", "how", "much", "does", "do", "is", "are", "what", "which", "whats", "of",
    "for", "to", "in", "on", "i", "you", "we", "my", "your", "me", "can", "could", "would",
    "should", "it", "its", "there", "any", "some", "please", "tell", "about", "have", "has", "and",
    "or", "with",
];

/// The shape of a chat request, the hint of every error about it.
pub const CHAT_BODY: &str = "the body is {\"question\": string, \"user_id\"?: string, \"session_id\"?: string, \"stream\"?: boolean}";

/// Longest accepted `user_id` / `session_id`.
pub const MAX_ID_CHARS: usize = 128;

/// The body of `POST /v1/chat`, as sent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = ChatRequest, example = json!({"question": "How do I reset the Lumen Hub 2?", "user_id": "u-42"}))]
#[serde(deny_unknown_fields)]
pub struct ChatRequestBody {
    /// The question as typed; [`Question::parse`] trims it and checks its length and characters.
    pub question: String,
    /// The end user asking (opaque to ragtrace; recorded on spans, masked if it is an e-mail).
    #[serde(default)]
    pub user_id: Option<String>,
    /// Groups the turns of one conversation; recorded as `gen_ai.conversation.id` on the spans.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Stream the answer as server-sent events.
    #[serde(default)]
    pub stream: Option<bool>,
}

/// A question that passed [`Question::parse`]: trimmed, non-empty, within the length limit and
/// free of control characters, so nothing downstream checks it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question(String);

impl Question {
    /// Trims `raw` and checks it is non-empty and at most `max_chars` characters.
    pub fn parse(raw: &str, max_chars: usize) -> Result<Self, ApiError> {
        let q = raw.trim();
        if q.is_empty() {
            return Err(ApiError::validation(
                "question",
                "must not be empty",
                "send a question such as {\"question\": \"How do I reset the Lumen Hub 2?\"}",
            ));
        }
        let n = q.chars().count();
        if n > max_chars {
            return Err(ApiError::validation(
                "question",
                &format!("must be at most {max_chars} characters (got {n})"),
                "shorten the question; documents belong in the ingest API, not in a question",
            ));
        }
        if q.chars().any(|c| c.is_control() && !c.is_whitespace()) {
            return Err(ApiError::validation(
                "question",
                "must not contain control characters",
                "send plain text",
            ));
        }
        Ok(Self(q.to_owned()))
    }

    /// The trimmed question as asked: what is embedded and quoted in the prompt (the answer cache
    /// keys on [`Self::normalised`] instead).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Lower-cased, punctuation-free, single-spaced: identical questions share a cache entry.
    /// A question with no letter or digit ("???", "🙂") keeps its symbols, single-spaced: they
    /// are all it says, and dropping them would make every such question share one answer.
    pub fn normalised(&self) -> String {
        let words = self
            .0
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if words.is_empty() {
            self.0.split_whitespace().collect::<Vec<_>>().join(" ")
        } else {
            words
        }
    }

    /// Whether the question is about buying products (then the product-search tool is called):
    /// it names a product (`terms`: a product line or kind of the catalog, or a model code) and
    /// asks about buying ("how much", price, cost, compare, best, ...). Buying words alone are
    /// not enough: "how much parental leave" is a policy question.
    pub fn concerns_products(&self, terms: &ProductTerms) -> bool {
        let n = self.normalised();
        let asks = n.contains("how much")
            || n.split(' ')
                .any(|w| BUYING_INTENT.contains(&w) || CHOOSING.contains(&w));
        asks && terms.named_in(n.split(' '))
    }

    /// What to search the catalog for: the question without its buying and filler words, so
    /// "How much does a Beam bulb cost?" and "What is the price of the Beam bulb" both search
    /// (and cache) "beam bulb".
    pub fn product_query(&self) -> String {
        let words: Vec<&str> = self.0.split(|c: char| !c.is_alphanumeric()).collect();
        let kept: Vec<String> = words
            .iter()
            .filter(|w| !w.is_empty())
            .map(|w| w.to_lowercase())
            .filter(|w| !BUYING_INTENT.contains(&w.as_str()) && !FILLER.contains(&w.as_str()))
            .collect();
        if kept.is_empty() {
            self.normalised()
        } else {
            kept.join(" ")
        }
    }
}

fn parse_id(field: &'static str, raw: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let v = raw.trim();
    if v.is_empty() || v.chars().count() > MAX_ID_CHARS || v.chars().any(char::is_control) {
        return Err(ApiError::validation(
            field,
            &format!("must be 1 to {MAX_ID_CHARS} printable characters"),
            "omit the field or send a short identifier",
        ));
    }
    Ok(Some(v.to_owned()))
}

/// A validated chat request.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// The validated question: the pipeline only ever sees a [`Question`], never the raw string.
    pub question: Question,
    /// The end user, trimmed, 1 to [`MAX_ID_CHARS`] printable characters; recorded as `user.id`.
    pub user_id: Option<String>,
    /// The conversation, same rules as `user_id`; recorded as `gen_ai.conversation.id`.
    pub session_id: Option<String>,
    /// Answer as server-sent events; a missing `stream` field means one plain JSON response.
    pub stream: bool,
    /// Sources a golden-set run expects this question to find ([`EXPECT_SOURCES_HEADER`]):
    /// the retrieval span records where the first of them ranked. Empty for everyone else.
    pub expected_sources: Vec<String>,
}

/// The header a golden-set run (`ragtrace-lab eval`) names the expected sources in, comma
/// separated: `docs/lumen-hub-2.md` or just `lumen-hub-2.md`.
pub const EXPECT_SOURCES_HEADER: &str = "x-ragtrace-expect-sources";

/// The expected sources named in [`EXPECT_SOURCES_HEADER`]: at most 16, each 1 to 200 printable
/// characters.
pub fn parse_expected_sources(header: Option<&[u8]>) -> Result<Vec<String>, ApiError> {
    let Some(raw) = header else {
        return Ok(Vec::new());
    };
    let bad = |why: &str| {
        ApiError::validation(
            EXPECT_SOURCES_HEADER,
            why,
            "name at most 16 document paths, comma separated, e.g. docs/lumen-hub-2.md,faq.md",
        )
    };
    let text = std::str::from_utf8(raw).map_err(|_| bad("is not UTF-8"))?;
    let names: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if names.len() > 16 {
        return Err(bad("names more than 16 sources"));
    }
    if names
        .iter()
        .any(|n| n.chars().count() > 200 || n.chars().any(char::is_control))
    {
        return Err(bad(
            "has a name over 200 characters or with control characters",
        ));
    }
    Ok(names)
}

impl ChatRequest {
    /// Parses a request body, naming the offending field on any error.
    pub fn parse(body: &[u8], max_question_chars: usize) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_json(
                "the request body is empty",
                "send a JSON object such as {\"question\": \"How do I reset the Lumen Hub 2?\"}",
            ));
        }
        let de = &mut serde_json::Deserializer::from_slice(body);
        let parsed: ChatRequestBody = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                ApiError::bad_json(
                    &format!("malformed JSON: {inner}"),
                    "send a valid JSON object",
                )
            } else {
                let field = if path == "." { None } else { Some(path) };
                ApiError::schema(field, &inner.to_string(), CHAT_BODY)
            }
        })?;
        // Whitespace may follow the object, nothing else: `{"question": "…"}garbage` is not
        // a request, as an upload's JSON with trailing bytes is not.
        de.end().map_err(|e| {
            ApiError::bad_json(
                &format!("malformed JSON: {e}"),
                "send one JSON object and nothing after it",
            )
        })?;
        Ok(Self {
            question: Question::parse(&parsed.question, max_question_chars)?,
            user_id: parse_id("user_id", parsed.user_id)?,
            session_id: parse_id("session_id", parsed.session_id)?,
            stream: parsed.stream.unwrap_or(false),
            expected_sources: Vec::new(),
        })
    }
}

/// A source passage or product used for an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Source {
    /// Citation marker used in the answer, e.g. `1` or `P1`.
    pub marker: String,
    /// Point id (documents) or product id.
    pub id: String,
    /// Document title or product name.
    pub title: String,
    /// Where it came from: a document path or `catalog`.
    pub source: String,
    /// What the passage ranked by (the fused score in hybrid retrieval, the cosine similarity in
    /// dense, the BM25 score in sparse; the retrieval span has each leg's), or a product's relevance.
    pub score: f32,
    /// Whether the answer cites it.
    pub cited: bool,
}

/// Token usage of a chat request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenUsage {
    /// Prompt tokens of the LLM call.
    pub input_tokens: u32,
    /// Completion tokens of the LLM call.
    pub output_tokens: u32,
    /// Tokens embedded for the search.
    pub embedding_tokens: u32,
}

/// The response of `POST /v1/chat` (and the `done` event of a streamed answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChatResponse {
    /// The answer, with citation markers such as `[1]`.
    pub answer: String,
    /// Passages and products given to the model.
    pub sources: Vec<Source>,
    /// Tokens used by this request (zero when answered from the cache).
    pub usage: TokenUsage,
    /// Estimated cost of this request in USD (zero when answered from the cache).
    pub cost_usd: f64,
    /// Whether the answer came from the cache.
    pub cache_hit: bool,
    /// Model that produced the answer.
    pub model: String,
    /// W3C trace id of this request.
    pub trace_id: String,
}

/// An answer as the answer cache keeps it: the JSON body a cache hit answers with (no usage, no
/// cost, `cache_hit: true`), whole but for its trace id, left empty at the very end. A hit copies
/// the entry and writes its own trace id in, where parsing it and serialising a response again
/// cost about a quarter of a hit's instructions (`bench/instructions.py`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedAnswer(String);

impl CachedAnswer {
    /// How every entry ends: the empty trace id, and the end of the object.
    const TAIL: &'static str = r#","trace_id":""}"#;

    /// The JSON body of `resp`, and its cache entry (`resp` as a later hit answers it, without a
    /// trace id). The two share their answer and sources, most of their bytes: serialised once,
    /// then each given its own usage, cost, hit flag, model and trace id (serialising each
    /// whole cost a miss about 21,000 instructions more, `bench/instructions.py`).
    pub fn with_body(resp: &ChatResponse) -> (String, Self) {
        // `ChatResponse`'s fields, in its order: the shared head, then each one's tail.
        #[derive(Serialize)]
        struct Head<'a> {
            answer: &'a str,
            sources: &'a [Source],
        }
        #[derive(Serialize)]
        struct Tail<'a> {
            usage: TokenUsage,
            cost_usd: f64,
            cache_hit: bool,
            model: &'a str,
            trace_id: &'a str,
        }
        // A response holds strings, numbers and booleans only: serialising it cannot fail.
        fn json(v: &impl Serialize) -> String {
            serde_json::to_string(v).unwrap_or_else(|_| "{}".to_owned())
        }
        let head = json(&Head {
            answer: &resp.answer,
            sources: &resp.sources,
        });
        // `{"answer":…,"sources":[…]}` and `{"usage":…}` make `{"answer":…,"sources":[…],"usage":…}`.
        let join = |tail: &str| {
            let mut out = String::with_capacity(head.len() + tail.len());
            out.push_str(head.strip_suffix('}').unwrap_or(&head));
            out.push(',');
            out.push_str(tail.strip_prefix('{').unwrap_or(tail));
            out
        };
        let body = join(&json(&Tail {
            usage: resp.usage,
            cost_usd: resp.cost_usd,
            cache_hit: resp.cache_hit,
            model: &resp.model,
            trace_id: &resp.trace_id,
        }));
        let entry = join(&json(&Tail {
            usage: TokenUsage::default(),
            cost_usd: 0.0,
            cache_hit: true,
            model: &resp.model,
            trace_id: "",
        }));
        (body, Self(entry))
    }

    /// A stored entry, or `None` for one of another shape (written by an older version: a miss,
    /// overwritten by the next answer). Only the shape is checked: the entry is sent as the app
    /// wrote it, so the cache (Redis in production) must be one only this app writes to.
    pub fn from_stored(json: String) -> Option<Self> {
        (json.starts_with(r#"{"answer":""#) && json.ends_with(Self::TAIL)).then_some(Self(json))
    }

    /// The entry as it is stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The response body of a hit in the trace `trace_id`.
    pub fn body(&self, trace_id: &str) -> String {
        // The entry up to the trace id's opening quote, the id, then `"}`.
        let head = &self.0[..self.0.len() - 2];
        let mut body = String::with_capacity(self.0.len() + trace_id.len() + 8);
        body.push_str(head);
        if trace_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            body.push_str(trace_id);
        } else {
            // Not a W3C trace id: escaped as JSON (without its quotes) all the same.
            let quoted = serde_json::to_string(trace_id).unwrap_or_default();
            body.push_str(&quoted[1..quoted.len() - 1]);
        }
        body.push_str("\"}");
        body
    }
}

/// Data of the `sources` event of a streamed answer: what the model was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatStreamSources {
    /// The passages and products, as `ChatResponse.sources` will list them.
    pub sources: Vec<Source>,
}

/// Data of a `delta` event of a streamed answer: the next piece of the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatStreamDelta {
    /// The text to append.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `answered` as a later cache hit in the trace `trace_id` answers it.
    fn hit_of(answered: &ChatResponse, trace_id: &str) -> ChatResponse {
        ChatResponse {
            usage: TokenUsage::default(),
            cost_usd: 0.0,
            cache_hit: true,
            trace_id: trace_id.to_owned(),
            ..answered.clone()
        }
    }

    /// A hit's body is exactly what serialising the hit's response would give (field for
    /// field, in order), with the hit's trace id; entries of another shape are misses.
    #[test]
    fn a_cached_answer_is_the_hits_response_body() {
        let answered = ChatResponse {
            answer: "Hold \"reset\" for 10 s [1].\nThen wait.".to_owned(),
            sources: vec![Source {
                marker: "1".to_owned(),
                id: "p-1".to_owned(),
                title: "Lumen Hub 2 — manual".to_owned(),
                source: "docs/hub.md".to_owned(),
                score: 0.8125,
                cited: true,
            }],
            usage: TokenUsage {
                input_tokens: 900,
                output_tokens: 40,
                embedding_tokens: 9,
            },
            cost_usd: 0.000_123,
            cache_hit: false,
            model: "sim-gpt-4o-mini".to_owned(),
            trace_id: "0af7651916cd43dd8448eb211c80319c".to_owned(),
        };
        let (body, stored) = CachedAnswer::with_body(&answered);
        assert_eq!(body, serde_json::to_string(&answered).unwrap());
        let hit = hit_of(&answered, "4bf92f3577b34da6a3ce929d0e0e4736");
        let read = CachedAnswer::from_stored(stored.as_str().to_owned()).expect("its own shape");
        assert_eq!(
            read.body(&hit.trace_id),
            serde_json::to_string(&hit).unwrap()
        );
        let parsed: ChatResponse = serde_json::from_str(&read.body(&hit.trace_id)).unwrap();
        assert_eq!(parsed, hit);
        // Tracing off: no trace id. An id that is not hex is still valid JSON.
        let untraced = ChatResponse {
            trace_id: String::new(),
            ..hit.clone()
        };
        assert_eq!(read.body(""), serde_json::to_string(&untraced).unwrap());
        let odd: ChatResponse = serde_json::from_str(&read.body("a\"b")).unwrap();
        assert_eq!(odd.trace_id, "a\"b");
        // An entry of an older version (the whole response, with its own trace id) is a miss.
        assert_eq!(
            CachedAnswer::from_stored(serde_json::to_string(&answered).unwrap()),
            None
        );
        assert_eq!(CachedAnswer::from_stored("not json".to_owned()), None);
    }

    /// The body and the entry share one serialisation of the answer and sources, whatever they
    /// hold: the body is the response as serde writes it, the entry the hit's response.
    #[test]
    fn the_body_and_the_entry_are_each_their_response() {
        let source = Source {
            marker: "P1".to_owned(),
            id: "sku-1".to_owned(),
            title: "}{\",\"usage\":".to_owned(),
            source: "catalog".to_owned(),
            score: 1e-7,
            cited: false,
        };
        for answer in [
            "",
            "}",
            "{\"answer\":\"\"}",
            "ü \"q\" \\ \n\t\u{1}",
            "[1] [P1]",
        ] {
            for sources in [
                vec![],
                vec![source.clone()],
                vec![source.clone(), source.clone()],
            ] {
                let resp = ChatResponse {
                    answer: answer.to_owned(),
                    sources,
                    usage: TokenUsage {
                        input_tokens: 1,
                        output_tokens: u32::MAX,
                        embedding_tokens: 0,
                    },
                    cost_usd: 1.5e-9,
                    cache_hit: false,
                    model: "m\"odel".to_owned(),
                    trace_id: String::new(),
                };
                let (body, entry) = CachedAnswer::with_body(&resp);
                assert_eq!(body, serde_json::to_string(&resp).unwrap());
                let hit = hit_of(&resp, "");
                assert_eq!(entry.as_str(), serde_json::to_string(&hit).unwrap());
                assert!(CachedAnswer::from_stored(entry.as_str().to_owned()).is_some());
            }
        }
    }

    /// Good bodies parse; defaults apply.
    #[test]
    fn parses_a_good_body() {
        let r = ChatRequest::parse(
            br#"{"question":"  How do I reset the hub? ","user_id":"u1"}"#,
            100,
        )
        .unwrap();
        assert_eq!(r.question.as_str(), "How do I reset the hub?");
        assert_eq!(r.user_id.as_deref(), Some("u1"));
        assert!(!r.stream);
    }

    /// Each kind of bad body names the field and the rule.
    #[test]
    fn bad_bodies_name_the_field() {
        let cases: &[(&[u8], u16, Option<&str>, &str)] = &[
            (b"", 400, None, "empty"),
            (b"{not json", 400, None, "malformed JSON"),
            (
                br#"{"question":"ok"} {"question":"again"}"#,
                400,
                None,
                "trailing characters",
            ),
            (
                br#"{"question":"ok"}garbage"#,
                400,
                None,
                "trailing characters",
            ),
            (br#"{"question": 5}"#, 422, Some("question"), "invalid type"),
            (br#"{}"#, 422, None, "missing field `question`"),
            (
                br#"{"question":"   "}"#,
                422,
                Some("question"),
                "must not be empty",
            ),
            (
                br#"{"question":"aaaaaaaaaaa"}"#,
                422,
                Some("question"),
                "at most 10 characters",
            ),
            (
                br#"{"question":"ok","stream":"yes"}"#,
                422,
                Some("stream"),
                "invalid type",
            ),
            (
                br#"{"question":"ok","questoin":"x"}"#,
                422,
                Some("questoin"),
                "unknown field",
            ),
            (
                br#"{"question":"ok","user_id":""}"#,
                422,
                Some("user_id"),
                "1 to 128",
            ),
        ];
        for (body, status, field, needle) in cases {
            let e = ChatRequest::parse(body, 10).unwrap_err();
            assert_eq!(e.status_code_u16(), *status, "{e:?}");
            assert_eq!(e.field(), *field, "{e:?}");
            assert!(
                e.message().contains(needle),
                "{e:?} should mention {needle}"
            );
        }
    }

    /// Normalisation makes trivially different questions equal.
    #[test]
    fn normalises_questions() {
        let a = Question::parse("How do I reset the Hub?", 100).unwrap();
        let b = Question::parse("how do i   reset the hub", 100).unwrap();
        assert_eq!(a.normalised(), b.normalised());
        // Questions without a letter or digit do not all share one cache entry.
        let n = |s: &str| Question::parse(s, 100).unwrap().normalised();
        assert_ne!(n("???"), n("!!!"));
        assert_ne!(n("🙂"), n("😡"));
        assert_eq!(n("? ?"), n("?   ?"));
        assert_ne!(n("???"), "");
    }

    /// Differently worded questions about one product search (and cache) the same query.
    #[test]
    fn product_queries_drop_intent_and_filler() {
        let q = |s: &str| Question::parse(s, 200).unwrap().product_query();
        assert_eq!(q("How much does a Beam bulb cost?"), "beam bulb");
        assert_eq!(q("What is the price of the Beam bulb"), "beam bulb");
        assert_eq!(q("Which motion sensors do you sell?"), "motion sensors");
    }

    /// Only buying questions about a named product call the product search: policy questions
    /// in shopping words never do.
    #[test]
    fn detects_product_questions() {
        let terms = ProductTerms::from_setting("");
        let yes = [
            "How much does the Beam bulb cost?",
            "Which motion sensors do you sell?",
            "Recommend a smart plug",
            "Which smart plug has the best reviews?",
            "plug p1 uk vs eu, whats the max load on each",
            "can i get the door sensor d1 4-pack in white or is it sold out",
        ];
        let no = [
            "How do I reset the Lumen Hub 2?",
            "How many weeks of parental leave do I get?",
            "how much parental leave do I get? I'm the one giving birth",
            "what is the learning budget per year",
            "how much can i spend on a desk and chair for working from home",
            "do staff get a discount when buying our own lights, how much?",
            "Can I buy extra days of holiday? How many?",
        ];
        for q in yes {
            assert!(
                Question::parse(q, 200).unwrap().concerns_products(&terms),
                "{q}"
            );
        }
        for q in no {
            assert!(
                !Question::parse(q, 200).unwrap().concerns_products(&terms),
                "{q}"
            );
        }
    }
}
