//! The notify Lambda function.

fn main() {}
