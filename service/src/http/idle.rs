//! How long a connection may go without a request: hyper's own header read timeout arms a timer
//! for every request (an allocation, a clock read and a timer-wheel insertion and removal on the
//! hot path), so the bound is kept here instead, lazily, with one timer per connection.
//!
//! A connection is active when a request head arrives, while a request is being answered, and
//! whenever bytes of an answer are written (a slow client still reading a large image is never
//! cut). It is closed once it has been inactive for a whole `timeout`: a client that connects and
//! sends nothing, trickles a head that never completes, or sits idle between keep-alive requests
//! is cut between `timeout` and 1.5 × `timeout` after its last activity.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One connection's activity, shared by its requests, its IO and its watchdog.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    /// Bumped on every request head, request end and answer write.
    events: AtomicU64,
    /// Requests being answered.
    in_flight: AtomicU64,
}

impl Activity {
    /// Notes progress (bytes of an answer written).
    pub(crate) fn progress(&self) {
        self.events.fetch_add(1, Ordering::Relaxed);
    }

    /// Notes a request head; the request counts as active until the guard is dropped.
    pub(crate) fn request(self: &Arc<Self>) -> Busy {
        self.events.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Busy(self.clone())
    }
}

/// A request being answered ([`Activity::request`]).
pub(crate) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.events.fetch_add(1, Ordering::Relaxed);
    }
}

/// Resolves once `activity` has been quiet (no event, no request in flight) for two checks in a
/// row, `timeout / 2` apart: between `timeout` and 1.5 × `timeout` after the last activity.
pub(crate) fn quiet_for(activity: Arc<Activity>, timeout: Duration) -> impl Future<Output = ()> {
    let step = (timeout / 2).max(Duration::from_millis(1));
    async move {
        let mut seen = activity.events.load(Ordering::Relaxed);
        let mut quiet = 0;
        loop {
            tokio::time::sleep(step).await;
            let now = activity.events.load(Ordering::Relaxed);
            if now != seen || activity.in_flight.load(Ordering::Relaxed) > 0 {
                seen = now;
                quiet = 0;
                continue;
            }
            quiet += 1;
            if quiet >= 2 {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn quiet_ends_between_one_and_one_and_a_half_timeouts() {
        let activity = Arc::new(Activity::default());
        let started = Instant::now();
        quiet_for(activity, Duration::from_millis(200)).await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(200), "{waited:?}");
        assert!(waited < Duration::from_millis(1000), "{waited:?}");
    }

    #[tokio::test]
    async fn a_request_in_flight_or_progress_keeps_it_alive() {
        let activity = Arc::new(Activity::default());
        let busy = activity.request();
        let watch = tokio::spawn(quiet_for(activity.clone(), Duration::from_millis(100)));
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(!watch.is_finished(), "cut while a request was in flight");
        drop(busy);
        for _ in 0..8 {
            activity.progress();
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        assert!(!watch.is_finished(), "cut while answer bytes were written");
        tokio::time::timeout(Duration::from_secs(2), watch)
            .await
            .expect("quiet once nothing happens")
            .unwrap();
    }
}
