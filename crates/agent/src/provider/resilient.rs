//! [`Resilient`]: a [`ChatProvider`] wrapper adding a per-attempt timeout and
//! retries with exponential backoff, jitter and `Retry-After`.
//!
//! **Streaming and retries.** Once any text reached `on_delta`, a failure is
//! returned as it is, without a retry: the caller already showed (or sent)
//! that text, and a retry would produce a different answer that cannot be
//! spliced onto it. Failures before the first text delta (connection,
//! status, a stream that broke before saying anything) are retried.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use super::{ChatProvider, ChatRequest, ChatResponse, ProviderError};

/// How [`Resilient`] times out and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 = no retries).
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles per retry.
    pub base_delay: Duration,
    /// Backoff never exceeds this.
    pub max_delay: Duration,
    /// Limit of one whole attempt (connect to last chunk).
    pub timeout: Duration,
    /// A `Retry-After` longer than this is not waited for: the error is returned.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            timeout: Duration::from_secs(180),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based) after `error`, or
    /// `None` when no retry should happen.
    pub fn delay(&self, retry: u32, error: &ProviderError) -> Option<Duration> {
        if !error.is_retryable() || retry >= self.max_attempts {
            return None;
        }
        let doublings = retry.saturating_sub(1).min(20);
        let exp = self.base_delay.saturating_mul(1u32 << doublings).min(self.max_delay);
        // "Equal jitter": uniformly in [exp/2, exp].
        let jittered = if exp.is_zero() {
            exp
        } else {
            let half = exp / 2;
            half + rand::thread_rng().gen_range(Duration::ZERO..=exp - half)
        };
        match error {
            ProviderError::RateLimited { retry_after: Some(after) } => {
                if *after > self.max_retry_after {
                    None
                } else {
                    // Honour the server's wait, plus up to 10 % jitter so clients
                    // spread out; never less than the backoff (`Retry-After: 0`).
                    let extra = after.mul_f64(rand::thread_rng().gen_range(0.0..=0.1));
                    Some((*after + extra).max(jittered))
                }
            }
            _ => Some(jittered),
        }
    }
}

/// Adds a timeout and retries to any [`ChatProvider`].
#[derive(Debug, Clone)]
pub struct Resilient {
    inner: Arc<dyn ChatProvider>,
    policy: RetryPolicy,
}

impl Resilient {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn ChatProvider>, policy: RetryPolicy) -> Self {
        Self { inner, policy }
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }
}

