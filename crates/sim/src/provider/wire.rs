//! The wire shapes: request handling, error bodies, whole and streamed replies.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::{CallTiming, Fault, ProviderSim, RecordedRequest, ScriptedReply, DEFAULT_MODELS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    OpenAi,
    Anthropic,
}

/// What the model says, with usage settled.
struct Reply {
    text: String,
    calls: Vec<(String, Value)>,
    input_tokens: u64,
    output_tokens: u64,
}

fn half_up(chars: usize) -> u64 {
    chars.div_ceil(2) as u64
}

/// Characters of all text in a request's messages/system (not roles, types or ids).
fn text_chars(v: &Value) -> usize {
    match v {
        Value::String(s) => s.chars().count(),
        Value::Array(a) => a.iter().map(text_chars).sum(),
        Value::Object(o) => o
            .iter()
            .filter(|(k, _)| {
                !matches!(k.as_str(), "role" | "type" | "id" | "tool_call_id" | "tool_use_id")
            })
            .map(|(_, v)| text_chars(v))
            .sum(),
        _ => 0,
    }
}

/// Text of the last user message (string content or its text blocks).
fn last_user_text(body: &Value) -> String {
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return String::new();
    };
    for m in messages.iter().rev() {
        if m.get("role").and_then(Value::as_str) != Some("user") {
            continue;
        }
        match m.get("content") {
            Some(Value::String(s)) => return s.clone(),
            Some(Value::Array(blocks)) => {
                let text: String = blocks
                    .iter()
                    .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                    .filter_map(|b| b.get("text").and_then(Value::as_str))
                    .collect();
                if !text.is_empty() {
                    return text;
                }
            }
            _ => {}
        }
    }
    String::new()
}

fn error_body(shape: Shape, status: u16, kind: &str, code: &str, message: &str) -> Value {
    match shape {
        Shape::OpenAi => {
            json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
        }
        Shape::Anthropic => {
            let t = match status {
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                500..=599 => "api_error",
                _ => "invalid_request_error",
            };
            json!({"type": "error", "error": {"type": t, "message": message}})
        }
    }
}

fn json_response(status: u16, body: &Value, retry_after: Option<u64>) -> Response {
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body.to_string(),
    )
        .into_response();
    if let Some(secs) = retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

fn presented_key(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    bearer.or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_owned))
}

/// Records the request and checks the key; `Some` is the 401 answer.
fn admit(
    sim: &ProviderSim,
    shape: Shape,
    path: &str,
    headers: &HeaderMap,
    body: &Value,
) -> Option<Response> {
    let streamed = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let expected = {
        let mut st = sim.lock();
        if !st.requests_off {
            st.requests.push(RecordedRequest {
                at: Instant::now(),
                path: path.to_owned(),
                body: body.clone(),
                streamed,
            });
        }
        st.api_key.clone()
    };
    let expected = expected?;
    let presented = presented_key(headers);
    if presented.as_deref() == Some(expected.as_str()) {
        return None;
    }
    // Like real services, echo what was presented (clients must redact it).
    let message = match presented {
        Some(p) => {
            format!("Incorrect API key provided: {p}. You can find your API key in the console.")
        }
        None => "You didn't provide an API key.".to_owned(),
    };
    Some(json_response(
        401,
        &error_body(shape, 401, "invalid_request_error", "invalid_api_key", &message),
        None,
    ))
}

fn unknown_model(shape: Shape, model: &str) -> Response {
    let msg = format!("The model `{model}` does not exist or you do not have access to it.");
    json_response(
        404,
        &error_body(shape, 404, "invalid_request_error", "model_not_found", &msg),
        None,
    )
}

