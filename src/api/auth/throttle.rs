//! Slows down password guessing: after a few consecutive failures for one user name, that
//! name is refused (429) for a while, and the pause doubles with each further failure.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before the first pause.
const FREE_FAILURES: u32 = 5;
/// The longest pause.
const MAX_PAUSE: Duration = Duration::from_secs(300);
/// A name whose last failure is this old starts afresh.
const FORGET_AFTER: Duration = Duration::from_secs(900);
/// Names tracked at most (guessing many names must not grow memory without bound).
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

/// Consecutive login failures per user name.
#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, Failures>>,
}

impl LoginThrottle {
    /// `Some(wait)` when `user` must wait before trying again.
    pub fn blocked(&self, user: &str, now: Instant) -> Option<Duration> {
        let failures = self.failures.lock().expect("throttle lock");
        let until = failures.get(user)?.blocked_until?;
        (until > now).then(|| until - now)
    }

    /// Record a failed attempt.
    pub fn failed(&self, user: &str, now: Instant) {
        let mut failures = self.failures.lock().expect("throttle lock");
        if failures.len() >= MAX_TRACKED && !failures.contains_key(user) {
            failures.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
            if failures.len() >= MAX_TRACKED
                && let Some(oldest) = failures
                    .iter()
                    .min_by_key(|(_, f)| f.last)
                    .map(|(k, _)| k.clone())
            {
                failures.remove(&oldest);
            }
        }
        let entry = failures.entry(user.to_string()).or_insert(Failures {
            count: 0,
            last: now,
            blocked_until: None,
        });
        if now.duration_since(entry.last) >= FORGET_AFTER {
            entry.count = 0;
        }
        entry.count += 1;
        entry.last = now;
        if entry.count >= FREE_FAILURES {
            let doublings = (entry.count - FREE_FAILURES).min(16);
            let pause = Duration::from_secs(1 << doublings).min(MAX_PAUSE);
            entry.blocked_until = Some(now + pause);
        }
    }

    /// A successful login clears the user's failures.
    pub fn succeeded(&self, user: &str) {
        self.failures.lock().expect("throttle lock").remove(user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_start_after_free_failures_and_double() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES - 1 {
            throttle.failed("ingest", t0);
        }
        assert_eq!(throttle.blocked("ingest", t0), None);
        throttle.failed("ingest", t0);
        assert_eq!(throttle.blocked("ingest", t0), Some(Duration::from_secs(1)));
        assert_eq!(throttle.blocked("other", t0), None);
        throttle.failed("ingest", t0);
        assert_eq!(throttle.blocked("ingest", t0), Some(Duration::from_secs(2)));
        assert_eq!(
            throttle.blocked("ingest", t0 + Duration::from_secs(3)),
            None
        );
        throttle.succeeded("ingest");
        assert_eq!(throttle.blocked("ingest", t0), None);
    }

    #[test]
    fn old_failures_are_forgotten() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES - 1 {
            throttle.failed("ingest", t0);
        }
        throttle.failed("ingest", t0 + FORGET_AFTER);
        assert_eq!(throttle.blocked("ingest", t0 + FORGET_AFTER), None);
    }
}
