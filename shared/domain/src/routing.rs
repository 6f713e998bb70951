//! Routing rules and maintenance windows.
//!
//! TODO(issue 2, part 3).
