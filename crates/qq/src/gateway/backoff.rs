use std::time::Duration;

use rand::Rng;

/// Reconnect delays: a table indexed by consecutive failures, with jitter and
/// a cap (the OpenClaw plugin's 1/2/5/10/30/60 s schedule by default).
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// Delay after the n-th consecutive failure (the last entry repeats).
    pub steps: Vec<Duration>,
    /// Fraction of each delay that is randomised (0.0–1.0): the delay is drawn
    /// from `[d × (1 − jitter), d]` so that many bots do not reconnect in step.
    pub jitter: f64,
    /// Upper bound of any delay.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            steps: [1, 2, 5, 10, 30, 60].into_iter().map(Duration::from_secs).collect(),
            jitter: 0.3,
            cap: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The delay before attempt `failures + 1`; zero when nothing has failed.
    pub fn delay(&self, failures: u32) -> Duration {
        if failures == 0 || self.steps.is_empty() {
            return Duration::ZERO;
        }
        let index = (failures as usize - 1).min(self.steps.len() - 1);
        let base = self.steps[index].min(self.cap);
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 - rand::thread_rng().gen_range(0.0..=jitter);
        base.mul_f64(factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_along_the_table_with_jitter_and_cap() {
        let b = Backoff::default();
        assert_eq!(b.delay(0), Duration::ZERO);
        for (failures, step) in [(1, 1), (2, 2), (3, 5), (4, 10), (5, 30), (6, 60), (50, 60)] {
            for _ in 0..50 {
                let d = b.delay(failures);
                let step = Duration::from_secs(step);
                assert!(d <= step && d >= step.mul_f64(0.7), "{failures}: {d:?}");
            }
        }
        let capped = Backoff { cap: Duration::from_secs(3), jitter: 0.0, ..Backoff::default() };
        assert_eq!(capped.delay(6), Duration::from_secs(3));
    }
}
