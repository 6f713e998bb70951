//! The grouping Lambda function.

fn main() {}
