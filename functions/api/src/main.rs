//! The api Lambda function.

fn main() {}
