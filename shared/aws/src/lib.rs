//! placeholder

pub mod dynamo;
