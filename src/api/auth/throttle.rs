//! Slows down password guessing. An attempt counts the moment it starts (so a burst of
//! parallel guesses is held to the same limit as a sequence), and it is counted twice:
//! - for the user *from that client address*: after a few failures that pair is refused
//!   (429) for a pause that doubles with each further failure. Guesses from elsewhere never
//!   lock a user out of the addresses they log in from.
//! - for the client address across all users: spraying many user names from one address
//!   is paused too, with a larger allowance (several people may share an address).
//!
//! A successful login clears its pair and takes back its own count from the address.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures of one user from one address before the first pause.
const FREE_PER_USER: u32 = 5;
/// Failures from one address, whatever the users, before the first pause.
const FREE_PER_ADDRESS: u32 = 20;
/// The longest pause.
const MAX_PAUSE: Duration = Duration::from_secs(300);
/// A key whose last failure is this old starts afresh.
const FORGET_AFTER: Duration = Duration::from_secs(900);
/// Keys tracked at most per table (guessing many names must not grow memory).
const MAX_TRACKED: usize = 10_000;

/// Where a login comes from: an IPv4 address, or the /64 network of an IPv6 one (a
/// single host usually holds a whole /64). `None` when the transport has no address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(Option<IpAddr>);

impl ClientKey {
    pub fn new(address: Option<IpAddr>) -> Self {
        ClientKey(address.map(|ip| match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    IpAddr::V6(bits.into())
                }
            },
            v4 => v4,
        }))
    }
}

/// Why an attempt may not start, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled(pub Duration);

/// Failures per user and address, and per address.
pub struct LoginThrottle {
    pairs: Mutex<FailureCounts<(String, ClientKey)>>,
    addresses: Mutex<FailureCounts<ClientKey>>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            pairs: Mutex::new(FailureCounts::new(FREE_PER_USER)),
            addresses: Mutex::new(FailureCounts::new(FREE_PER_ADDRESS)),
        }
    }
}

impl LoginThrottle {
    /// Start an attempt, counted as a failure until [`Attempt::succeeded`] says otherwise;
    /// refused while the user from this address, or the address, is paused.
    pub fn begin(
        &self,
        user: &str,
        client: ClientKey,
        now: Instant,
    ) -> Result<Attempt<'_>, Throttled> {
        let pair = (user.to_string(), client);
        let mut pairs = self.pairs.lock().expect("throttle lock");
        let mut addresses = self.addresses.lock().expect("throttle lock");
        let wait = pairs.wait(&pair, now).max(addresses.wait(&client, now));
        if !wait.is_zero() {
            return Err(Throttled(wait));
        }
        pairs.count(pair.clone(), now);
        addresses.count(client, now);
        Ok(Attempt {
            throttle: self,
            pair,
        })
    }
}

/// A login in progress; dropping it leaves it counted as a failure.
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    pair: (String, ClientKey),
}

