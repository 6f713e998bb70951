//! Klaxon's application layer: use cases written once and generic over ports, and the HTTP
//! router shared by the Lambda functions and `klaxon serve`.

pub mod messages;
pub mod ports;
pub mod security;
pub mod webhook;
