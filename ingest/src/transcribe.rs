//! Meeting transcription (case study 3): a WAV recording is cut into overlapping chunks, each
//! chunk is sent to `/v1/audio/transcriptions` through async-openai, and the timestamped
//! segments are stitched into one transcript, which is then indexed like any document.
//!
//! Two strategies, measured by the pipeline's own byte counter ([`BufferGauge`]):
//!
//! - `naive` reproduces the reported failure: it decodes the whole file, materialises every
//!   chunk's WAV buffer up front and fires every request at once. Memory grows with the
//!   meeting's length, and the provider's concurrency limit turns the burst into 429s.
//! - `bounded` streams the file and holds at most `batch_size` chunks at a time (one batch in
//!   flight), so its peak memory does not depend on the meeting's length.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use ragtrace_core::config::{Settings, TranscribeStrategy};
use ragtrace_core::llm::{LlmClient, LlmError, TranscriptSegment};
use ragtrace_core::semconv::{attr, metric, span};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::audio::encode_wav;
use crate::extract::{Format, extract};
use crate::pipeline::{Progress, count_error};

/// How a recording is transcribed.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// `naive` (the reported failure, kept for comparison) or `bounded`; see the module docs.
    pub strategy: TranscribeStrategy,
    /// Chunks per batch (bounded).
    pub batch_size: usize,
    /// Length of one audio chunk, seconds (`transcription.chunk_seconds`, 5 to 600).
    pub chunk_seconds: u32,
    /// Overlap between neighbours, seconds.
    pub overlap_seconds: u32,
}

/// Bytes held in chunk buffers (decoded samples and encoded chunks), now and at peak.
#[derive(Debug, Default)]
pub struct BufferGauge {
    current: AtomicU64,
    peak: AtomicU64,
}

impl BufferGauge {
    /// Counts `bytes` as held until the returned guard is dropped.
    pub fn hold(self: &Arc<Self>, bytes: usize) -> Held {
        let now = self.current.fetch_add(bytes as u64, Ordering::Relaxed) + bytes as u64;
        self.peak.fetch_max(now, Ordering::Relaxed);
        ragtrace_core::metrics::gauge(&metric::INGEST_CHUNK_BUFFER_BYTES, []).set(now as f64);
        Held {
            gauge: Arc::clone(self),
            bytes: bytes as u64,
        }
    }

    /// Highest count so far.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// Bytes held right now; back to zero once a run is over, which a test checks.
    pub fn current(&self) -> u64 {
        self.current.load(Ordering::Relaxed)
    }
}

/// A counted buffer; releases its count when dropped.
#[derive(Debug)]
pub struct Held {
    gauge: Arc<BufferGauge>,
    bytes: u64,
}

impl Drop for Held {
    fn drop(&mut self) {
        let now = self.gauge.current.fetch_sub(self.bytes, Ordering::Relaxed) - self.bytes;
        ragtrace_core::metrics::gauge(&metric::INGEST_CHUNK_BUFFER_BYTES, []).set(now as f64);
    }
}

/// One encoded chunk, counted while it lives.
#[derive(Debug)]
struct AudioChunk {
    index: usize,
    start_secs: f64,
    end_secs: f64,
    wav: Bytes,
    _held: Held,
}

/// What became of one chunk.
#[derive(Debug)]
struct ChunkResult {
    index: usize,
    start_secs: f64,
    end_secs: f64,
    outcome: Result<Vec<TranscriptSegment>, LlmError>,
}

/// A stitched line of the transcript.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    /// Seconds from the start of the recording.
    pub start: f64,
    /// Text (the simulator prefixes the speaker).
    pub text: String,
}

