//! Webhook (HTTP callback) mode (spec §7): Ed25519 signatures derived from
//! the AppSecret, the op 13 URL validation answer, and the op 12 / op 11
//! replies.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::Serialize;

/// Header carrying the hex signature.
pub const SIGNATURE_HEADER: &str = "X-Signature-Ed25519";
/// Header carrying the unix timestamp that is signed with the body.
pub const TIMESTAMP_HEADER: &str = "X-Signature-Timestamp";

/// Why a callback's signature was rejected. Answer such requests with 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// A signature or timestamp header is missing or empty.
    #[error("the callback has no signature or timestamp header")]
    Missing,
    /// The signature is not hexadecimal.
    #[error("the callback signature is not hexadecimal")]
    NotHex,
    /// The signature is not 64 bytes.
    #[error("the callback signature is {0} bytes, not 64")]
    WrongLength(usize),
    /// The top three bits of the last byte are set, which no valid signature has.
    #[error("the callback signature is malformed")]
    Malformed,
    /// The signature does not match: not from QQ, or signed with another secret.
    #[error("the callback signature does not match; the request is not from QQ or the AppSecret is wrong")]
    Mismatch,
    /// The AppSecret is empty, so there is no key.
    #[error("the AppSecret is empty; no webhook key can be derived")]
    EmptySecret,
}

/// The Ed25519 seed of an AppSecret: the secret's bytes repeated until there
/// are at least 32, then cut to 32.
pub fn derive_seed(secret: &str) -> Option<[u8; 32]> {
    let bytes = secret.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    let mut seed = [0u8; 32];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = bytes[i % bytes.len()];
    }
    Some(seed)
}

/// Signs and verifies callbacks with the key derived from the AppSecret.
/// `Debug` does not print the key.
#[derive(Clone)]
pub struct WebhookVerifier {
    signing: SigningKey,
    verifying: VerifyingKey,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("public_key", &hex::encode(self.verifying.as_bytes()))
            .finish()
    }
}

/// The answer to an op 13 URL validation request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationResponse {
    /// The `plain_token` of the request, echoed.
    pub plain_token: String,
    /// Hex Ed25519 signature of `event_ts ‖ plain_token`.
    pub signature: String,
}

impl WebhookVerifier {
    /// A verifier for the bot with this AppSecret.
    pub fn new(secret: &str) -> Result<Self, SignatureError> {
        let seed = derive_seed(secret).ok_or(SignatureError::EmptySecret)?;
        let signing = SigningKey::from_bytes(&seed);
        let verifying = signing.verifying_key();
        Ok(Self { signing, verifying })
    }

    /// The public key bytes.
    pub fn public_key(&self) -> [u8; 32] {
        self.verifying.to_bytes()
    }

    /// Checks the `X-Signature-Ed25519` (hex) and `X-Signature-Timestamp`
    /// headers against the **raw** body bytes (re-serialised JSON would not
    /// match).
    pub fn verify(
        &self,
        timestamp: Option<&str>,
        signature_hex: Option<&str>,
        raw_body: &[u8],
    ) -> Result<(), SignatureError> {
        let timestamp = timestamp.filter(|t| !t.is_empty()).ok_or(SignatureError::Missing)?;
        let signature_hex = signature_hex
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(SignatureError::Missing)?;
        let bytes = hex::decode(signature_hex).map_err(|_| SignatureError::NotHex)?;
        let bytes: [u8; 64] =
            bytes.as_slice().try_into().map_err(|_| SignatureError::WrongLength(bytes.len()))?;
        if bytes[63] & 0xE0 != 0 {
            return Err(SignatureError::Malformed);
        }
        let signature = Signature::from_bytes(&bytes);
        let mut message = Vec::with_capacity(timestamp.len() + raw_body.len());
        message.extend_from_slice(timestamp.as_bytes());
        message.extend_from_slice(raw_body);
        self.verifying.verify(&message, &signature).map_err(|_| SignatureError::Mismatch)
    }

    /// Hex signature of `timestamp ‖ body`, as the platform sends it (for
    /// the simulator and tests).
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        let mut message = Vec::with_capacity(timestamp.len() + body.len());
        message.extend_from_slice(timestamp.as_bytes());
        message.extend_from_slice(body);
        hex::encode(self.signing.sign(&message).to_bytes())
    }

    /// The answer to op 13 `{"plain_token","event_ts"}`: the token echoed
    /// and the signature of `event_ts ‖ plain_token`. Send it as JSON with
    /// HTTP 200.
    pub fn validation_response(&self, plain_token: &str, event_ts: &str) -> ValidationResponse {
        ValidationResponse {
            plain_token: plain_token.to_owned(),
            signature: self.sign(event_ts, plain_token.as_bytes()),
        }
    }
}

/// The JSON body answering a dispatch: `{"op":12,"d":0}`.
pub fn ack() -> &'static str {
    r#"{"op":12,"d":0}"#
}

