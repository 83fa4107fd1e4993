//! Per-client and per-user rate limits, and a daily spend budget per user (OWASP LLM10,
//! unbounded consumption): each chat costs money, so one caller must not be able to send
//! thousands of them. All three are off by default (0) and kept in memory, per process.
//!
//! Rates are token buckets: a caller may send `per_minute` chats at once, then one every
//! `60 / per_minute` seconds. The budget is the estimated cost (`cost_usd`) of a user's
//! answers since midnight UTC; a request that finds it spent is refused until the next day.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys remembered per limiter at most; beyond it, the idlest are forgotten (a forgotten
/// caller starts again with a full bucket, which only ever errs on the caller's side).
const MAX_KEYS: usize = 100_000;

/// A token bucket per key.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// `per_minute` requests per key and minute; 0 lets everything through.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::default(),
        }
    }

    /// The configured rate, requests per key and minute (0 = no limit).
    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Takes one request for `key` at `now`: `Ok` when allowed, else how long until it would be.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            // Forget the buckets that are full again anyway, then the oldest half.
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_sec < capacity
            });
            if buckets.len() >= MAX_KEYS {
                let mut ages: Vec<Instant> = buckets.values().map(|b| b.at).collect();
                ages.sort_unstable();
                let cut = ages[ages.len() / 2];
                buckets.retain(|_, b| b.at > cut);
            }
        }
        let b = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let refill = now.saturating_duration_since(b.at).as_secs_f64() * per_sec;
        b.tokens = (b.tokens + refill).min(capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_sec))
        }
    }
}

/// Spend per user and UTC day.
#[derive(Debug)]
pub struct Budget {
    daily_usd: f64,
    spent: Mutex<HashMap<String, (u64, f64)>>,
}

impl Budget {
    /// `daily_usd` per user and day; 0 lets everything through.
    pub fn new(daily_usd: f64) -> Self {
        Self {
            daily_usd,
            spent: Mutex::default(),
        }
    }

    /// Whether `user` may spend more on `day` (days since the Unix epoch, UTC): `Err` with the
    /// amount spent when the budget is used up.
    pub fn check(&self, user: &str, day: u64) -> Result<(), f64> {
        if self.daily_usd <= 0.0 {
            return Ok(());
        }
        let spent = self
            .spent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match spent.get(user) {
            Some((d, usd)) if *d == day && *usd >= self.daily_usd => Err(*usd),
            _ => Ok(()),
        }
    }

    /// Adds `usd` to what `user` spent on `day`.
    pub fn spend(&self, user: &str, day: u64, usd: f64) {
        if self.daily_usd <= 0.0 || usd <= 0.0 {
            return;
        }
        let mut spent = self
            .spent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if spent.len() >= MAX_KEYS && !spent.contains_key(user) {
            spent.retain(|_, (d, _)| *d == day);
        }
        let entry = spent.entry(user.to_owned()).or_insert((day, 0.0));
        if entry.0 != day {
            *entry = (day, 0.0);
        }
        entry.1 += usd;
    }

    /// The configured budget, USD per user and day.
    pub fn daily_usd(&self) -> f64 {
        self.daily_usd
    }
}

/// Open connections per client address (`server.max_connections_per_client`).
#[derive(Debug, Default)]
pub struct Connections {
    open: Mutex<HashMap<std::net::IpAddr, usize>>,
}

/// One open connection, counted until it is dropped (with the connection).
#[derive(Debug)]
pub struct ConnectionSlot {
    connections: std::sync::Arc<Connections>,
    ip: std::net::IpAddr,
    /// Whether the client had more connections open than allowed when this one opened.
    pub over: bool,
}

impl Connections {
    /// Counts a connection from `ip`; `over` when that makes more than `cap` (0 = no cap).
    pub fn open(self: &std::sync::Arc<Self>, ip: std::net::IpAddr, cap: usize) -> ConnectionSlot {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = open.entry(ip).or_default();
        *n += 1;
        ConnectionSlot {
            connections: self.clone(),
            ip,
            over: cap > 0 && *n > cap,
        }
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self
            .connections
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Today (UTC) as days since the Unix epoch, and the time left until tomorrow.
pub fn today() -> (u64, Duration) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    (now / 86_400, Duration::from_secs(86_400 - now % 86_400))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bucket lets `per_minute` through at once, then one per `60 / per_minute` seconds, and
    /// says how long to wait; keys are independent; 0 is off.
    #[test]
    fn token_buckets_refill_at_the_configured_rate() {
        let l = RateLimiter::new(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check("a", t0).is_ok());
        }
        let wait = l.check("a", t0).unwrap_err();
        assert!((19.0..=20.0).contains(&wait.as_secs_f64()), "{wait:?}");
        assert!(
            l.check("b", t0).is_ok(),
            "another caller has its own bucket"
        );
        assert!(l.check("a", t0 + Duration::from_secs(20)).is_ok());
        assert!(l.check("a", t0 + Duration::from_secs(21)).is_err());
        let off = RateLimiter::new(0);
        assert!((0..1000).all(|_| off.check("a", t0).is_ok()));
    }

    /// Connections are counted per address while they are open; beyond the cap they are over.
    #[test]
    fn connections_are_counted_per_client_while_open() {
        let c = std::sync::Arc::new(Connections::default());
        let a: std::net::IpAddr = "10.0.0.1".parse().unwrap();
        let b: std::net::IpAddr = "10.0.0.2".parse().unwrap();
        let first = c.open(a, 2);
        let second = c.open(a, 2);
        assert!(!first.over && !second.over);
        assert!(c.open(a, 2).over, "a third at once is over");
        assert!(!c.open(b, 2).over, "another client has its own count");
        drop(first);
        assert!(!c.open(a, 2).over, "a closed connection frees its place");
        assert!(!c.open(a, 0).over, "0 = no cap");
    }

    /// A user's spend counts per UTC day; the budget refuses once it is used up, and a new day
    /// starts from zero.
    #[test]
    fn the_daily_budget_resets_each_day() {
        let b = Budget::new(0.01);
        assert!(b.check("u", 100).is_ok());
        b.spend("u", 100, 0.006);
        assert!(b.check("u", 100).is_ok());
        b.spend("u", 100, 0.006);
        assert_eq!(b.check("u", 100), Err(0.012));
        assert!(b.check("other", 100).is_ok());
        assert!(b.check("u", 101).is_ok(), "a new day");
        b.spend("u", 101, 0.001);
        assert!(b.check("u", 101).is_ok());
        assert!(Budget::new(0.0).check("u", 100).is_ok());
    }
}
