//! Grouping rules.
//!
//! TODO(issue 2, part 2).
