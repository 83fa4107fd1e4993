//! Text extraction: Markdown and plain text as they are, HTML to text (html2text), PDF to text
//! (pdf-extract); then normalisation. Every failure names its cause, so a bad file is reported
//! and skipped while the others are ingested.
//!
//! Extraction is bounded ([`ExtractLimits`]): a PDF's compressed streams are first inflated
//! without being kept, counting what they expand to, and a document whose streams expand past
//! `ingest.max_expanded_bytes` fails as `too_large` before the PDF library inflates anything
//! (a 10 KB PDF can hold gigabytes); [`extract_bounded`] also gives up after
//! `ingest.extract_timeout_ms` (`timeout`).

use std::time::Duration;

use sha2::{Digest as _, Sha256};

/// The document formats, defined with the job queue that carries them (`ragtrace_core::queue`).
pub use ragtrace_core::queue::Format;

/// Why a file could not be turned into text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The file cannot be read (missing, no permission, a directory...).
    #[error("cannot read the file: {0}")]
    Unreadable(String),
    /// Larger than `ingest.max_file_bytes`: refused from its size on disk, before it is read.
    #[error("the file is {size} bytes, over the {limit}-byte limit (ingest.max_file_bytes)")]
    TooLarge {
        /// The file's size on disk in bytes, quoted in the message next to the limit.
        size: u64,
        /// The configured limit in bytes (`ingest.max_file_bytes`), quoted in the message.
        limit: u64,
    },
    /// Not one of the supported formats.
    #[error("unsupported file type; ragtrace ingests .md, .txt, .html and .pdf")]
    Unsupported,
    /// Zero bytes, or nothing but whitespace after extraction.
    #[error("the document has no text")]
    Empty,
    /// A text format that is not UTF-8.
    #[error("the file is not valid UTF-8 (first bad byte at offset {0}); save it as UTF-8")]
    InvalidUtf8(usize),
    /// A PDF that cannot be parsed.
    #[error("cannot extract text from the PDF: {0}")]
    Pdf(String),
    /// HTML that cannot be converted.
    #[error("cannot convert the HTML to text: {0}")]
    Html(String),
    /// Compressed streams that expand past `ingest.max_expanded_bytes` (a decompression bomb,
    /// or a document too large to extract).
    #[error(
        "the document's compressed streams expand to more than {limit} bytes (ingest.max_expanded_bytes)"
    )]
    Expands {
        /// The configured limit in bytes.
        limit: u64,
    },
    /// Extraction took longer than `ingest.extract_timeout_ms`.
    #[error("extracting the text took longer than {ms} ms (ingest.extract_timeout_ms)")]
    Timeout {
        /// The configured limit in milliseconds.
        ms: u128,
    },
}

/// Bounds on extracting one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractLimits {
    /// What a document's compressed streams may expand to, in total
    /// (`ingest.max_expanded_bytes`).
    pub max_expanded_bytes: u64,
    /// How long extracting one document may take (`ingest.extract_timeout_ms`).
    pub timeout: Duration,
}

impl Default for ExtractLimits {
    /// The defaults of `core/config/default.toml`: 256 MiB, 60 s.
    fn default() -> Self {
        Self {
            max_expanded_bytes: 256 << 20,
            timeout: Duration::from_secs(60),
        }
    }
}

impl ExtractError {
    /// Short cause, for metrics and summaries.
    pub fn cause(&self) -> &'static str {
        match self {
            Self::Unreadable(_) => "unreadable",
            Self::TooLarge { .. } => "too_large",
            Self::Unsupported => "unsupported",
            Self::Empty => "empty",
            Self::InvalidUtf8(_) => "invalid_utf8",
            Self::Pdf(_) => "corrupt_pdf",
            Self::Html(_) => "bad_html",
            Self::Expands { .. } => "too_large",
            Self::Timeout { .. } => "timeout",
        }
    }
}

/// A document's text, ready to chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Stable name: the path the points are filed under (`docs/it-vpn-setup.md`).
    pub source: String,
    /// Title: the first heading, the HTML `<title>`, the PDF's `Title`, or the first line.
    pub title: String,
    /// The text after [`normalise`]: what is chunked, and what [`Document::hash`] is taken of.
    pub text: String,
    /// The format it was extracted from; Markdown is split at headings, the rest as plain text.
    pub format: Format,
    /// SHA-256 of the normalised text, hex: a changed document has a new hash.
    pub hash: String,
}

