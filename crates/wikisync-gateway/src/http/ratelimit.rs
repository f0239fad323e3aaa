//! The rate limit of verifications of intent per client address (`--verify-per-minute`).
//!
//! Each verification makes the gateway call a URL the client chose, so a client could use it
//! to scan what the gateway reaches. Every client address has a bucket of `per_minute`
//! attempts that refills evenly over a minute; an attempt with the bucket empty is
//! `429 too_many_requests` with `Retry-After`. IPv6 clients are counted per /64 (one host
//! usually holds a whole /64). Requests with a valid publisher token are not counted. Behind a reverse proxy every client has the proxy's address:
//! raise the limit there, or limit at the proxy.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept before full (idle) ones are forgotten.
const PRUNE_AT: usize = 10_000;

/// Token buckets per client address.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// A limiter of `per_minute` attempts per address (0: no limit).
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::default(),
        }
    }

    /// Takes one attempt for `client` (`None`: an address unknown, counted together) at `now`:
    /// `Ok`, or `Err` with how long until the next attempt is allowed.
    pub fn take(&self, client: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let key = client.map_or(IpAddr::from([0u8; 16]), crate::netpolicy::client_key);
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= PRUNE_AT {
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_sec < capacity
            });
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let refilled = now.saturating_duration_since(bucket.at).as_secs_f64() * per_sec;
        bucket.tokens = (bucket.tokens + refilled).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_sec))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_and_refills_with_time_given_by_hand() {
        let limiter = RateLimiter::new(2);
        let start = Instant::now();
        let a = Some("192.0.2.1".parse().expect("ip"));
        let b = Some("192.0.2.2".parse().expect("ip"));
        assert!(limiter.take(a, start).is_ok());
        assert!(limiter.take(a, start).is_ok());
        let wait = limiter.take(a, start).expect_err("empty");
        assert!(
            wait > Duration::from_secs(29) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert!(
            limiter.take(b, start).is_ok(),
            "another address has its own bucket"
        );
        assert!(limiter.take(a, start + Duration::from_secs(30)).is_ok());
        assert!(limiter.take(a, start + Duration::from_secs(30)).is_err());
    }

    #[test]
    fn ipv6_is_counted_per_64_and_zero_means_no_limit() {
        let limiter = RateLimiter::new(1);
        let now = Instant::now();
        assert!(
            limiter
                .take(Some("2001:db8::1".parse().expect("ip")), now)
                .is_ok()
        );
        assert!(
            limiter
                .take(Some("2001:db8::2".parse().expect("ip")), now)
                .is_err()
        );
        assert!(
            limiter
                .take(Some("2001:db8:0:1::1".parse().expect("ip")), now)
                .is_ok()
        );
        let open = RateLimiter::new(0);
        for _ in 0..100 {
            assert!(open.take(None, now).is_ok());
        }
    }
}
