//! Secrets at the edge: integration and API keys, signed action links, Slack request signatures
//! and SNS message signatures.

pub mod keys;
pub mod links;
pub mod slack;
pub mod sns;