/// Extracts the text of `bytes` in `format`, filed under `source`, with the default
/// [`ExtractLimits`] on expansion.
pub fn extract(source: &str, bytes: &[u8], format: Format) -> Result<Document, ExtractError> {
    extract_within(
        source,
        bytes,
        format,
        ExtractLimits::default().max_expanded_bytes,
    )
}

/// [`extract`] on the blocking pool, under `limits`: compressed streams that expand past
/// `limits.max_expanded_bytes` fail as `too_large`, and an extraction that takes longer than
/// `limits.timeout` as `timeout` (its thread finishes on its own, but nothing waits for it).
pub async fn extract_bounded(
    source: String,
    bytes: Vec<u8>,
    format: Format,
    limits: ExtractLimits,
) -> Result<Document, ExtractError> {
    off_the_runtime(
        limits.timeout,
        move || extract_within(&source, &bytes, format, limits.max_expanded_bytes),
        ExtractError::Pdf,
    )
    .await
}

/// Runs `work` (reading and extracting one document) on the blocking pool: past `timeout` it is
/// [`ExtractError::Timeout`] (the thread finishes on its own, nothing waits for it), and a
/// crash is `crashed("extraction crashed: ...")`.
pub async fn off_the_runtime(
    timeout: Duration,
    work: impl FnOnce() -> Result<Document, ExtractError> + Send + 'static,
    crashed: fn(String) -> ExtractError,
) -> Result<Document, ExtractError> {
    match tokio::time::timeout(timeout, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(crashed(format!("extraction crashed: {e}"))),
        Err(_) => Err(ExtractError::Timeout {
            ms: timeout.as_millis(),
        }),
    }
}

/// [`extract`] with `max_expanded` as the bound on what compressed streams expand to.
pub fn extract_within(
    source: &str,
    bytes: &[u8],
    format: Format,
    max_expanded: u64,
) -> Result<Document, ExtractError> {
    if bytes.is_empty() {
        return Err(ExtractError::Empty);
    }
    let (raw, meta_title) = match format {
        Format::Markdown | Format::Text => (utf8(bytes)?.to_owned(), None),
        Format::Html => {
            let html = utf8(bytes)?;
            let text = html2text::config::plain_no_decorate()
                .string_from_read(html.as_bytes(), 10_000)
                .map_err(|e| ExtractError::Html(e.to_string()))?;
            (text, html_title(html))
        }
        Format::Pdf => {
            check_expansion(bytes, max_expanded)?;
            pdf_text(bytes)?
        }
    };
    let mut text = normalise(&raw);
    if format == Format::Pdf {
        text = reflow(&text);
    }
    if text.trim().is_empty() {
        return Err(ExtractError::Empty);
    }
    let title = meta_title
        .filter(|t| !t.trim().is_empty())
        .or_else(|| heading(&text))
        .unwrap_or_else(|| fallback_title(source));
    let hash = hex(&Sha256::digest(text.as_bytes()));
    Ok(Document {
        source: source.to_owned(),
        title: title.trim().to_owned(),
        text,
        format,
        hash,
    })
}