impl Attempt<'_> {
    /// The password was right: the pair starts afresh and the address gets its count back.
    pub fn succeeded(self) {
        self.throttle
            .pairs
            .lock()
            .expect("throttle lock")
            .forget(&self.pair);
        self.throttle
            .addresses
            .lock()
            .expect("throttle lock")
            .take_back(&self.pair.1);
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

/// Consecutive failures per key, bounded in size.
struct FailureCounts<K> {
    free: u32,
    by_key: HashMap<K, Failures>,
}

impl<K: Hash + Eq + Clone> FailureCounts<K> {
    fn new(free: u32) -> Self {
        FailureCounts {
            free,
            by_key: HashMap::new(),
        }
    }

    /// How long `key` must still wait (zero when it may go).
    fn wait(&self, key: &K, now: Instant) -> Duration {
        self.by_key
            .get(key)
            .and_then(|f| f.blocked_until)
            .map_or(Duration::ZERO, |until| until.saturating_duration_since(now))
    }

    fn count(&mut self, key: K, now: Instant) {
        if self.by_key.len() >= MAX_TRACKED && !self.by_key.contains_key(&key) {
            self.make_room(now);
        }
        let entry = self.by_key.entry(key).or_insert(Failures {
            count: 0,
            last: now,
            blocked_until: None,
        });
        if now.duration_since(entry.last) >= FORGET_AFTER {
            entry.count = 0;
        }
        entry.count += 1;
        entry.last = now;
        entry.blocked_until = pause(entry.count, self.free).map(|pause| now + pause);
    }

    fn take_back(&mut self, key: &K) {
        if let Some(entry) = self.by_key.get_mut(key) {
            entry.count = entry.count.saturating_sub(1);
            let pause = pause(entry.count, self.free);
            entry.blocked_until = pause.map(|pause| entry.last + pause);
        }
    }

    fn forget(&mut self, key: &K) {
        self.by_key.remove(key);
    }

    fn make_room(&mut self, now: Instant) {
        self.by_key
            .retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
        if self.by_key.len() >= MAX_TRACKED
            && let Some(oldest) = self
                .by_key
                .iter()
                .min_by_key(|(_, f)| f.last)
                .map(|(k, _)| k.clone())
        {
            self.by_key.remove(&oldest);
        }
    }
}

/// The pause after `count` failures: one second at the allowance, doubling after it.
fn pause(count: u32, free: u32) -> Option<Duration> {
    (count >= free).then(|| {
        let doublings = (count - free).min(16);
        Duration::from_secs(1 << doublings).min(MAX_PAUSE)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(last: u8) -> ClientKey {
        ClientKey::new(Some(IpAddr::from([10, 0, 0, last])))
    }

    fn fail(throttle: &LoginThrottle, user: &str, from: ClientKey, now: Instant) {
        drop(throttle.begin(user, from, now).expect("not throttled yet"));
    }

    #[test]
    fn pauses_start_after_free_failures_and_double() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_PER_USER {
            fail(&throttle, "ingest", client(1), t0);
        }
        let wait = |user, from| throttle.begin(user, from, t0).err();
        assert_eq!(
            wait("ingest", client(1)),
            Some(Throttled(Duration::from_secs(1)))
        );
        assert!(wait("other", client(1)).is_none());
        let later = t0 + Duration::from_secs(1);
        fail(&throttle, "ingest", client(1), later);
        assert_eq!(
            throttle.begin("ingest", client(1), later).err(),
            Some(Throttled(Duration::from_secs(2)))
        );
    }

    #[test]
    fn attempts_in_flight_count_before_they_finish() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        let in_flight: Vec<_> = (0..FREE_PER_USER)
            .map(|_| throttle.begin("ingest", client(1), t0).unwrap())
            .collect();
        assert!(throttle.begin("ingest", client(1), t0).is_err());
        drop(in_flight);
    }

    #[test]
    fn guesses_from_elsewhere_do_not_lock_the_user_out() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_PER_USER * 2 {
            let _ = throttle.begin("ingest", client(66), t0);
        }
        assert!(throttle.begin("ingest", client(66), t0).is_err());
        throttle
            .begin("ingest", client(1), t0)
            .expect("the user's own address is not paused")
            .succeeded();
    }

    #[test]
    fn one_address_guessing_many_users_is_paused_and_success_gives_back_only_its_own_count() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for i in 0..FREE_PER_ADDRESS - 1 {
            fail(&throttle, &format!("user{i}"), client(7), t0);
        }
        throttle.begin("mine", client(7), t0).unwrap().succeeded();
        fail(&throttle, "last", client(7), t0);
        assert!(throttle.begin("fresh", client(7), t0).is_err());
        assert!(throttle.begin("fresh", client(8), t0).is_ok());
    }

    #[test]
    fn old_failures_are_forgotten_and_ipv6_hosts_are_their_slash_64() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_PER_USER - 1 {
            fail(&throttle, "ingest", client(1), t0);
        }
        fail(&throttle, "ingest", client(1), t0 + FORGET_AFTER);
        assert!(
            throttle
                .begin("ingest", client(1), t0 + FORGET_AFTER)
                .is_ok()
        );
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        assert_eq!(ClientKey::new(Some(a)), ClientKey::new(Some(b)));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(ClientKey::new(Some(mapped)), client(1));
    }
}
