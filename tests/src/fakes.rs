//! In-memory port doubles for use-case tests, shared with the function crates' unit tests:
//! they live in `klaxon-test-support` (`shared/testing/src/fakes.rs`).

pub use klaxon_test_support::fakes::*;
