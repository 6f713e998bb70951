//! The ingest Lambda function.

fn main() {}
