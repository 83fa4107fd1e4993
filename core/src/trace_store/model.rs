//! What the store keeps: spans as the viewer shows them (attribute values typed, times in
//! microseconds), traces, and the one-line summary of a trace.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::UNIX_EPOCH;

use opentelemetry::Value;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;
use serde::Serialize;

use crate::semconv::{Stage, attr};
use crate::telemetry::propagation::hex;

/// A stored attribute value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AttrValue {
    /// A boolean (e.g. `ragtrace.cache_hit`), kept typed so the JSON says `true`, not `"true"`.
    Bool(bool),
    /// An integer (token counts, status codes), serialised as a JSON number.
    Int(i64),
    /// A float (cost in USD, scores), serialised as a JSON number.
    Float(f64),
    /// String (also arrays, joined).
    Str(String),
}

/// Its JSON is any of a boolean, a number or a string: `anyOf`, not the `oneOf` a derived schema
/// would say, since an integer is a number too.
impl utoipa::PartialSchema for AttrValue {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type,
        };
        let typed = |t: Type, format: Option<KnownFormat>| {
            ObjectBuilder::new()
                .schema_type(t)
                .format(format.map(SchemaFormat::KnownFormat))
        };
        AnyOfBuilder::new()
            .item(typed(Type::Boolean, None))
            .item(typed(Type::Integer, Some(KnownFormat::Int64)))
            .item(typed(Type::Number, Some(KnownFormat::Double)))
            .item(typed(Type::String, None))
            .description(Some(
                "A stored attribute value: boolean, integer, float, or string (arrays are joined into a string).",
            ))
            .into()
    }
}

impl utoipa::ToSchema for AttrValue {}

impl AttrValue {
    fn from_otel(v: &Value) -> Self {
        match v {
            Value::Bool(b) => Self::Bool(*b),
            Value::I64(i) => Self::Int(*i),
            Value::F64(f) => Self::Float(*f),
            other => Self::Str(other.as_str().into_owned()),
        }
    }

    /// Heap bytes beyond the value itself (the string's buffer).
    fn heap(&self) -> usize {
        match self {
            Self::Str(s) => block(s.capacity()),
            _ => 0,
        }
    }

    /// The value as text.
    pub fn as_text(&self) -> String {
        match self {
            Self::Bool(b) => b.to_string(),
            Self::Int(i) => i.to_string(),
            Self::Float(f) => f.to_string(),
            Self::Str(s) => s.clone(),
        }
    }
}

/// An attribute's key. A span's keys are the names of `tracing` fields and of semantic
/// conventions: a few hundred distinct strings in a process's life, which the store keeps once
/// each ([`attr_key`]) rather than once per span.
pub type AttrKey = Cow<'static, str>;

/// How many distinct keys the store keeps once; past that (imported traces can bring any
/// keys), a key is a string of its own, and counted as such.
const MAX_SHARED_KEYS: usize = 4096;

