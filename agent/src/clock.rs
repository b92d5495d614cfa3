//! "Now" as a value: the one wall clock of pharos, injected wherever a
//! reading of it becomes data (sample and stale-marker timestamps, a
//! target's last scrape, the slot of a scrape in its interval, storage
//! retention, rule evaluation and notification times), so tests can set
//! and move it.
//!
//! Elapsed-time measurements (how long a scrape took, when a file is due
//! to be re-read) stay monotonic `Instant`s; they are not readings of the
//! wall clock.

use std::sync::Arc;

/// A source of "now" in Unix milliseconds.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0)
        }))
    }

    /// A clock reading `f`, for tests that move time by hand.
    pub fn from_fn(f: impl Fn() -> i64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(f))
    }

    /// A clock stuck at `ms`, for tests.
    pub fn fixed(ms: i64) -> Clock {
        Clock(Arc::new(move || ms))
    }

    /// A clock that reads `start_ms` now and from then on moves with
    /// Tokio's clock ([`tokio::time::Instant`]), whole milliseconds at a
    /// time. Outside a paused runtime that is the monotonic clock, so it
    /// runs like the system clock without its jumps; in a test under
    /// `tokio::time::pause()` (or `#[tokio::test(start_paused = true)]`)
    /// it stands still until `tokio::time::advance`, or the auto-advance
    /// of an idle runtime, moves it — together with every Tokio timer, so
    /// wall-clock times and sleeps agree exactly.
    ///
    /// Make and read it inside the runtime whose clock it should follow
    /// (each reading asks the current runtime's clock).
    pub fn tokio(start_ms: i64) -> Clock {
        let base = tokio::time::Instant::now();
        Clock(Arc::new(move || {
            start_ms + tokio::time::Instant::now().duration_since(base).as_millis() as i64
        }))
    }

    /// Now, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock(now={})", self.now_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fixed_and_from_fn() {
        assert_eq!(Clock::fixed(42).now_ms(), 42);
        let n = Arc::new(std::sync::atomic::AtomicI64::new(7));
        let c = Clock::from_fn({
            let n = Arc::clone(&n);
            move || n.load(std::sync::atomic::Ordering::SeqCst)
        });
        assert_eq!(c.now_ms(), 7);
        n.store(9, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(c.now_ms(), 9);
        assert_eq!(format!("{:?}", Clock::fixed(3)), "Clock(now=3)");
    }

    #[test]
    fn system_is_unix_milliseconds() {
        // After 2020-01-01.
        assert!(Clock::system().now_ms() > 1_577_836_800_000);
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_moves_with_paused_time() {
        let c = Clock::tokio(1_000_000);
        assert_eq!(c.now_ms(), 1_000_000);
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert_eq!(c.now_ms(), 1_001_500);
        // An idle runtime auto-advances to the sleep's end, exactly.
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(c.now_ms(), 1_061_500);
    }
}
