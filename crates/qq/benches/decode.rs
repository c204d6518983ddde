#![allow(missing_docs)] // criterion's macros generate undocumented items
//! Decode + route throughput of gateway dispatches: the work the shard does
//! per inbound event before handing it to the runtime.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pincer_qq::model::{Event, GatewayFrame, OpCode};

fn c2c_frame(seq: u64) -> String {
    format!(
        r#"{{"op":0,"s":{seq},"t":"C2C_MESSAGE_CREATE","id":"C2C_MESSAGE_CREATE:6a1f0c2e-2c4b-4b8e-9d0e-{seq:012}","d":{{"id":"ROBOT1.0_kz3.HU1P2qq8nqJqVf3IfXZQ8H0dQ5lZ0d3nR1u6Kp9EJh0sN0a7wHKSjTlJ0t{seq}","content":"帮我总结一下今天群里讨论的内容，谢谢！","timestamp":"2026-11-26T21:37:18+08:00","author":{{"id":"E4F4AEA33253A2797FB897C50B81D7ED","user_openid":"E4F4AEA33253A2797FB897C50B81D7ED","union_openid":"E4F4AEA33253A2797FB897C50B81D7ED"}},"message_scene":{{"source":"default"}},"message_type":0}}}}"#
    )
}

fn group_frame(seq: u64) -> String {
    format!(
        r#"{{"op":0,"s":{seq},"t":"GROUP_AT_MESSAGE_CREATE","id":"GROUP_AT_MESSAGE_CREATE:yit7pd{seq}","d":{{"id":"ROBOT1.0_yiT7.{seq}","content":" 今天天气怎么样","timestamp":"2025-09-08T23:13:34+08:00","author":{{"id":"0BA1","member_openid":"0BA1","union_openid":"0BA1"}},"group_id":"82B3","group_openid":"82B3","message_scene":{{"source":"default"}},"message_type":0}}}}"#
    )
}

/// What the shard does with one text frame: parse the envelope, route by
/// opcode and type, decode the payload.
fn decode_and_route(text: &str) -> Option<Event> {
    let frame = GatewayFrame::decode(text).ok()?;
    match frame.opcode()? {
        OpCode::Dispatch => {
            let data = frame.d.as_ref().map(|d| d.get()).unwrap_or("null");
            Some(Event::decode(frame.t.as_deref()?, data))
        }
        _ => None,
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("gateway_decode_route");
    let frames: Vec<(&str, Vec<String>)> = vec![
        ("c2c", (1..=1000).map(c2c_frame).collect()),
        ("group_at", (1..=1000).map(group_frame).collect()),
        ("heartbeat_ack", vec![r#"{"op":11}"#.to_owned(); 1000]),
    ];
    for (name, batch) in &frames {
        group.throughput(Throughput::Elements(batch.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), batch, |b, batch| {
            b.iter(|| {
                let mut routed = 0usize;
                for text in batch {
                    if let Some(ev) = decode_and_route(std::hint::black_box(text)) {
                        routed += ev.message_id().map_or(0, str::len);
                    }
                }
                routed
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
