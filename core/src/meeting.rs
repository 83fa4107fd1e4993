//! Synthetic meeting recordings (case study 3): a deterministic script, the audio that stands for
//! it, and a timecode hidden in the audio so that the simulator can tell which part of which
//! recording a chunk is and return the script's lines for it.
//!
//! Nothing here recognises speech. `ragtrace-ingest gen-audio` writes 16 kHz mono 16-bit PCM
//! whose tones stand for the lines of a generated script, and carries, in the least significant
//! bit of every sample, a repeating frame `MAGIC | seed | frame index`. A chunk cut anywhere
//! from the recording (sample-exact, as WAV keeps it) still holds whole frames, so the simulator
//! recovers the seed and the chunk's absolute position and answers with the script lines that
//! start inside it. Its transcripts say they are simulated (model `sim-whisper-1`).

/// Sample rate of generated recordings, Hz.
pub const SAMPLE_RATE: u32 = 16_000;

/// `"RTM1"`: marks a timecode frame.
const MAGIC: u32 = 0x5254_4d31;
/// Bits (and samples) per timecode frame: magic, seed, frame index.
pub const FRAME_SAMPLES: usize = 96;

/// One line of the script.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Position in the script.
    pub index: usize,
    /// Start, seconds from the beginning of the recording.
    pub start: f64,
    /// End, seconds from the beginning; the voice stops here and so does the simulated segment.
    pub end: f64,
    /// Who speaks: sets the voice's pitch and prefixes the simulated segment text.
    pub speaker: &'static str,
    /// What is said; the simulator answers `speaker: text`, which tests compare with transcripts.
    pub text: String,
}

const SPEAKERS: [&str; 4] = ["Ana", "Bram", "Chen", "Dara"];

const OPENERS: [&str; 8] = [
    "Quick update on",
    "I checked",
    "We still need a decision on",
    "Support flagged",
    "The team finished",
    "Let's review",
    "I have a concern about",
    "Good news on",
];
const TOPICS: [&str; 12] = [
    "the Lumen Hub 2 firmware rollout",
    "the Beam bulb pairing failures",
    "the Zigbee channel interference report",
    "the VPN certificate renewal",
    "the warranty returns backlog",
    "the Matter certification test plan",
    "the strip light colour calibration",
    "the supplier audit in Rotterdam",
    "the motion sensor battery drain",
    "the phishing simulation results",
    "the Lisbon office move",
    "the customer data retention review",
];
const CLOSERS: [&str; 10] = [
    "and the numbers look better than last week.",
    "so I will send the details after this call.",
    "but we need one more test run before Friday.",
    "and I suggest we keep the current plan.",
    "which blocks the release until it is fixed.",
    "so please add your comments to the ticket.",
    "and the owner is the platform team.",
    "and the deadline is the end of the month.",
    "but the root cause is still unknown.",
    "so we can close this item today.",
];

/// SplitMix64: a tiny deterministic generator, so the script depends only on the seed.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The script of recording `seed`, line by line, for ever (callers stop at the duration).
pub fn script(seed: u32) -> impl Iterator<Item = Line> {
    let mut t = 0.5;
    (0usize..).map(move |index| {
        let r = mix(u64::from(seed) << 32 | index as u64);
        let pick = |shift: u32, n: usize| ((r >> shift) as usize) % n;
        let text = format!(
            "{} {} {}",
            OPENERS[pick(0, OPENERS.len())],
            TOPICS[pick(8, TOPICS.len())],
            CLOSERS[pick(16, CLOSERS.len())]
        );
        let words = text.split_whitespace().count() as f64;
        // About 2.5 words per second, then a pause of 0.4-1.2 s.
        let speak = words / 2.5;
        let pause = 0.4 + ((r >> 24) % 9) as f64 / 10.0;
        let line = Line {
            index,
            start: t,
            end: t + speak,
            speaker: SPEAKERS[pick(40, SPEAKERS.len())],
            text,
        };
        t += speak + pause;
        line
    })
}

/// The lines of recording `seed` that start in `[from, to)` seconds.
pub fn lines_starting_between(seed: u32, from: f64, to: f64) -> Vec<Line> {
    script(seed)
        .take_while(|l| l.start < to)
        .filter(|l| l.start >= from)
        .collect()
}

/// Fundamental frequency of a speaker's "voice", Hz.
fn pitch(speaker: &str) -> f64 {
    match speaker {
        "Ana" => 220.0,
        "Bram" => 130.0,
        "Chen" => 175.0,
        _ => 245.0,
    }
}

/// Streams the samples of recording `seed` lasting `total` samples, with the timecode in their
/// lowest bit. Memory use does not depend on the length.
pub struct Synth {
    seed: u32,
    total: u64,
    pos: u64,
    lines: std::iter::Peekable<Box<dyn Iterator<Item = Line> + Send>>,
    current: Option<Line>,
    noise: u64,
}

impl std::fmt::Debug for Synth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Synth")
            .field("seed", &self.seed)
            .field("total", &self.total)
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