fn utf8(bytes: &[u8]) -> Result<&str, ExtractError> {
    let s = std::str::from_utf8(bytes).map_err(|e| ExtractError::InvalidUtf8(e.valid_up_to()))?;
    Ok(s.strip_prefix('\u{feff}').unwrap_or(s))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Nested zlib layers followed in one stream at most (`[/FlateDecode /FlateDecode ...]`).
const MAX_LAYERS: usize = 4;

/// Fails with [`ExtractError::Expands`] when the zlib (`FlateDecode`) streams of `pdf` expand to
/// more than `limit` bytes in total. Each stream is inflated through all its zlib layers and the
/// bytes coming out are counted, not kept, so checking costs a 64 KiB buffer per layer whatever
/// the stream expands to; the scan stops as soon as the total passes the limit. Streams are
/// found by their `stream`/`endstream` keywords, so a file that the PDF parser would reject is
/// checked too. Other compressions (LZW, run-length) are not counted.
fn check_expansion(pdf: &[u8], limit: u64) -> Result<(), ExtractError> {
    let mut total = 0u64;
    let mut at = 0;
    while let Some(found) = find(&pdf[at..], b"stream") {
        let keyword = at + found;
        at = keyword + b"stream".len();
        if pdf[..keyword].ends_with(b"end") {
            continue;
        }
        let rest = &pdf[at..];
        let start = if rest.starts_with(b"\r\n") {
            at + 2
        } else if rest.starts_with(b"\n") || rest.starts_with(b"\r") {
            at + 1
        } else {
            continue;
        };
        let end = find(&pdf[start..], b"endstream").map_or(pdf.len(), |e| start + e);
        total += inflated_len(&pdf[start..end], limit.saturating_sub(total) + 1);
        if total > limit {
            return Err(ExtractError::Expands { limit });
        }
        at = end;
    }
    Ok(())
}

/// What zlib data `data` expands to through up to [`MAX_LAYERS`] nested layers, counting at
/// most `budget` bytes; 0 when it is not zlib data.
fn inflated_len(data: &[u8], budget: u64) -> u64 {
    use flate2::read::ZlibDecoder;
    use std::io::{BufRead, BufReader, Read as _};
    let zlib = |b: &[u8]| {
        b.len() >= 2 && b[0] & 0x0f == 8 && (u16::from(b[0]) << 8 | u16::from(b[1])) % 31 == 0
    };
    if !zlib(data) {
        return 0;
    }
    let mut reader: Box<dyn BufRead + '_> =
        Box::new(BufReader::with_capacity(64 << 10, ZlibDecoder::new(data)));
    for _ in 1..MAX_LAYERS {
        match reader.fill_buf() {
            Ok(head) if zlib(head) => {
                reader = Box::new(BufReader::with_capacity(64 << 10, ZlibDecoder::new(reader)));
            }
            _ => break,
        }
    }
    let mut buf = vec![0u8; 64 << 10];
    let mut counted = 0u64;
    while counted < budget {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => counted += n as u64,
        }
    }
    counted
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Text of a PDF and its metadata title. pdf-extract can panic on malformed input; a panic is a
/// corrupt file, not a crash.
fn pdf_text(bytes: &[u8]) -> Result<(String, Option<String>), ExtractError> {
    let doc =
        pdf_extract::Document::load_mem(bytes).map_err(|e| ExtractError::Pdf(e.to_string()))?;
    let title = pdf_title(&doc);
    let owned = bytes.to_vec();
    let text = std::panic::catch_unwind(move || pdf_extract::extract_text_from_mem(&owned))
        .map_err(|_| ExtractError::Pdf("the PDF's content streams are malformed".into()))?
        .map_err(|e| ExtractError::Pdf(e.to_string()))?;
    Ok((text, title))
}

fn pdf_title(doc: &pdf_extract::Document) -> Option<String> {
    let info = doc.trailer.get(b"Info").ok()?;
    let info = match info {
        pdf_extract::Object::Reference(id) => doc.get_object(*id).ok()?,
        other => other,
    };
    let title = info.as_dict().ok()?.get(b"Title").ok()?;
    match title {
        pdf_extract::Object::String(bytes, _) => {
            // UTF-16BE with a BOM, or PDFDocEncoding (close enough to Latin-1 for titles).
            if bytes.starts_with(&[0xfe, 0xff]) {
                let units: Vec<u16> = bytes[2..]
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
                String::from_utf16(&units).ok()
            } else {
                Some(bytes.iter().map(|&b| char::from(b)).collect())
            }
        }
        _ => None,
    }
}

fn html_title(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = lower[start..].find('>')? + start + 1;
    let end = lower[open_end..].find("</title")? + open_end;
    let t = html[open_end..end].split_whitespace().collect::<Vec<_>>();
    (!t.is_empty()).then(|| t.join(" "))
}

/// The first Markdown heading, or the first non-empty line (shortened).
fn heading(text: &str) -> Option<String> {
    if let Some(h) = text.lines().find_map(|l| l.strip_prefix("# ")) {
        return Some(h.to_owned());
    }
    let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let first = first.trim_start_matches('#').trim();
    Some(if first.chars().count() > 100 {
        let cut: String = first.chars().take(100).collect();
        format!("{cut}…")
    } else {
        first.to_owned()
    })
}

fn fallback_title(source: &str) -> String {
    std::path::Path::new(source)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(source)
        .replace(['-', '_'], " ")
}

/// Joins the lines a PDF wrapped mid-sentence: a line that does not end a sentence (`.`, `!`,
/// `?`, `:` or `;`) runs on into the next when that one starts in lower case or with a currency
/// sign ("nothing worth more than" / "€50 a year"); not with a digit, which starts a numbered
/// step as often as it continues a sentence. PDF text has a line break
/// wherever the page did, and the chunker cuts at a line break before it cuts at a sentence, so
/// without this a chunk could end in the middle of the sentence that holds the answer. Blank
/// lines, bullets and headings (a next line in upper case) are kept as they are.
pub fn reflow(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        out.push_str(line);
        let ends_sentence =
            line.trim_end().ends_with(['.', '!', '?', ':', ';']) || line.trim().is_empty();
        let continues = lines.peek().is_some_and(|next| {
            next.trim_start()
                .chars()
                .next()
                .is_some_and(|c| c.is_lowercase() || "€$£(".contains(c))
        });
        match lines.peek() {
            Some(_) if !ends_sentence && continues => out.push(' '),
            Some(_) => out.push('\n'),
            None => {}
        }
    }
    out
}

