//! Timeline entries: append-only CloudEvents 1.0 records.
//!
//! TODO(issue 2, part 6).
