use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Spaces session starts (Identify) across the shards of one bot: at most
/// `max_concurrency` starts in any window of 5 s (spec §2, `session_start_limit`).
/// Resumes do not count.
#[derive(Debug, Clone)]
pub struct IdentifyQueue {
    inner: Arc<Mutex<Window>>,
}

#[derive(Debug)]
struct Window {
    max: usize,
    period: Duration,
    starts: VecDeque<Instant>,
}

impl IdentifyQueue {
    /// A queue allowing `max_concurrency` identifies per 5 s (at least 1).
    pub fn new(max_concurrency: u32) -> Self {
        Self::with_period(max_concurrency, Duration::from_secs(5))
    }

    /// The same with another window length.
    pub fn with_period(max_concurrency: u32, period: Duration) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Window {
                max: max_concurrency.max(1) as usize,
                period,
                starts: VecDeque::new(),
            })),
        }
    }

    /// Waits until an identify may be sent, and takes that slot.
    pub async fn acquire(&self) {
        let mut window = self.inner.lock().await;
        loop {
            let now = Instant::now();
            while window.starts.front().is_some_and(|t| now.duration_since(*t) >= window.period) {
                window.starts.pop_front();
            }
            if window.starts.len() < window.max {
                window.starts.push_back(now);
                return;
            }
            let oldest = *window.starts.front().expect("window is full");
            // Holding the lock while sleeping keeps waiters in order.
            tokio::time::sleep_until(oldest + window.period).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn allows_max_concurrency_per_window() {
        let queue = IdentifyQueue::new(2);
        let start = Instant::now();
        queue.acquire().await;
        queue.acquire().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        queue.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        queue.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        queue.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(10));
    }
}
