//! The routing Lambda function.

fn main() {}