/// Outcome of a transcription.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The strategy used, `naive` or `bounded`, so reports of the two can be compared.
    pub strategy: &'static str,
    /// Chunks per batch (naive: every chunk, in one batch).
    pub batch_size: usize,
    /// Length of the recording, seconds.
    pub audio_seconds: f64,
    /// Chunks sent (fewer than the recording has when the run was stopped early).
    pub chunks: usize,
    /// Chunks that failed after retries.
    pub failed_chunks: usize,
    /// `failed_chunks / chunks` (0 when no chunk was sent): the share of chunks lost.
    pub error_rate: f64,
    /// Batches sent, one after the other (naive: always 1).
    pub batches: usize,
    /// Peak bytes held in chunk buffers (the pipeline's own counter).
    pub peak_chunk_buffer_bytes: u64,
    /// Peak resident memory of the process (`VmHWM`), bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Failed chunks by error kind (e.g. `rate_limited`), to tell throttling from outages.
    pub errors: std::collections::BTreeMap<String, usize>,
    /// Wall time of the transcription, seconds (indexing not included).
    pub seconds: f64,
    /// Lines of the stitched transcript.
    pub lines: usize,
    /// Chunks of the transcript document indexed (when indexed).
    pub indexed_chunks: Option<usize>,
    /// The stitched lines, rendered as the transcript's text; left out of the JSON report.
    #[serde(skip)]
    pub transcript: Vec<Line>,
    /// Time ranges not transcribed, `(start, end, cause)`.
    #[serde(skip)]
    pub gaps: Vec<(f64, f64, String)>,
}

fn open(path: &Path) -> anyhow::Result<hound::WavReader<std::io::BufReader<std::fs::File>>> {
    let r = hound::WavReader::open(path)
        .with_context(|| format!("cannot read {} as a WAV file", path.display()))?;
    let s = r.spec();
    anyhow::ensure!(
        s.channels == 1 && s.bits_per_sample == 16 && s.sample_format == hound::SampleFormat::Int,
        "{}: expected 16-bit PCM mono, got {} channel(s) of {}-bit {:?}",
        path.display(),
        s.channels,
        s.bits_per_sample,
        s.sample_format
    );
    anyhow::ensure!(
        r.duration() > 0,
        "{}: the recording is empty",
        path.display()
    );
    Ok(r)
}

