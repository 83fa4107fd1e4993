//! `POST /v1/audio/transcriptions`: OpenAI's multipart upload with its 25 MB limit, latency
//! proportional to the audio's duration, and a concurrency limit beyond which requests queue and
//! then get 429.
//!
//! The transcript is honest about being simulated: for recordings made by `ragtrace-ingest
//! gen-audio` it returns the script the generator hid in the audio (see
//! [`ragtrace_core::meeting`]), for anything else a note saying no speech was recognised.

use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::{HttpResponse, web};
use futures::StreamExt as _;
use serde_json::json;

use crate::SimState;
use crate::error::SimError;
use crate::fault::{apply_profile, sim_model};
use crate::profile::Endpoint;

/// OpenAI's upload limit for audio files, bytes.
pub const MAX_AUDIO_BYTES: usize = 25 * 1024 * 1024;

fn bad(state: &SimState, message: impl Into<String>, param: &str) -> SimError {
    SimError::bad_request(state, Endpoint::Audio, message, param)
}

/// The multipart fields read (`file`, `model`, `response_format`); any others are ignored.
#[derive(Default)]
struct Upload {
    file: Option<Vec<u8>>,
    model: Option<String>,
    response_format: Option<String>,
}

async fn read_upload(state: &SimState, mut payload: Multipart) -> Result<Upload, SimError> {
    let mut up = Upload::default();
    let mut total = 0usize;
    while let Some(field) = payload.next().await {
        let mut field =
            field.map_err(|e| bad(state, format!("invalid multipart body: {e}"), "file"))?;
        let name = field.name().unwrap_or("").to_owned();
        let mut data = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk =
                chunk.map_err(|e| bad(state, format!("invalid multipart body: {e}"), &name))?;
            total += chunk.len();
            if total > MAX_AUDIO_BYTES {
                state.count(Endpoint::Audio, "bad_request");
                return Err(SimError::TooLarge {
                    message: format!(
                        "Maximum content size limit ({MAX_AUDIO_BYTES} bytes) exceeded; split the audio into smaller chunks"
                    ),
                });
            }
            data.extend_from_slice(&chunk);
        }
        let text = || String::from_utf8_lossy(&data).trim().to_owned();
        match name.as_str() {
            "file" => up.file = Some(data),
            "model" => up.model = Some(text()),
            "response_format" => up.response_format = Some(text()),
            _ => {}
        }
    }
    Ok(up)
}

/// `POST /v1/audio/transcriptions`: checks the upload as OpenAI does, then answers after the
/// latency per minute of audio, within the concurrency limit (429 when no slot frees in time).
pub async fn transcriptions(
    state: web::Data<SimState>,
    payload: Multipart,
) -> Result<HttpResponse, SimError> {
    let up = read_upload(&state, payload).await?;
    let model = up
        .model
        .filter(|m| !m.is_empty())
        .ok_or_else(|| bad(&state, "you must provide a model parameter", "model"))?;
    let file = up
        .file
        .ok_or_else(|| bad(&state, "you must provide a file", "file"))?;
    let format = up.response_format.unwrap_or_else(|| "json".into());
    if !matches!(format.as_str(), "json" | "text" | "verbose_json") {
        return Err(bad(
            &state,
            "response_format must be json, text or verbose_json",
            "response_format",
        ));
    }
    let reader = hound::WavReader::new(file.as_slice()).map_err(|e| {
        bad(
            &state,
            format!("could not decode the audio file ({e}); the simulator accepts PCM WAV"),
            "file",
        )
    })?;
    let spec = reader.spec();
    let rate = spec.sample_rate.max(1);
    let samples: Vec<i16> = if spec.bits_per_sample == 16 {
        reader
            .into_samples::<i16>()
            .filter_map(Result::ok)
            .collect()
    } else {
        Vec::new()
    };
    let frames = samples.len() / usize::from(spec.channels.max(1));
    let duration = frames as f64 / f64::from(rate);

    let latency = apply_profile(&state, Endpoint::Audio).await?;
    let profile = state
        .profiles
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(Endpoint::Audio);
    let Some(_slot) = state
        .audio_slots
        .acquire(profile.concurrency, Duration::from_millis(profile.queue_ms))
        .await
    else {
        state.count(Endpoint::Audio, "rate_limited");
        return Err(SimError::RateLimited {
            message: format!(
                "Too many concurrent requests: at most {} transcriptions at once (simulated by ragtrace-sim). Please retry after the delay in Retry-After.",
                profile.concurrency
            ),
            retry_after_secs: profile.retry_after_secs,
        });
    };
    // `latency_ms` is per minute of audio.
    tokio::time::sleep(latency.mul_f64(duration / 60.0)).await;

    let segments: Vec<serde_json::Value> = match (spec.channels == 1)
        .then(|| ragtrace_core::meeting::locate(&samples))
        .flatten()
    {
        Some((seed, start)) => {
            let t0 = start as f64 / f64::from(rate);
            ragtrace_core::meeting::lines_starting_between(seed, t0, t0 + duration)
                .into_iter()
                .enumerate()
                .map(|(i, l)| {
                    json!({
                        "id": i, "seek": 0,
                        "start": l.start - t0, "end": (l.end - t0).min(duration),
                        "text": format!("{}: {}", l.speaker, l.text),
                        "tokens": [], "temperature": 0.0, "avg_logprob": -0.1,
                        "compression_ratio": 1.2, "no_speech_prob": 0.01,
                    })
                })
                .collect()
        }
        None => vec![json!({
            "id": 0, "seek": 0, "start": 0.0, "end": duration,
            "text": format!("[simulated transcript: {duration:.1} s of audio; ragtrace-sim recognises no speech, only the scripts of recordings made by ragtrace-ingest gen-audio]"),
            "tokens": [], "temperature": 0.0, "avg_logprob": -1.0,
            "compression_ratio": 1.0, "no_speech_prob": 0.9,
        })],
    };
    let text = segments
        .iter()
        .filter_map(|s| s["text"].as_str())
        .collect::<Vec<_>>()
        .join(" ");
    state.count(Endpoint::Audio, "ok");
    let usage = json!({"type": "duration", "seconds": duration.ceil()});
    Ok(match format.as_str() {
        "text" => HttpResponse::Ok().content_type("text/plain").body(text),
        "verbose_json" => HttpResponse::Ok().json(json!({
            "task": "transcribe",
            "language": "english",
            "duration": duration,
            "text": text,
            "segments": segments,
            "usage": usage,
            "model": sim_model(&model),
        })),
        _ => HttpResponse::Ok().json(json!({"text": text, "usage": usage})),
    })
}
