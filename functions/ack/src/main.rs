//! The ack Lambda function.

fn main() {}