/// Transcribes `path`. `stop` ends the run after the batch in flight.
pub async fn transcribe(
    llm: &LlmClient,
    path: &Path,
    options: Options,
    gauge: &Arc<BufferGauge>,
    stop: &CancellationToken,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let reader = open(path)?;
    let rate = reader.spec().sample_rate;
    let total = reader.duration() as usize;
    let chunk_len = (options.chunk_seconds * rate) as usize;
    let step = chunk_len - (options.overlap_seconds * rate) as usize;
    let strategy = options.strategy;
    let span = tracing::info_span!(
        "transcribe",
        { attr::OTEL_NAME } = span::transcribe(strategy.as_str()),
        { attr::TRANSCRIBE_STRATEGY } = strategy.as_str(),
        { attr::TRANSCRIBE_BATCH_SIZE } = tracing::field::Empty,
        { attr::TRANSCRIBE_AUDIO_SECONDS } = total as f64 / f64::from(rate),
        { attr::TRANSCRIBE_CHUNKS } = tracing::field::Empty,
        { attr::TRANSCRIBE_FAILED_CHUNKS } = tracing::field::Empty,
        { attr::TRANSCRIBE_PEAK_BUFFER_BYTES } = tracing::field::Empty,
    );
    let mut results = Vec::new();
    let mut batches = 0;
    async {
        match strategy {
            TranscribeStrategy::Naive => {
                // Everything in memory at once: the samples, then every chunk's WAV.
                let _samples_held = gauge.hold(total * 2);
                let samples: Vec<i16> = reader
                    .into_samples::<i16>()
                    .collect::<Result<_, _>>()
                    .context("cannot decode the recording")?;
                let mut chunks = Vec::new();
                let mut start = 0;
                while start < samples.len() {
                    let end = (start + chunk_len).min(samples.len());
                    chunks.push(make_chunk(
                        chunks.len(),
                        &samples[start..end],
                        start,
                        rate,
                        gauge,
                    ));
                    if end == samples.len() {
                        break;
                    }
                    start += step;
                }
                batches = 1;
                results = send_batch(llm, chunks, 0, strategy).await;
            }
            TranscribeStrategy::Bounded => {
                // A window of one chunk of samples; finished chunks wait in the batch.
                let mut samples = reader.into_samples::<i16>();
                let mut window: Vec<i16> = Vec::with_capacity(chunk_len);
                let _window_held = gauge.hold(chunk_len * 2);
                let mut window_start = 0usize;
                let mut batch = Vec::with_capacity(options.batch_size);
                let mut index = 0;
                let mut done = false;
                while !done {
                    while window.len() < chunk_len {
                        match samples.next() {
                            Some(s) => window.push(s.context("cannot decode the recording")?),
                            None => break,
                        }
                    }
                    done = window_start + window.len() >= total;
                    batch.push(make_chunk(index, &window, window_start, rate, gauge));
                    index += 1;
                    if batch.len() == options.batch_size || done {
                        let out =
                            send_batch(llm, std::mem::take(&mut batch), batches, strategy).await;
                        results.extend(out);
                        batches += 1;
                        if stop.is_cancelled() {
                            break;
                        }
                    }
                    // Keep the overlap for the next chunk.
                    window.drain(..step.min(window.len()));
                    window_start += step;
                }
            }
        }
        anyhow::Ok(())
    }
    .instrument(span.clone())
    .await?;

    results.sort_by_key(|r| r.index);
    let (transcript, gaps) = stitch(&results, f64::from(options.overlap_seconds));
    let failed = results.iter().filter(|r| r.outcome.is_err()).count();
    let mut errors = std::collections::BTreeMap::new();
    for r in &results {
        if let Err(e) = &r.outcome {
            *errors.entry(e.kind().to_owned()).or_insert(0) += 1;
        }
    }
    let batch_size = match strategy {
        TranscribeStrategy::Naive => results.len(),
        TranscribeStrategy::Bounded => options.batch_size,
    };
    span.record(attr::TRANSCRIBE_BATCH_SIZE, batch_size as i64);
    span.record(attr::TRANSCRIBE_CHUNKS, results.len() as i64);
    span.record(attr::TRANSCRIBE_FAILED_CHUNKS, failed as i64);
    span.record(attr::TRANSCRIBE_PEAK_BUFFER_BYTES, gauge.peak() as i64);
    ragtrace_core::metrics::update_resident_memory();
    Ok(Report {
        strategy: strategy.as_str(),
        batch_size,
        audio_seconds: total as f64 / f64::from(rate),
        chunks: results.len(),
        failed_chunks: failed,
        error_rate: if results.is_empty() {
            0.0
        } else {
            failed as f64 / results.len() as f64
        },
        batches,
        peak_chunk_buffer_bytes: gauge.peak(),
        peak_rss_bytes: ragtrace_core::metrics::peak_resident_memory_bytes(),
        errors,
        seconds: started.elapsed().as_secs_f64(),
        lines: transcript.len(),
        indexed_chunks: None,
        transcript,
        gaps,
    })
}

fn make_chunk(
    index: usize,
    samples: &[i16],
    start: usize,
    rate: u32,
    gauge: &Arc<BufferGauge>,
) -> AudioChunk {
    let wav = encode_wav(samples, rate);
    let held = gauge.hold(wav.len());
    AudioChunk {
        index,
        start_secs: start as f64 / f64::from(rate),
        end_secs: (start + samples.len()) as f64 / f64::from(rate),
        wav: Bytes::from(wav),
        _held: held,
    }
}

