//! Synthetic meeting recordings: `ragtrace-ingest gen-audio`. The samples come from
//! [`ragtrace_core::meeting::Synth`] and go straight to disk, so a three-hour meeting costs no
//! more memory to write than a one-minute one.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use ragtrace_core::meeting::{SAMPLE_RATE, Synth};

/// Longest recording `gen-audio` writes, minutes (a day).
pub const MAX_MINUTES: f64 = 24.0 * 60.0;

/// The WAV format of generated recordings: 16 kHz, mono, 16-bit PCM.
pub fn spec() -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

/// Writes a recording of `minutes` minutes with script `seed` to `path`; returns its samples.
pub fn gen_audio(path: &Path, minutes: f64, seed: u32) -> anyhow::Result<u64> {
    anyhow::ensure!(
        minutes.is_finite() && minutes > 0.0 && minutes <= MAX_MINUTES,
        "--minutes must be more than 0 and at most {MAX_MINUTES}"
    );
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = hound::WavWriter::new(std::io::BufWriter::with_capacity(1 << 16, file), spec())
        .context("cannot write the WAV header")?;
    let synth = Synth::new(seed, minutes * 60.0);
    let n = synth.len();
    for s in synth {
        w.write_sample(s)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    w.finalize()
        .with_context(|| format!("cannot finish {}", path.display()))?;
    Ok(n)
}

/// `ragtrace-ingest gen-audio`: writes the recording and reports its length, size and time taken.
pub fn gen_audio_cli(path: &Path, minutes: f64, seed: u32) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let n = gen_audio(path, minutes, seed)?;
    eprintln!(
        "wrote {}: {:.1} minutes of 16 kHz mono audio ({:.1} MB, script seed {seed}) in {:.1} s",
        path.display(),
        n as f64 / f64::from(SAMPLE_RATE) / 60.0,
        (n * 2 + 44) as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// Encodes samples as a WAV file in memory (one chunk sent for transcription).
pub fn encode_wav(samples: &[i16], sample_rate: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    let data_len = (samples.len() * 2) as u32;
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&(sample_rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file is a valid 16 kHz mono WAV of the asked length, and an in-memory chunk encodes
    /// samples exactly (hound reads both back).
    #[test]
    fn writes_and_encodes_wav() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.wav");
        let n = gen_audio(&path, 0.25, 3).unwrap();
        assert_eq!(n, 240_000);
        let r = hound::WavReader::open(&path).unwrap();
        assert_eq!(r.spec(), spec());
        assert_eq!(r.duration(), 240_000);
        let samples: Vec<i16> = r.into_samples().map(Result::unwrap).collect();
        assert_eq!(
            ragtrace_core::meeting::locate(&samples[1000..5000]),
            Some((3, 1000))
        );
        let chunk = encode_wav(&samples[..1600], SAMPLE_RATE);
        let back: Vec<i16> = hound::WavReader::new(chunk.as_slice())
            .unwrap()
            .into_samples()
            .map(Result::unwrap)
            .collect();
        assert_eq!(back, samples[..1600]);
        assert!(gen_audio(&path, 0.0, 1).is_err());
        assert!(gen_audio(&path, f64::NAN, 1).is_err());
    }
}