impl Synth {
    /// A recording of `seconds` seconds.
    pub fn new(seed: u32, seconds: f64) -> Self {
        let lines: Box<dyn Iterator<Item = Line> + Send> = Box::new(script(seed));
        Self {
            seed,
            total: (seconds * f64::from(SAMPLE_RATE)).round() as u64,
            pos: 0,
            lines: lines.peekable(),
            current: None,
            noise: u64::from(seed) | 1,
        }
    }

    /// Samples in the whole recording.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether the recording is empty.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

impl Iterator for Synth {
    type Item = i16;

    fn next(&mut self) -> Option<i16> {
        if self.pos >= self.total {
            return None;
        }
        let n = self.pos;
        let t = n as f64 / f64::from(SAMPLE_RATE);
        if self.current.as_ref().is_none_or(|l| t >= l.end) {
            self.current = None;
            if self.lines.peek().is_some_and(|l| t >= l.start) {
                self.current = self.lines.next();
            }
        }
        // Room tone: a little white noise.
        self.noise = mix(self.noise);
        let mut v = ((self.noise >> 53) as f64 / 2048.0 - 0.5) * 300.0;
        if let Some(l) = &self.current {
            let f = pitch(l.speaker);
            // Syllables: the voice swells about four times a second.
            let env = 0.5 - 0.5 * (std::f64::consts::TAU * 4.0 * (t - l.start)).cos();
            let voice = (std::f64::consts::TAU * f * t).sin()
                + 0.5 * (std::f64::consts::TAU * 2.0 * f * t).sin()
                + 0.25 * (std::f64::consts::TAU * 3.0 * f * t).sin();
            v += 6000.0 * env * voice;
        }
        let sample = (v.round() as i32).clamp(-32768, 32767) as i16;
        self.pos += 1;
        Some(with_timecode(sample, self.seed, n))
    }
}

/// The timecode bit of absolute sample `n` of recording `seed`.
fn timecode_bit(seed: u32, n: u64) -> i16 {
    let frame = n / FRAME_SAMPLES as u64;
    let bit = (n % FRAME_SAMPLES as u64) as u32;
    let word = match bit / 32 {
        0 => MAGIC,
        1 => seed,
        _ => frame as u32,
    };
    ((word >> (31 - bit % 32)) & 1) as i16
}

/// `sample` with its lowest bit replaced by the timecode of absolute sample `n`.
pub fn with_timecode(sample: i16, seed: u32, n: u64) -> i16 {
    (sample & !1) | timecode_bit(seed, n)
}

/// Where a chunk of samples comes from: the recording's seed and the absolute index of the
/// chunk's first sample. `None` when the samples carry no timecode (not a generated recording).
pub fn locate(samples: &[i16]) -> Option<(u32, u64)> {
    let word = |from: usize| -> u32 {
        samples[from..from + 32]
            .iter()
            .fold(0u32, |acc, s| (acc << 1) | (*s & 1) as u32)
    };
    for offset in 0..FRAME_SAMPLES {
        // Two whole frames after `offset`, so a match is checked against its successor.
        if offset + 2 * FRAME_SAMPLES > samples.len() {
            return None;
        }
        if word(offset) != MAGIC {
            continue;
        }
        let seed = word(offset + 32);
        let frame = word(offset + 64);
        let next = offset + FRAME_SAMPLES;
        if word(next) == MAGIC && word(next + 32) == seed && word(next + 64) == frame + 1 {
            let start = u64::from(frame) * FRAME_SAMPLES as u64;
            return start.checked_sub(offset as u64).map(|s| (seed, s));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The script is the same for the same seed, differs across seeds, and its lines follow one
    /// another.
    #[test]
    fn script_is_deterministic() {
        let a: Vec<Line> = script(7).take(50).collect();
        let b: Vec<Line> = script(7).take(50).collect();
        let c: Vec<Line> = script(8).take(50).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.windows(2).all(|w| w[0].end < w[1].start));
    }

    /// A chunk cut at any offset of a generated recording is located exactly.
    #[test]
    fn chunks_are_located_wherever_they_are_cut() {
        let samples: Vec<i16> = Synth::new(42, 3.0).collect();
        assert_eq!(samples.len(), 48_000);
        for start in [0usize, 1, 95, 96, 1000, 12_345, 40_000] {
            let chunk = &samples[start..(start + 4000).min(samples.len())];
            assert_eq!(locate(chunk), Some((42, start as u64)), "cut at {start}");
        }
        // Too short to hold two frames.
        assert_eq!(locate(&samples[..150]), None);
        // Plain audio (no timecode) is not located.
        let plain: Vec<i16> = (0..4000).map(|i| ((i * 37) % 2000) as i16).collect();
        assert_eq!(locate(&plain), None);
    }

    /// Speech is louder than the pauses between lines.
    #[test]
    fn lines_are_audible() {
        let samples: Vec<i16> = Synth::new(1, 10.0).collect();
        let first = script(1).next().unwrap();
        let rms = |from: f64, to: f64| {
            let s = &samples[(from * 16_000.0) as usize..(to * 16_000.0) as usize];
            (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
        };
        assert!(rms(first.start, first.end) > 10.0 * rms(0.0, first.start));
    }
}
