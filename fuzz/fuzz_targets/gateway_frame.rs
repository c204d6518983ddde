//! Gateway frame decoding: whatever arrives on the socket must decode to a
//! frame and an event, or to an error, and never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pincer_qq::model::{Event, GatewayFrame, Hello, InvalidSession, OpCode};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(frame) = GatewayFrame::decode(text) else { return };
    // What the shard does with each opcode.
    match frame.opcode() {
        Some(OpCode::Dispatch) => {
            let data = frame.d.as_ref().map(|d| d.get()).unwrap_or("null");
            let event = Event::decode(frame.t.as_deref().unwrap_or_default(), data);
            let _ = event.message_id();
            let _ = event.kind();
        }
        Some(OpCode::Hello) => {
            let _ = frame.payload::<Hello>();
        }
        Some(OpCode::InvalidSession) => {
            let _ = frame.payload::<InvalidSession>();
        }
        _ => {}
    }
    // A decoded frame encodes again and decodes to the same envelope.
    let again = GatewayFrame::decode(&frame.encode()).expect("re-encoded frame decodes");
    assert_eq!((again.op, again.s, &again.t, &again.id), (frame.op, frame.s, &frame.t, &frame.id));
});
