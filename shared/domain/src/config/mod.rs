//! Configuration as code.
//!
//! TODO(issue 2, part 7).