/// Applies the next fault and the model check. `Ok(true)` = break the stream.
/// `received`: when the handler had the request's body, where the model's
/// clock starts.
async fn gate(
    sim: &ProviderSim,
    shape: Shape,
    body: &Value,
    received: Instant,
) -> Result<Gate, Box<Response>> {
    let fault = sim.lock().faults.pop_front();
    let model = body.get("model").and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut broken = false;
    match fault {
        None => {}
        Some(Fault::Status { status, retry_after_secs, body }) => {
            let body = body.unwrap_or_else(|| {
                let msg = format!("simulated HTTP {status}");
                let kind = if status == 429 { "rate_limit_exceeded" } else { "server_error" };
                error_body(shape, status, kind, kind, &msg)
            });
            return Err(Box::new(json_response(status, &body, retry_after_secs)));
        }
        Some(Fault::Slow(d)) => tokio::time::sleep(d).await,
        Some(Fault::BrokenStream) => broken = true,
        Some(Fault::InsufficientBalance) => {
            return Err(Box::new(match shape {
                Shape::OpenAi => json_response(
                    402,
                    &error_body(shape, 402, "unknown_error", "invalid_request_error", "Insufficient Balance"),
                    None,
                ),
                Shape::Anthropic => json_response(
                    400,
                    &error_body(
                        shape,
                        400,
                        "invalid_request_error",
                        "",
                        "Your credit balance is too low to access the API. Please go to Plans & Billing to upgrade or purchase credits.",
                    ),
                    None,
                ),
            }));
        }
        Some(Fault::UnknownModel) => return Err(Box::new(unknown_model(shape, &model))),
    }
    let (known, latency, stream_pause) = {
        let st = sim.lock();
        (st.models.is_empty() || st.models.contains(&model), st.latency, st.stream_pause)
    };
    if !known {
        return Err(Box::new(unknown_model(shape, &model)));
    }
    let clock = ModelClock {
        sim: sim.clone(),
        // From the body's arrival: parsing a request with a long history
        // is the provider's work, and a load run must not charge it to
        // Pincer.
        started: received,
        last_user_text: last_user_text(body),
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    Ok(Gate { broken, stream_pause, clock })
}

/// A request that passed [`gate`]: how to answer it, and its clock.
struct Gate {
    /// Break the answer off half-way.
    broken: bool,
    /// The pause inside each streamed event.
    stream_pause: Duration,
    clock: ModelClock,
}

/// Records a call's model time when dropped. It travels with the answer's
/// body, which is dropped once its last byte is handed to the connection (or
/// the client went away), so the time covers the thinking *and* the
/// streaming: a load run charges neither to Pincer.
struct ModelClock {
    sim: ProviderSim,
    started: Instant,
    last_user_text: String,
}

impl Drop for ModelClock {
    fn drop(&mut self) {
        let timing = CallTiming {
            at: self.started,
            last_user_text: std::mem::take(&mut self.last_user_text),
            model_time: self.started.elapsed(),
        };
        self.sim.lock().timings.push(timing);
    }
}

fn reply_for(sim: &ProviderSim, body: &Value) -> Reply {
    let input = half_up(
        text_chars(body.get("messages").unwrap_or(&Value::Null))
            + text_chars(body.get("system").unwrap_or(&Value::Null)),
    );
    let scripted = sim.lock().replies.pop_front();
    let scripted =
        scripted.unwrap_or_else(|| ScriptedReply::Text(format!("echo: {}", last_user_text(body))));
    match scripted {
        ScriptedReply::Text(text) => Reply {
            output_tokens: half_up(text.chars().count()),
            text,
            calls: vec![],
            input_tokens: input,
        },
        ScriptedReply::ToolCalls(calls) => {
            let chars: usize =
                calls.iter().map(|(n, a)| n.chars().count() + a.to_string().chars().count()).sum();
            Reply { text: String::new(), calls, input_tokens: input, output_tokens: half_up(chars) }
        }
        ScriptedReply::Usage { text, input_tokens, output_tokens } => {
            Reply { text, calls: vec![], input_tokens, output_tokens }
        }
    }
}

/// Splits `s` into pieces of `n` characters.
fn pieces(s: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    chars.chunks(n).map(|c| c.iter().collect()).collect()
}

/// An SSE response from events; each event is cut in two chunks, with a
/// pause of `gate.stream_pause` before each event. `broken`: only the first
/// event and half of the second get out, then the connection is dropped.
fn sse_response(events: Vec<String>, gate: Gate) -> Response {
    let Gate { broken, stream_pause, clock } = gate;
    let mut frames: Vec<(bool, Result<Bytes, std::io::Error>)> = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        let bytes = Bytes::from(ev.clone());
        let mid = bytes.len() / 2;
        frames.push((true, Ok(bytes.slice(..mid))));
        if broken && i == 1 {
            frames.push((false, Err(std::io::Error::other("simulated broken stream"))));
            break;
        }
        frames.push((false, Ok(bytes.slice(mid..))));
    }
    let stream = futures_util::stream::iter(frames)
        .then(move |(pause, frame)| async move {
            if pause && !stream_pause.is_zero() {
                tokio::time::sleep(stream_pause).await;
            }
            frame
        })
        // The clock stops when the body (and so this closure) is dropped.
        .map(move |frame| {
            let _running = &clock;
            frame
        });
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// A whole JSON answer; `broken`: half of it, then the connection drops.
fn whole_response(body: &Value, gate: Gate) -> Response {
    // Sent in one write: the model's time ends here.
    let Gate { broken, clock, .. } = gate;
    drop(clock);
    if !broken {
        return json_response(200, body, None);
    }
    let text = Bytes::from(body.to_string());
    let half = text.slice(..text.len() / 2);
    let frames: Vec<Result<Bytes, std::io::Error>> =
        vec![Ok(half), Err(std::io::Error::other("simulated broken answer"))];
    // Pause before the failure so the head and the first half reach the client.
    let stream = futures_util::stream::iter(frames).then(|frame| async move {
        if frame.is_err() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        frame
    });
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn parse_body(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

fn bad_json(shape: Shape) -> Response {
    json_response(
        400,
        &error_body(shape, 400, "invalid_request_error", "invalid_json", "the body is not JSON"),
        None,
    )
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `POST /v1/chat/completions`.
pub(super) async fn openai_chat(
    State(sim): State<ProviderSim>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let received = Instant::now();
    let shape = Shape::OpenAi;
    let body = parse_body(&raw);
    if let Some(r) = admit(&sim, shape, "/v1/chat/completions", &headers, &body) {
        return r;
    }
    if !body.is_object() {
        return bad_json(shape);
    }
    let gate = match gate(&sim, shape, &body, received).await {
        Ok(g) => g,
        Err(r) => return *r,
    };
    let reply = reply_for(&sim, &body);
    let model = body.get("model").and_then(Value::as_str).unwrap_or_default().to_owned();
    let id = format!("chatcmpl-sim-{}", sim.next_id());
    let created = now_secs();
    let finish = if reply.calls.is_empty() { "stop" } else { "tool_calls" };
    let call_ids: Vec<String> =
        reply.calls.iter().map(|_| format!("call_sim_{}", sim.next_id())).collect();
    let usage = json!({
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
    });
    if !body.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        let tool_calls: Vec<Value> = reply
            .calls
            .iter()
            .zip(&call_ids)
            .map(|((name, args), id)| {
                json!({"id": id, "type": "function", "function": {"name": name, "arguments": args.to_string()}})
            })
            .collect();
        let mut message = json!({
            "role": "assistant",
            "content": if reply.text.is_empty() && !tool_calls.is_empty() { Value::Null } else { json!(reply.text) },
        });
        if !tool_calls.is_empty() {
            message["tool_calls"] = json!(tool_calls);
        }
        let whole = json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage,
        });
        return whole_response(&whole, gate);
    }
    let chunk = |delta: Value, finish: Option<&str>| {
        let v = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        format!("data: {v}\n\n")
    };
    let mut events = vec![format!(
        ": keep-alive\n\n{}",
        chunk(json!({"role": "assistant", "content": ""}), None)
    )];
    for p in pieces(&reply.text, 3) {
        events.push(chunk(json!({"content": p}), None));
    }
    for (i, ((name, args), call_id)) in reply.calls.iter().zip(&call_ids).enumerate() {
        events.push(chunk(
            json!({"tool_calls": [{"index": i, "id": call_id, "type": "function",
                "function": {"name": name, "arguments": ""}}]}),
            None,
        ));
        for p in pieces(&args.to_string(), 4) {
            events.push(chunk(
                json!({"tool_calls": [{"index": i, "function": {"arguments": p}}]}),
                None,
            ));
        }
    }
    events.push(chunk(json!({}), Some(finish)));
    if body.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false) {
        let v = json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [], "usage": usage});
        events.push(format!("data: {v}\n\n"));
    }
    events.push("data: [DONE]\n\n".to_owned());
    sse_response(events, gate)
}