#[async_trait::async_trait]
impl ChatProvider for Resilient {
    async fn chat(
        &self,
        request: &ChatRequest,
        on_delta: &mut (dyn for<'s> FnMut(&'s str) + Send),
    ) -> Result<ChatResponse, ProviderError> {
        let mut attempt = 1;
        loop {
            let mut streamed = false;
            let result = {
                let mut tracking = |t: &str| {
                    streamed = true;
                    on_delta(t);
                };
                match tokio::time::timeout(
                    self.policy.timeout,
                    self.inner.chat(request, &mut tracking),
                )
                .await
                {
                    Ok(r) => r,
                    Err(_) => Err(ProviderError::Timeout(self.policy.timeout)),
                }
            };
            let error = match result {
                Ok(r) => return Ok(r),
                Err(e) => e,
            };
            if streamed {
                tracing::warn!(attempt, error = %error, "model answer failed after text was streamed; not retrying");
                return Err(error);
            }
            let Some(wait) = self.policy.delay(attempt, &error) else {
                return Err(error);
            };
            tracing::info!(attempt, wait_ms = wait.as_millis() as u64, error = %error, "retrying model request");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Mutex;

    use super::*;
    use crate::provider::{FinishReason, Usage};

    /// Fails with the scripted errors in order (optionally streaming text first), then answers.
    #[derive(Debug)]
    struct Flaky {
        errors: Mutex<Vec<ProviderError>>,
        text_before_error: bool,
        calls: AtomicU32,
        hang: bool,
    }

    #[async_trait::async_trait]
    impl ChatProvider for Flaky {
        async fn chat(
            &self,
            _: &ChatRequest,
            on_delta: &mut (dyn for<'s> FnMut(&'s str) + Send),
        ) -> Result<ChatResponse, ProviderError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.hang {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            let next = self.errors.lock().unwrap().pop();
            if let Some(e) = next {
                if self.text_before_error {
                    on_delta("partial");
                }
                return Err(e);
            }
            on_delta("ok");
            Ok(ChatResponse {
                content: "ok".into(),
                tool_calls: vec![],
                usage: Usage::default(),
                finish_reason: FinishReason::Stop,
            })
        }
    }

    fn flaky(errors: Vec<ProviderError>, text_before_error: bool) -> Arc<Flaky> {
        Arc::new(Flaky {
            errors: Mutex::new(errors),
            text_before_error,
            calls: AtomicU32::new(0),
            hang: false,
        })
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(10),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_retryable_errors_with_backoff() {
        let inner = flaky(
            vec![ProviderError::Server { status: 502 }, ProviderError::BrokenStream("x".into())],
            false,
        );
        let r = Resilient::new(inner.clone(), policy());
        let start = tokio::time::Instant::now();
        let mut text = String::new();
        let resp = r.chat(&ChatRequest::default(), &mut |t| text.push_str(t)).await.unwrap();
        assert_eq!(resp.content, "ok");
        assert_eq!(text, "ok");
        assert_eq!(inner.calls.load(Ordering::SeqCst), 3);
        // 50..100 ms then 100..200 ms.
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(150) && waited <= Duration::from_millis(300),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_retry_after_text_was_streamed() {
        let inner = flaky(vec![ProviderError::BrokenStream("cut".into())], true);
        let r = Resilient::new(inner.clone(), policy());
        let mut text = String::new();
        let err = r.chat(&ChatRequest::default(), &mut |t| text.push_str(t)).await.unwrap_err();
        assert!(matches!(err, ProviderError::BrokenStream(_)));
        assert_eq!(
            text, "partial",
            "the caller saw the partial text once, no second answer spliced on"
        );
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn non_retryable_errors_return_at_once() {
        let inner = flaky(vec![ProviderError::BadKey { detail: "no".into() }], false);
        let r = Resilient::new(inner.clone(), policy());
        let err = r.chat(&ChatRequest::default(), &mut |_| {}).await.unwrap_err();
        assert!(matches!(err, ProviderError::BadKey { .. }));
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_max_attempts_and_on_long_retry_after() {
        let inner = flaky((0..5).map(|_| ProviderError::Server { status: 500 }).collect(), false);
        let r = Resilient::new(inner.clone(), policy());
        let err = r.chat(&ChatRequest::default(), &mut |_| {}).await.unwrap_err();
        assert!(matches!(err, ProviderError::Server { status: 500 }));
        assert_eq!(inner.calls.load(Ordering::SeqCst), 3);

        let long = ProviderError::RateLimited { retry_after: Some(Duration::from_secs(60)) };
        assert_eq!(policy().delay(1, &long), None);
        let short = ProviderError::RateLimited { retry_after: Some(Duration::from_secs(2)) };
        let d = policy().delay(1, &short).unwrap();
        assert!(d >= Duration::from_secs(2) && d <= Duration::from_millis(2200), "{d:?}");
        let zero = ProviderError::RateLimited { retry_after: Some(Duration::ZERO) };
        assert!(policy().delay(1, &zero).unwrap() >= Duration::from_millis(50));
        assert!(policy().delay(0, &zero).is_some(), "0 is treated as the first retry");
        assert_eq!(policy().delay(3, &zero), None, "max attempts reached");
    }

    #[tokio::test(start_paused = true)]
    async fn times_out_each_attempt() {
        let inner = Arc::new(Flaky {
            errors: Mutex::new(vec![]),
            text_before_error: false,
            calls: AtomicU32::new(0),
            hang: true,
        });
        let r = Resilient::new(
            inner.clone(),
            RetryPolicy { max_attempts: 2, timeout: Duration::from_secs(1), ..policy() },
        );
        let err = r.chat(&ChatRequest::default(), &mut |_| {}).await.unwrap_err();
        assert!(matches!(err, ProviderError::Timeout(d) if d == Duration::from_secs(1)));
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
    }
}
