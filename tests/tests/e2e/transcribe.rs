//! Case study 3: meeting transcription against the simulator's `/v1/audio/transcriptions`.

use std::net::TcpListener;
use std::sync::Arc;

use ragtrace_core::config::TranscribeStrategy;
use ragtrace_core::llm::LlmClient;
use ragtrace_ingest::transcribe::{BufferGauge, Options, Report, transcribe};
use ragtrace_sim::profile::Profiles;
use ragtrace_sim::{RunningSim, SimOptions};
use ragtrace_tests::test_settings;

fn sim(profile: &str) -> RunningSim {
    let mut profiles = Profiles::instant();
    profiles.apply_str(profile).unwrap();
    ragtrace_sim::start(
        TcpListener::bind("127.0.0.1:0").unwrap(),
        SimOptions {
            profiles,
            embedding_dim: 384,
            serve_metrics: false,
            workers: 2,
        },
    )
    .unwrap()
}

fn client(sim: &RunningSim, attempts: &str) -> LlmClient {
    let dir = std::env::temp_dir();
    let s = test_settings(&dir, &[("RAGTRACE__LLM__MAX_ATTEMPTS", attempts)]);
    LlmClient::new(&s.llm, &sim.openai_base_url(), s.pricing.clone(), false).unwrap()
}

async fn run(
    llm: &LlmClient,
    path: &std::path::Path,
    strategy: TranscribeStrategy,
    batch: usize,
) -> Report {
    let options = Options {
        strategy,
        batch_size: batch,
        chunk_seconds: 10,
        overlap_seconds: 1,
    };
    let gauge = Arc::new(BufferGauge::default());
    let r = transcribe(
        llm,
        path,
        options,
        &gauge,
        &tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(gauge.current(), 0, "every buffer is released");
    r
}

/// The bounded strategy's peak chunk-buffer bytes are the same for a 2- and a 6-minute
/// recording; the naive strategy's grow with the length. Both stitch the exact script.
#[actix_web::test]
async fn bounded_memory_does_not_grow_with_the_meeting() {
    let sim = sim("");
    let llm = client(&sim, "3");
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short.wav");
    let long = dir.path().join("long.wav");
    ragtrace_ingest::audio::gen_audio(&short, 2.0, 11).unwrap();
    ragtrace_ingest::audio::gen_audio(&long, 6.0, 11).unwrap();

    let b_short = run(&llm, &short, TranscribeStrategy::Bounded, 3).await;
    let b_long = run(&llm, &long, TranscribeStrategy::Bounded, 3).await;
    let n_short = run(&llm, &short, TranscribeStrategy::Naive, 3).await;
    let n_long = run(&llm, &long, TranscribeStrategy::Naive, 3).await;
    assert_eq!(
        b_short.peak_chunk_buffer_bytes,
        b_long.peak_chunk_buffer_bytes
    );
    assert!(b_long.batches > b_short.batches);
    assert!(
        n_long.peak_chunk_buffer_bytes as f64 > 2.5 * n_short.peak_chunk_buffer_bytes as f64,
        "naive: {} vs {}",
        n_short.peak_chunk_buffer_bytes,
        n_long.peak_chunk_buffer_bytes
    );
    assert!(n_long.peak_chunk_buffer_bytes > 5 * b_long.peak_chunk_buffer_bytes);
    for r in [&b_short, &b_long, &n_short, &n_long] {
        assert_eq!(r.failed_chunks, 0, "{r:?}");
    }

    // The stitched transcript is the script, each line once, at its time.
    let script: Vec<_> = ragtrace_core::meeting::script(11)
        .take_while(|l| l.start < 360.0)
        .collect();
    assert_eq!(b_long.transcript.len(), script.len());
    for (got, want) in b_long.transcript.iter().zip(&script) {
        assert_eq!(got.text, format!("{}: {}", want.speaker, want.text));
        assert!((got.start - want.start).abs() < 0.01);
    }
    assert_eq!(
        n_long
            .transcript
            .iter()
            .map(|l| &l.text)
            .collect::<Vec<_>>(),
        b_long
            .transcript
            .iter()
            .map(|l| &l.text)
            .collect::<Vec<_>>()
    );
    sim.handle.stop(false).await;
}

/// The naive burst runs into the provider's concurrency limit (429s become failed chunks and
/// gaps in the transcript); bounded batches within the limit do not.
#[actix_web::test]
async fn naive_burst_hits_the_concurrency_limit() {
    let sim = sim("audio.concurrency=2,audio.queue_ms=0,audio.latency_ms=3000");
    let llm = client(&sim, "1");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.wav");
    ragtrace_ingest::audio::gen_audio(&path, 1.0, 5).unwrap();
    let naive = run(&llm, &path, TranscribeStrategy::Naive, 2).await;
    let bounded = run(&llm, &path, TranscribeStrategy::Bounded, 2).await;
    assert!(naive.failed_chunks > 0, "{naive:?}");
    assert_eq!(naive.errors.get("rate_limited"), Some(&naive.failed_chunks));
    assert!(!naive.gaps.is_empty());
    let text = ragtrace_ingest::transcribe::render("m", &naive);
    assert!(text.contains("not transcribed"), "{text}");
    assert_eq!(bounded.failed_chunks, 0, "{bounded:?}");
    sim.handle.stop(false).await;
}

/// The simulator's endpoint: OpenAI's 25 MB limit, clear 400s, honest text for audio it did not
/// generate.
#[actix_web::test]
async fn simulator_transcription_endpoint() {
    let sim = sim("");
    let url = format!("{}/audio/transcriptions", sim.openai_base_url());
    let http = reqwest::Client::new();
    let form = |file: Vec<u8>, model: Option<&str>| {
        let mut f = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(file).file_name("a.wav"),
        );
        if let Some(m) = model {
            f = f.text("model", m.to_owned());
        }
        f
    };
    let plain: Vec<i16> = (0..16_000).map(|i| ((i * 37) % 2000) as i16).collect();
    let wav = ragtrace_ingest::audio::encode_wav(&plain, 16_000);
    let resp = http
        .post(&url)
        .multipart(form(wav.clone(), Some("whisper-1")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert!(
        v["text"].as_str().unwrap().contains("simulated transcript"),
        "{v}"
    );
    assert_eq!(v["usage"]["seconds"], 1.0);
    let resp = http
        .post(&url)
        .multipart(form(wav, None))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = http
        .post(&url)
        .multipart(form(b"not audio".to_vec(), Some("m")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["param"], "file");
    let big = vec![0u8; 26 * 1024 * 1024];
    let resp = http
        .post(&url)
        .multipart(form(big, Some("m")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    sim.handle.stop(false).await;
}