/// The key `key` as the store keeps it: the shared copy, made on first sight.
///
/// Each thread remembers the keys it found last in a small table indexed by where the key's
/// text lives: a span's keys are mostly `tracing` field names and semantic-convention constants,
/// `&'static str`s at fixed addresses, so the same slot answers every time, without the shared
/// set's lock or a hash of the text (about 100 instructions less a key, and a traced request
/// stores some 150). The text is compared all the same: an owned key can be freed and its
/// address reused by another.
pub fn attr_key(key: &str) -> AttrKey {
    const SLOTS: usize = 256;
    thread_local! {
        static RECENT: std::cell::RefCell<[Option<&'static str>; SLOTS]> =
            const { std::cell::RefCell::new([None; SLOTS]) };
    }
    // Fibonacci hashing of the address: its top 8 bits pick the slot.
    let slot = ((key.as_ptr() as usize as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize;
    if let Some(k) = RECENT.with_borrow(|recent| recent[slot].filter(|k| *k == key)) {
        return Cow::Borrowed(k);
    }
    let shared = shared_key(key);
    if let Cow::Borrowed(k) = shared {
        RECENT.with_borrow_mut(|recent| recent[slot] = Some(k));
    }
    shared
}

/// [`attr_key`] without the thread's table: the shared copy from the process's set.
fn shared_key(key: &str) -> AttrKey {
    type Keys = std::collections::HashSet<&'static str, foldhash::fast::RandomState>;
    static KEYS: OnceLock<std::sync::RwLock<Keys>> = OnceLock::new();
    let keys = KEYS.get_or_init(Default::default);
    if let Some(k) = keys
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(key)
    {
        return Cow::Borrowed(k);
    }
    let mut keys = keys
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(k) = keys.get(key) {
        return Cow::Borrowed(k);
    }
    if keys.len() >= MAX_SHARED_KEYS {
        return Cow::Owned(key.to_owned());
    }
    // Kept for the process's life: at most MAX_SHARED_KEYS short strings.
    let shared: &'static str = Box::leak(key.into());
    keys.insert(shared);
    Cow::Borrowed(shared)
}

/// Heap bytes a key holds of its own (a shared one holds none).
fn key_heap(key: &AttrKey) -> usize {
    match key {
        Cow::Borrowed(_) => 0,
        Cow::Owned(s) => block(s.capacity()),
    }
}

/// An event recorded inside a span, such as a log line emitted while it was current.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredEvent {
    /// Event name (for log events, the message).
    pub name: String,
    /// Time since the span started, microseconds.
    pub offset_us: u64,
    /// The event's fields, typed like span attributes, in recording order.
    #[schema(value_type = Vec<(String, AttrValue)>)]
    pub attributes: Vec<(AttrKey, AttrValue)>,
}

/// A finished span as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredSpan {
    /// The W3C trace id as 32 hex characters, the key the viewer and Jaeger share.
    pub trace_id: String,
    /// The span id as 16 hex characters; children name it in their `parent_span_id`.
    pub span_id: String,
    /// Hex parent span id; empty for a root.
    pub parent_span_id: String,
    /// The span name (`otel.name`, e.g. `chat sim-gpt-4o-mini`): what `operation` filters on.
    pub name: String,
    /// `service.name` of the process that made it.
    pub service: String,
    /// `server`, `client`, `internal`, `producer`, `consumer`.
    pub kind: &'static str,
    /// Start, microseconds since the Unix epoch.
    pub start_us: u64,
    /// Start to end, microseconds; the breakdown sums it per stage.
    pub duration_us: u64,
    /// `unset`, `ok` or `error`.
    pub status: &'static str,
    /// Error description, when the status is `error`.
    pub status_message: String,
    /// Attributes, in recording order.
    #[schema(value_type = Vec<(String, AttrValue)>)]
    pub attributes: Vec<(AttrKey, AttrValue)>,
    /// Events recorded while the span was open (its log lines, for one), in order.
    pub events: Vec<StoredEvent>,
    /// Whether this is the local root of the trace (no parent, or a parent in another process):
    /// once it has ended, the trace is complete as far as this process is concerned.
    pub local_root: bool,
}

impl StoredSpan {
    /// The value of attribute `key`; when it was recorded twice, the last value wins.
    pub fn attr(&self, key: &str) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The pipeline stage this span measures, if any.
    pub fn stage(&self) -> Option<Stage> {
        let name = self.attr(attr::STAGE)?.as_text();
        Stage::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The span as the store keeps it. Ids are written as lower-case hex directly, and keys
    /// copied as they are: through `Display` they cost a formatter each, and a traced request
    /// stores some 150 of them.
    pub(super) fn from_data(span: &SpanData, service: &str) -> Self {
        let start = span
            .start_time
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let duration = span
            .end_time
            .duration_since(span.start_time)
            .unwrap_or_default();
        let (status, status_message) = match &span.status {
            Status::Unset => ("unset", String::new()),
            Status::Ok => ("ok", String::new()),
            Status::Error { description } => ("error", description.to_string()),
        };
        Self {
            trace_id: hex(&span.span_context.trace_id().to_bytes()),
            span_id: hex(&span.span_context.span_id().to_bytes()),
            parent_span_id: if span.parent_span_id == opentelemetry::trace::SpanId::INVALID {
                String::new()
            } else {
                hex(&span.parent_span_id.to_bytes())
            },
            local_root: span.parent_span_id == opentelemetry::trace::SpanId::INVALID
                || span.parent_span_is_remote,
            name: span.name.to_string(),
            service: service.to_owned(),
            kind: match span.span_kind {
                SpanKind::Server => "server",
                SpanKind::Client => "client",
                SpanKind::Producer => "producer",
                SpanKind::Consumer => "consumer",
                SpanKind::Internal => "internal",
            },
            start_us: start.as_micros() as u64,
            duration_us: duration.as_micros() as u64,
            status,
            status_message,
            attributes: span
                .attributes
                .iter()
                .map(|kv| (attr_key(kv.key.as_str()), AttrValue::from_otel(&kv.value)))
                .collect(),
            events: span
                .events
                .iter()
                .map(|e| StoredEvent {
                    name: e.name.to_string(),
                    offset_us: e
                        .timestamp
                        .duration_since(span.start_time)
                        .unwrap_or_default()
                        .as_micros() as u64,
                    attributes: e
                        .attributes
                        .iter()
                        .map(|kv| (attr_key(kv.key.as_str()), AttrValue::from_otel(&kv.value)))
                        .collect(),
                })
                .collect(),
        }
    }

    pub(super) fn size(&self) -> usize {
        use std::mem::size_of;
        // Every allocation as the allocator sees it: the inline size of each element of a Vec's
        // capacity and each string's buffer, rounded up to the allocator's block ([`block`]),
        // so the byte cap bounds memory, not text.
        let pairs = |v: &Vec<(AttrKey, AttrValue)>| {
            block(v.capacity() * size_of::<(AttrKey, AttrValue)>())
                + v.iter().map(|(k, v)| key_heap(k) + v.heap()).sum::<usize>()
        };
        let events = block(self.events.capacity() * size_of::<StoredEvent>())
            + self
                .events
                .iter()
                .map(|e| block(e.name.capacity()) + pairs(&e.attributes))
                .sum::<usize>();
        let strings: usize = [
            &self.trace_id,
            &self.span_id,
            &self.parent_span_id,
            &self.name,
            &self.service,
            &self.status_message,
        ]
        .iter()
        .map(|s| block(s.capacity()))
        .sum();
        size_of::<Self>() + strings + pairs(&self.attributes) + events
    }
}

/// A trace: its spans, in the order they ended.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoredTrace {
    /// The W3C trace id (32 lower-case hex characters), the key the store files the trace under.
    pub trace_id: String,
    /// The spans received so far, in the order they ended; `TraceStore::get` sorts them by start.
    pub spans: Vec<StoredSpan>,
    #[serde(skip)]
    pub(super) bytes: usize,
}

/// One line of the trace list.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TraceSummary {
    /// The W3C trace id, to open the trace with `GET /api/traces/{trace_id}` or in Jaeger.
    pub trace_id: String,
    /// Name of the root span (or the earliest span when the root is elsewhere).
    pub root: String,
    /// Service of the root span.
    pub service: String,
    /// Start, microseconds since the Unix epoch.
    pub start_us: u64,
    /// From the first span's start to the last span's end, microseconds.
    pub duration_us: u64,
    /// Spans held for the trace: this process's only, so a trace that crosses processes is partial.
    pub span_count: usize,
    /// Whether any span failed.
    pub error: bool,
    /// `user.id` of the request, if recorded.
    pub user_id: Option<String>,
    /// Whether the answer came from the cache, if recorded.
    pub cache_hit: Option<bool>,
    /// Estimated cost, USD, if recorded.
    pub cost_usd: Option<f64>,
    /// Whether the trace's local root span has ended (until then, spans may still arrive).
    pub complete: bool,
}