/// `POST /v1/messages`.
pub(super) async fn anthropic_messages(
    State(sim): State<ProviderSim>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let received = Instant::now();
    let shape = Shape::Anthropic;
    let body = parse_body(&raw);
    if let Some(r) = admit(&sim, shape, "/v1/messages", &headers, &body) {
        return r;
    }
    if !body.is_object() {
        return bad_json(shape);
    }
    if body.get("max_tokens").and_then(Value::as_u64).is_none() {
        let msg = "max_tokens: Field required";
        return json_response(400, &error_body(shape, 400, "invalid_request_error", "", msg), None);
    }
    let gate = match gate(&sim, shape, &body, received).await {
        Ok(g) => g,
        Err(r) => return *r,
    };
    let reply = reply_for(&sim, &body);
    let model = body.get("model").and_then(Value::as_str).unwrap_or_default().to_owned();
    let id = format!("msg_sim_{}", sim.next_id());
    let stop = if reply.calls.is_empty() { "end_turn" } else { "tool_use" };
    let call_ids: Vec<String> =
        reply.calls.iter().map(|_| format!("toolu_sim_{}", sim.next_id())).collect();
    if !body.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        let mut content = Vec::new();
        if !reply.text.is_empty() {
            content.push(json!({"type": "text", "text": reply.text}));
        }
        for ((name, args), call_id) in reply.calls.iter().zip(&call_ids) {
            content.push(json!({"type": "tool_use", "id": call_id, "name": name, "input": args}));
        }
        let whole = json!({
            "id": id, "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": stop, "stop_sequence": null,
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
        });
        return whole_response(&whole, gate);
    }
    let event = |name: &str, v: Value| format!("event: {name}\ndata: {v}\n\n");
    let mut events = vec![event(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": 1},
        }}),
    )];
    let mut index = 0;
    if !reply.text.is_empty() {
        events.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}),
        ));
        events.push(event("ping", json!({"type": "ping"})));
        for p in pieces(&reply.text, 3) {
            events.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": p}}),
            ));
        }
        events.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    for ((name, args), call_id) in reply.calls.iter().zip(&call_ids) {
        events.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index,
                "content_block": {"type": "tool_use", "id": call_id, "name": name, "input": {}}}),
        ));
        for p in pieces(&args.to_string(), 4) {
            events.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": p}}),
            ));
        }
        events.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    events.push(event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
            "usage": {"output_tokens": reply.output_tokens}}),
    ));
    events.push(event("message_stop", json!({"type": "message_stop"})));
    sse_response(events, gate)
}