/// The JSON body answering a platform heartbeat (op 1 with `d: seq`):
/// `{"op":11,"d":seq}`.
pub fn heartbeat_ack(seq: u64) -> String {
    format!(r#"{{"op":11,"d":{seq}}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "naOC0ocQE3shWLAfffVLB1rhYPG7";

    #[test]
    fn key_derivation_matches_the_official_vector() {
        assert_eq!(&derive_seed(SECRET).unwrap(), b"naOC0ocQE3shWLAfffVLB1rhYPG7naOC");
        let v = WebhookVerifier::new(SECRET).unwrap();
        assert_eq!(
            v.public_key(),
            [
                215, 195, 98, 254, 120, 174, 248, 31, 242, 50, 135, 180, 147, 98, 139, 93, 176, 42,
                60, 79, 227, 11, 33, 94, 77, 25, 96, 155, 93, 118, 103, 58
            ]
        );
        // Short secrets repeat several times; long ones are cut.
        assert_eq!(&derive_seed("abc").unwrap(), b"abcabcabcabcabcabcabcabcabcabcab");
        assert_eq!(&derive_seed(&"x".repeat(40)).unwrap(), &[b'x'; 32]);
        assert_eq!(derive_seed(""), None);
        assert_eq!(WebhookVerifier::new("").unwrap_err(), SignatureError::EmptySecret);
    }

    #[test]
    fn dispatch_signature_matches_the_official_vector() {
        let v = WebhookVerifier::new(SECRET).unwrap();
        let body = "{\n  \"op\": 0,\n  \"d\": {},\n  \"t\": \"GATEWAY_EVENT_NAME\"\n}";
        let expected = "865ad13a61752ca65e26bde6676459cd36cf1be609375b37bd62af366e1dc25a8dc789ba7f14e017ada3d554c671a911bfdf075ba54835b23391d509579ed002";
        assert_eq!(v.sign("1725442341", body.as_bytes()), expected);
        assert_eq!(v.verify(Some("1725442341"), Some(expected), body.as_bytes()), Ok(()));
        // Upper-case hex is fine too.
        assert_eq!(
            v.verify(Some("1725442341"), Some(&expected.to_uppercase()), body.as_bytes()),
            Ok(())
        );
        // The one-line rendering of the same JSON does not verify.
        let one_line = r#"{"op":0,"d":{},"t":"GATEWAY_EVENT_NAME"}"#;
        assert_eq!(
            v.verify(Some("1725442341"), Some(expected), one_line.as_bytes()),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            v.verify(Some("1725442342"), Some(expected), body.as_bytes()),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn op13_validation_matches_the_official_vector() {
        let v = WebhookVerifier::new("DG5g3B4j9X2KOErG").unwrap();
        let answer = v.validation_response("Arq0D5A61EgUu4OxUvOp", "1725442341");
        assert_eq!(answer.plain_token, "Arq0D5A61EgUu4OxUvOp");
        assert_eq!(
            answer.signature,
            "87befc99c42c651b3aac0278e71ada338433ae26fcb24307bdc5ad38c1adc2d01bcfcadc0842edac85e85205028a1132afe09280305f13aa6909ffc2d652c706"
        );
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(json["plain_token"], "Arq0D5A61EgUu4OxUvOp");
        assert_eq!(json.as_object().unwrap().len(), 2);
    }

    #[test]
    fn malformed_signatures_are_rejected_before_verifying() {
        let v = WebhookVerifier::new(SECRET).unwrap();
        let body = b"{}";
        let good = v.sign("1", body);
        assert_eq!(v.verify(None, Some(&good), body), Err(SignatureError::Missing));
        assert_eq!(v.verify(Some("1"), None, body), Err(SignatureError::Missing));
        assert_eq!(v.verify(Some("1"), Some(""), body), Err(SignatureError::Missing));
        assert_eq!(v.verify(Some("1"), Some("zz"), body), Err(SignatureError::NotHex));
        assert_eq!(
            v.verify(Some("1"), Some(&good[..126]), body),
            Err(SignatureError::WrongLength(63))
        );
        let mut high = hex::decode(&good).unwrap();
        high[63] |= 0x80;
        assert_eq!(
            v.verify(Some("1"), Some(&hex::encode(high)), body),
            Err(SignatureError::Malformed)
        );
        assert_eq!(v.verify(Some("1"), Some(&good), body), Ok(()));
        let other = WebhookVerifier::new("another-secret").unwrap();
        assert_eq!(other.verify(Some("1"), Some(&good), body), Err(SignatureError::Mismatch));
    }

    #[test]
    fn acks_and_debug() {
        assert_eq!(ack(), r#"{"op":12,"d":0}"#);
        assert_eq!(heartbeat_ack(42), r#"{"op":11,"d":42}"#);
        let parsed: serde_json::Value = serde_json::from_str(ack()).unwrap();
        assert_eq!(parsed, serde_json::json!({"op": 12, "d": 0}));
        let v = WebhookVerifier::new(SECRET).unwrap();
        let debug = format!("{v:?}");
        assert!(!debug.contains(SECRET) && !debug.contains("naOC"), "{debug}");
    }
}