/// Line endings to `\n`, control characters (but tabs and newlines) removed, trailing spaces
/// trimmed, runs of blank lines collapsed to one, spaces inside a line collapsed.
pub fn normalise(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut blank_run = 0;
    for line in raw.replace("\r\n", "\n").replace('\r', "\n").lines() {
        let cleaned: String = line
            .chars()
            .filter(|c| !c.is_control() || *c == '\t')
            .map(|c| if c == '\t' || c == '\u{a0}' { ' ' } else { c })
            .collect();
        // Collapse runs of spaces, but keep leading indentation (Markdown lists, code).
        let indent = cleaned.len() - cleaned.trim_start().len();
        let body = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
        if body.is_empty() {
            blank_run += 1;
            if blank_run == 1 && !out.is_empty() {
                out.push('\n');
            }
            continue;
        }
        blank_run = 0;
        out.push_str(&" ".repeat(indent.min(8)));
        out.push_str(&body);
        out.push('\n');
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines a page wrapped mid-sentence are joined; sentence ends, blank lines, bullets and
    /// headings are kept.
    #[test]
    fn pdf_lines_wrapped_mid_sentence_are_joined() {
        let text = "Gifts\n\nGifts must be modest: nothing worth more than\n€50 a year, and none\nwhile a tender is open.\nSafety Review Board\n• Stop using the plug\n• unplug it\n3 Leave by the nearest exit\n4 Close doors\n12 hours";
        assert_eq!(
            reflow(text),
            "Gifts\n\nGifts must be modest: nothing worth more than €50 a year, and none while a tender is open.\nSafety Review Board\n• Stop using the plug\n• unplug it\n3 Leave by the nearest exit\n4 Close doors\n12 hours"
        );
        assert_eq!(reflow("one line"), "one line");
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(data).unwrap();
        z.finish().unwrap()
    }

    /// A PDF-like file whose one content stream is `stream`.
    fn pdf_with(stream: &[u8], filters: &str) -> Vec<u8> {
        let mut pdf = format!(
            "%PDF-1.4\n1 0 obj\n<< /Length {} /Filter {filters} >>\nstream\n",
            stream.len()
        )
        .into_bytes();
        pdf.extend_from_slice(stream);
        pdf.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
        pdf
    }

    /// A stream that inflates past the limit, through one zlib layer or two stacked ones, is
    /// refused from its expansion, before the PDF library sees it; within the limit it passes.
    #[test]
    fn compressed_streams_are_bounded_by_what_they_expand_to() {
        let zeros = vec![0u8; 8 << 20];
        let once = zlib(&zeros);
        let twice = zlib(&once);
        assert!(twice.len() < 2_000, "a few KB hold 8 MiB: {}", twice.len());
        for (stream, filters) in [
            (&once, "/FlateDecode"),
            (&twice, "[/FlateDecode /FlateDecode]"),
        ] {
            let pdf = pdf_with(stream, filters);
            assert_eq!(check_expansion(&pdf, 16 << 20), Ok(()));
            let e = check_expansion(&pdf, 4 << 20).unwrap_err();
            assert_eq!(e, ExtractError::Expands { limit: 4 << 20 });
            assert_eq!(e.cause(), "too_large");
            let e = extract_within("bomb.pdf", &pdf, Format::Pdf, 4 << 20).unwrap_err();
            assert_eq!(e, ExtractError::Expands { limit: 4 << 20 });
        }
        // Uncompressed streams, and text that merely says "stream", are not compressed data.
        assert_eq!(
            check_expansion(&pdf_with(b"BT (hi) Tj ET", "[]"), 1),
            Ok(())
        );
        assert_eq!(check_expansion(b"a stream of words, endstream", 1), Ok(()));
    }

    /// Markdown keeps its text; the title is the first heading; the hash follows the text.
    #[test]
    fn markdown_title_and_hash() {
        let d = extract(
            "docs/a.md",
            b"# VPN setup\r\n\r\n\r\n\r\nInstall   the client.\n",
            Format::Markdown,
        )
        .unwrap();
        assert_eq!(d.title, "VPN setup");
        assert_eq!(d.text, "# VPN setup\n\nInstall the client.");
        let again = extract(
            "docs/a.md",
            b"# VPN setup\n\nInstall the client.",
            Format::Markdown,
        )
        .unwrap();
        assert_eq!(d.hash, again.hash, "normalised text decides the hash");
        let changed =
            extract("docs/a.md", b"# VPN setup\n\nInstall it.", Format::Markdown).unwrap();
        assert_ne!(d.hash, changed.hash);
    }

    /// HTML becomes text: tags, scripts and styles go, the `<title>` is the title.
    #[test]
    fn html_to_text() {
        let html = br#"<!doctype html><html><head><title>Guest Wi-Fi</title>
            <style>p { color: red }</style><script>var secret = 1;</script></head>
            <body><h1>Guest network</h1><p>The password rotates <b>every Monday</b>.</p>
            <ul><li>Lisbon</li><li>Rotterdam</li></ul></body></html>"#;
        let d = extract("docs/wifi.html", html, Format::Html).unwrap();
        assert_eq!(d.title, "Guest Wi-Fi");
        assert!(
            d.text.contains("The password rotates every Monday."),
            "{}",
            d.text
        );
        assert!(d.text.contains("Rotterdam"));
        assert!(!d.text.contains('<'), "{}", d.text);
        assert!(!d.text.contains("var secret"), "{}", d.text);
        assert!(!d.text.contains("color: red"), "{}", d.text);
    }

    /// Every kind of bad input is a typed error with its cause.
    #[test]
    fn bad_input_is_reported_by_cause() {
        let cases: [(&[u8], Format, &str); 5] = [
            (b"", Format::Markdown, "empty"),
            (b" \n\t\n ", Format::Text, "empty"),
            (b"caf\xe9 au lait", Format::Text, "invalid_utf8"),
            (
                b"%PDF-1.4 this is not really a pdf",
                Format::Pdf,
                "corrupt_pdf",
            ),
            (b"<html><body>   </body></html>", Format::Html, "empty"),
        ];
        for (bytes, format, cause) in cases {
            let err = extract("x", bytes, format).unwrap_err();
            assert_eq!(err.cause(), cause, "{err}");
        }
        assert_eq!(
            extract("x", b"caf\xe9", Format::Text).unwrap_err(),
            ExtractError::InvalidUtf8(3)
        );
    }

    /// Formats come from extensions and MIME types.
    #[test]
    fn formats() {
        use std::path::Path;
        assert_eq!(
            Format::from_path(Path::new("a/B.MD")),
            Some(Format::Markdown)
        );
        assert_eq!(Format::from_path(Path::new("a.htm")), Some(Format::Html));
        assert_eq!(Format::from_path(Path::new("a.pdf")), Some(Format::Pdf));
        assert_eq!(Format::from_path(Path::new("a.docx")), None);
        assert_eq!(
            Format::from_mime("text/html; charset=utf-8"),
            Some(Format::Html)
        );
        assert_eq!(Format::from_mime("image/png"), None);
    }
}
