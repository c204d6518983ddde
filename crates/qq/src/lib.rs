//! The QQ Open Platform bot API v2, as Pincer's connector uses it.
//!
//! - [`model`]: serde types for gateway frames, events and REST bodies.
//!
//! Everything follows `qq-bot-protocol.md`; where that spec marks a behaviour
//! UNVERIFIED the behaviour is configurable and defaults to the safe choice.

pub mod model;
