//! Incidents and their lifecycle.
//!
//! LIFECYCLE: to be implemented (see issue 2, part 6).

use serde::{Deserialize, Serialize};

/// How urgently to page: high urgency uses every tier and the users' high-urgency channels;
/// low urgency pages tier 0 only, on the users' low-urgency channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Urgency {
    /// Page tier 0 only, on low-urgency channels.
    Low,
    /// Full escalation, high-urgency channels.
    High,
}