impl StoredTrace {
    /// The root span: no parent, or a parent that is not in the store (a remote caller's).
    pub fn root(&self) -> Option<&StoredSpan> {
        self.spans
            .iter()
            .filter(|s| {
                s.parent_span_id.is_empty()
                    || !self.spans.iter().any(|p| p.span_id == s.parent_span_id)
            })
            .min_by_key(|s| s.start_us)
    }

    /// Summary for the list.
    pub fn summary(&self) -> TraceSummary {
        let start = self.spans.iter().map(|s| s.start_us).min().unwrap_or(0);
        let end = self
            .spans
            .iter()
            .map(|s| s.start_us + s.duration_us)
            .max()
            .unwrap_or(0);
        let root = self.root();
        // The root's value wins (the request's cost is on the root; a child's is only its part).
        let find = |key: &str| {
            root.and_then(|r| r.attr(key).cloned())
                .or_else(|| self.spans.iter().find_map(|s| s.attr(key).cloned()))
        };
        TraceSummary {
            trace_id: self.trace_id.clone(),
            root: root.map(|r| r.name.clone()).unwrap_or_default(),
            service: root.map(|r| r.service.clone()).unwrap_or_default(),
            start_us: start,
            duration_us: end.saturating_sub(start),
            span_count: self.spans.len(),
            complete: self.spans.iter().any(|s| s.local_root),
            error: self.spans.iter().any(|s| s.status == "error"),
            user_id: find(attr::USER_ID)
                .map(|v| v.as_text())
                .filter(|u| !u.is_empty()),
            cache_hit: find(attr::CACHE_HIT).and_then(|v| match v {
                AttrValue::Bool(b) => Some(b),
                AttrValue::Str(s) => s.parse().ok(),
                _ => None,
            }),
            cost_usd: find(attr::COST_USD).and_then(|v| match v {
                AttrValue::Float(f) => Some(f),
                AttrValue::Int(i) => Some(i as f64),
                _ => None,
            }),
        }
    }
}

/// How the allocator rounds a request of `n` bytes up: set once by the binary that chose the
/// global allocator ([`count_allocations_as`]); unset, a request counts as itself.
static BLOCKS: OnceLock<fn(usize) -> usize> = OnceLock::new();

