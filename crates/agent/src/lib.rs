//! Pincer's agent: conversations per bot and scene, model providers, the tool
//! loop, a durable store, usage and cost.
//!
//! - [`provider`]: the model-provider interface and its implementations.

pub mod provider;