/// Sends every chunk of a batch at once and waits for all of them.
async fn send_batch(
    llm: &LlmClient,
    chunks: Vec<AudioChunk>,
    batch: usize,
    strategy: TranscribeStrategy,
) -> Vec<ChunkResult> {
    let span = tracing::info_span!(
        "transcribe.batch",
        { attr::OTEL_NAME } = span::TRANSCRIBE_BATCH,
        { attr::TRANSCRIBE_BATCH } = batch as i64,
        { attr::TRANSCRIBE_BATCH_CHUNKS } = chunks.len() as i64,
        { attr::TRANSCRIBE_BATCH_FAILED } = tracing::field::Empty,
    );
    let started = Instant::now();
    let out = futures::future::join_all(chunks.into_iter().map(|c| {
        // Made here, before the batch's future is first polled: its parent must be named, or it
        // would be the job's span (the current one now) and the chunks would not nest in their
        // batch.
        let chunk_span = tracing::info_span!(
            parent: &span,
            "transcribe.chunk",
            { attr::OTEL_NAME } = span::TRANSCRIBE_CHUNK,
            { attr::TRANSCRIBE_CHUNK } = c.index as i64,
            { attr::TRANSCRIBE_CHUNK_START_S } = c.start_secs,
            { attr::TRANSCRIBE_CHUNK_BYTES } = c.wav.len() as i64,
            { attr::ERROR_TYPE } = tracing::field::Empty,
            { attr::OTEL_STATUS_CODE } = tracing::field::Empty,
        );
        async move {
            let outcome = llm
                .transcribe(&format!("chunk-{:05}.wav", c.index), c.wav.clone())
                .await
                .map(|t| t.segments);
            let outcome_label = match &outcome {
                Ok(_) => "ok",
                Err(e) => {
                    ragtrace_core::telemetry::mark_failed(
                        &tracing::Span::current(),
                        e.kind(),
                        &e.to_string(),
                    );
                    count_error("transcribe", e.kind());
                    "error"
                }
            };
            ragtrace_core::metrics::counter(
                &metric::INGEST_TRANSCRIBE_CHUNKS_TOTAL,
                [strategy.as_str(), outcome_label],
            )
            .increment(1);
            // The chunk's buffer is released here, once its request is over.
            ChunkResult {
                index: c.index,
                start_secs: c.start_secs,
                end_secs: c.end_secs,
                outcome,
            }
        }
        .instrument(chunk_span)
    }))
    .instrument(span.clone())
    .await;
    let failed = out.iter().filter(|r| r.outcome.is_err()).count();
    span.record(attr::TRANSCRIBE_BATCH_FAILED, failed as i64);
    ragtrace_core::metrics::histogram(
        &metric::INGEST_TRANSCRIBE_BATCH_DURATION,
        [strategy.as_str()],
    )
    .record(started.elapsed().as_secs_f64());
    ragtrace_core::metrics::update_resident_memory();
    out
}

/// Joins chunk transcripts: a segment heard by two neighbouring chunks (it starts in their
/// overlap) is kept from the chunk where it lies before the overlap's midpoint.
fn stitch(results: &[ChunkResult], overlap: f64) -> (Vec<Line>, Vec<(f64, f64, String)>) {
    let mut lines = Vec::new();
    let mut gaps = Vec::new();
    let last = results.len().saturating_sub(1);
    for (i, r) in results.iter().enumerate() {
        let from = if i == 0 {
            0.0
        } else {
            r.start_secs + overlap / 2.0
        };
        let to = if i == last {
            f64::INFINITY
        } else {
            r.end_secs - overlap / 2.0
        };
        match &r.outcome {
            Ok(segments) => {
                for s in segments {
                    let start = r.start_secs + s.start;
                    if start >= from - 1e-6 && start < to - 1e-6 {
                        lines.push(Line {
                            start,
                            text: s.text.trim().to_owned(),
                        });
                    }
                }
            }
            Err(e) => gaps.push((from, to.min(r.end_secs), e.kind().to_owned())),
        }
    }
    lines.sort_by(|a, b| a.start.total_cmp(&b.start));
    (lines, gaps)
}

