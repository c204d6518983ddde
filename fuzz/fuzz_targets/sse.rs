//! The SSE parser: the same bytes fed whole or split anywhere give the same
//! events, and nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pincer_agent::provider::sse::SseParser;

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    // The first byte picks the split points.
    let (step, body) = (data[0] as usize % 17 + 1, &data[1..]);
    let mut whole = SseParser::new();
    let mut a = whole.feed(body);
    a.extend(whole.finish());
    let mut split = SseParser::new();
    let mut b = Vec::new();
    for chunk in body.chunks(step) {
        b.extend(split.feed(chunk));
    }
    b.extend(split.finish());
    assert_eq!(a, b, "split at every {step} bytes");
});