/// Counts each allocation of the store as `blocks(requested bytes)`: the block the global
/// allocator really hands out for it, such as [`mimalloc_block`]. Called once, by `main`, next
/// to `#[global_allocator]`; later calls are ignored.
pub fn count_allocations_as(blocks: fn(usize) -> usize) {
    let _ = BLOCKS.set(blocks);
}

/// The bytes an allocation of `n` bytes takes (nothing for none).
pub(super) fn block(n: usize) -> usize {
    match n {
        0 => 0,
        n => BLOCKS.get().map_or(n, |blocks| blocks(n)),
    }
}

/// The block mimalloc (v3, 64-bit, release build: no padding) hands out for `n` bytes: whole
/// words up to 64 bytes, then four size classes per power of two (an eighth more than asked on
/// average, a quarter at most) up to 512 KiB, then whole 4 KiB pages. `mi_bin` and `mi_good_size` in its
/// `page-queue.c`, in safe Rust.
pub fn mimalloc_block(n: usize) -> usize {
    const WORD: usize = 8;
    const LARGE_MAX: usize = 512 << 10;
    if n > LARGE_MAX {
        return n.div_ceil(4096) * 4096;
    }
    let words = n.div_ceil(WORD).max(1);
    if words <= 8 {
        return words * WORD;
    }
    // The top three bits of `words - 1` name the class; the class holds up to the next step.
    let w = words - 1;
    let shift = (usize::BITS - 1 - w.leading_zeros()) - 2;
    (((w >> shift) + 1) << shift) * WORD
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    /// A key is kept once: two spans' copies of it are the same string, and it costs a span no
    /// heap of its own; a key of its own (past the shared set) is counted.
    #[test]
    fn attribute_keys_are_kept_once_and_cost_a_span_nothing() {
        let a = super::attr_key(&String::from("ragtrace.test.shared_key"));
        let b = super::attr_key(&String::from("ragtrace.test.shared_key"));
        let (Cow::Borrowed(a), Cow::Borrowed(b)) = (&a, &b) else {
            panic!("not shared: {a:?} {b:?}");
        };
        assert!(std::ptr::eq(*a, *b), "one copy for both");
        assert_eq!(super::key_heap(&Cow::Borrowed(a)), 0);
        let own: super::AttrKey = Cow::Owned("x".repeat(40));
        assert_eq!(super::key_heap(&own), super::block(40));
    }

    /// The thread's table is indexed by where a key's text lives, but a key is its text: another
    /// key written at the same address (a buffer reused) is that other key, and a key seen in
    /// a new buffer is the shared copy all the same.
    #[test]
    fn a_key_is_its_text_wherever_the_text_lives() {
        let mut buf = String::with_capacity(64);
        buf.push_str("ragtrace.test.first_key");
        let at = buf.as_ptr();
        let first = super::attr_key(&buf);
        assert_eq!(first, "ragtrace.test.first_key");
        assert_eq!(
            super::attr_key(&buf),
            "ragtrace.test.first_key",
            "found again"
        );
        buf.clear();
        buf.push_str("ragtrace.test.other_key");
        assert_eq!(buf.as_ptr(), at, "the same buffer");
        assert_eq!(super::attr_key(&buf), "ragtrace.test.other_key");
        let again = super::attr_key(&String::from("ragtrace.test.first_key"));
        let (Cow::Borrowed(first), Cow::Borrowed(again)) = (&first, &again) else {
            panic!("not shared: {first:?} {again:?}");
        };
        assert!(
            std::ptr::eq(*first, *again),
            "one copy, whichever buffer asked"
        );
    }

    /// mimalloc's blocks, worked out from its `mi_bin`: 8-byte steps to 64 bytes, four classes
    /// per power of two above (10, 12, 14, 16 words; 20, 24, 28, 32; ...), pages past 512 KiB.
    #[test]
    fn mimalloc_blocks_round_up_to_the_size_class() {
        for (asked, block) in [
            (1, 8),
            (8, 8),
            (9, 16),
            (64, 64),
            (65, 80),
            (80, 80),
            (81, 96),
            (100, 112),
            (128, 128),
            (129, 160),
            (1000, 1024),
            (1025, 1280),
            (4097, 5120),
            (6000, 6144),
            (512 << 10, 512 << 10),
            ((512 << 10) + 1, (512 << 10) + 4096),
        ] {
            assert_eq!(super::mimalloc_block(asked), block, "{asked} bytes");
        }
        // Never less than asked, never more than a quarter (and a word) over.
        for n in 1..600_000 {
            let b = super::mimalloc_block(n);
            assert!(b >= n && b <= n + n / 4 + 8, "{n} -> {b}");
        }
    }
}