fn record_get(sim: &ProviderSim, path: &str) -> Vec<String> {
    let mut st = sim.lock();
    st.requests.push(RecordedRequest {
        at: Instant::now(),
        path: path.to_owned(),
        body: Value::Null,
        streamed: false,
    });
    if st.models.is_empty() {
        DEFAULT_MODELS.iter().map(|m| (*m).to_owned()).collect()
    } else {
        st.models.clone()
    }
}

/// `GET /v1/models` (OpenAI and LM Studio shape).
pub(super) async fn models(State(sim): State<ProviderSim>, headers: HeaderMap) -> Response {
    let models = record_get(&sim, "/v1/models");
    let expected = sim.lock().api_key.clone();
    if let Some(expected) = expected {
        if presented_key(&headers).as_deref() != Some(expected.as_str()) {
            let body = error_body(
                Shape::OpenAi,
                401,
                "invalid_request_error",
                "invalid_api_key",
                "Invalid API key.",
            );
            return json_response(401, &body, None);
        }
    }
    let data: Vec<Value> = models
        .iter()
        .map(|m| json!({"id": m, "object": "model", "created": 0, "owned_by": "pincer-sim"}))
        .collect();
    json_response(200, &json!({"object": "list", "data": data}), None)
}

/// `GET /api/tags` (Ollama shape).
pub(super) async fn ollama_tags(State(sim): State<ProviderSim>) -> Response {
    let models = record_get(&sim, "/api/tags");
    let list: Vec<Value> = models
        .iter()
        .map(|m| {
            json!({"name": m, "model": m, "modified_at": "2025-01-01T00:00:00Z", "size": 4_683_087_332u64,
                "digest": "0000000000000000000000000000000000000000000000000000000000000000",
                "details": {"format": "gguf", "family": "qwen2", "parameter_size": "7.6B", "quantization_level": "Q4_K_M"}})
        })
        .collect();
    json_response(200, &json!({"models": list}), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_text_not_structure() {
        let body = json!({"system": "abcd", "messages": [
            {"role": "user", "content": "hello"},
            {"role": "user", "content": [{"type": "text", "text": "xy"}, {"type": "tool_result", "tool_use_id": "t1", "content": "z"}]},
        ]});
        assert_eq!(text_chars(&body["messages"]) + text_chars(&body["system"]), 4 + 5 + 2 + 1);
        assert_eq!(half_up(5), 3);
        assert_eq!(last_user_text(&body), "xy");
        assert_eq!(pieces("abcdefg", 3), vec!["abc", "def", "g"]);
    }
}
