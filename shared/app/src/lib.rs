//! Klaxon's application layer: use cases written once and generic over ports, and the HTTP
//! router shared by the Lambda functions and `klaxon serve`.

pub mod console;
pub mod http;
pub mod ics;
pub mod messages;
pub mod oncall;
pub mod ports;
pub mod render;
pub mod security;
pub mod usecases;
pub mod webhook;
