//! The klaxon command.

fn main() {}