fn clock(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The transcript as text: one `[hh:mm:ss] text` line per segment, and a marker for each
/// stretch that could not be transcribed.
pub fn render(title: &str, report: &Report) -> String {
    let mut items: Vec<(f64, String)> = report
        .transcript
        .iter()
        .map(|l| (l.start, format!("[{}] {}", clock(l.start), l.text)))
        .collect();
    for (from, to, cause) in &report.gaps {
        items.push((
            *from,
            format!(
                "[{}] (not transcribed until {}: {cause})",
                clock(*from),
                clock(*to)
            ),
        ));
    }
    items.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = format!("# {title}\n\n");
    for (_, line) in items {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// What `ragtrace-ingest transcribe` does with its result.
#[derive(Debug, Clone, Default)]
pub struct CliOutput {
    /// Print the JSON report as the last line of stdout.
    pub json: bool,
    /// Index the transcript into the vector store.
    pub index: bool,
    /// Write the transcript here.
    pub out: Option<PathBuf>,
    /// Serve /metrics here while transcribing.
    pub metrics_addr: Option<String>,
    /// How long /metrics stays up after the run (so the last scrape sees the final counts).
    pub metrics_linger: Duration,
}

/// `ragtrace-ingest transcribe`: transcribes, writes and indexes the transcript, prints the
/// report; exit status 1 when any chunk failed.
pub async fn cli(
    settings: &Settings,
    path: &Path,
    options: Options,
    output: CliOutput,
    stop: &CancellationToken,
) -> anyhow::Result<ExitCode> {
    let CliOutput {
        json,
        index,
        out,
        metrics_addr,
        metrics_linger,
    } = output;
    anyhow::ensure!(
        (1..=4096).contains(&options.batch_size),
        "--batch-size must be 1..=4096"
    );
    let metrics = match &metrics_addr {
        Some(addr) => {
            let (handle, bound) = crate::worker::serve_metrics(addr)?;
            eprintln!("metrics on http://{bound}/metrics while transcribing");
            Some(handle)
        }
        None => None,
    };
    let built = crate::setup::build(settings).await?;
    let gauge = Arc::new(BufferGauge::default());
    let mut report = transcribe(&built.llm, path, options, &gauge, stop).await?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "meeting".into());
    let text = render(&format!("Meeting transcript: {stem}"), &report);
    if let Some(out) = &out {
        std::fs::write(out, &text).with_context(|| format!("cannot write {}", out.display()))?;
    }
    if index && report.lines > 0 {
        let doc = extract(
            &format!("meetings/{stem}.md"),
            text.as_bytes(),
            Format::Markdown,
        )?;
        let r = built
            .ingestor
            .ingest(vec![doc], &crate::pipeline::Quiet as &dyn Progress, stop)
            .await;
        if let Some(f) = r.first().and_then(|r| r.failure.clone()) {
            eprintln!("ragtrace-ingest: cannot index the transcript: {}", f.error);
        }
        report.indexed_chunks = r.first().map(|r| r.chunks);
    }
    built.upstreams.stop(false).await;
    let mb = |b: u64| b as f64 / 1_048_576.0;
    eprintln!(
        "transcribed {:.1} min in {} chunks ({} batches, strategy {}, batch size {}): {} failed = {:.1} % errors {:?}; peak chunk buffers {:.1} MiB, peak RSS {}; {} lines in {:.1} s",
        report.audio_seconds / 60.0,
        report.chunks,
        report.batches,
        report.strategy,
        report.batch_size,
        report.failed_chunks,
        report.error_rate * 100.0,
        report.errors,
        mb(report.peak_chunk_buffer_bytes),
        report
            .peak_rss_bytes
            .map(|b| format!("{:.1} MiB", mb(b)))
            .unwrap_or_else(|| "n/a".into()),
        report.lines,
        report.seconds,
    );
    if json {
        println!("{}", serde_json::to_string(&report)?);
    }
    if let Some(m) = metrics {
        if !metrics_linger.is_zero() && !stop.is_cancelled() {
            eprintln!(
                "serving /metrics {} s more for the last scrape (Ctrl-C to end now)",
                metrics_linger.as_secs()
            );
            tokio::select! {
                () = tokio::time::sleep(metrics_linger) => {}
                () = stop.cancelled() => {}
            }
        }
        m.stop(false).await;
    }
    Ok(if report.failed_chunks > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
