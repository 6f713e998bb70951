//! Validation errors with exact paths (`schedules[2].layers[0].rotation.start: ...`).

use std::cmp::Ordering;
use std::fmt;

/// One step of a [`ConfigPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSegment {
    /// A mapping key (`users`, `rotation`, a label name).
    Key(String),
    /// A list index (`[2]`).
    Index(usize),
}

/// Where in the configuration file something is: `schedules[2].layers[0].rotation.start`.
/// Keys that are not plain words (`app.kubernetes.io/name`) are written quoted in brackets:
/// `routing.rules[0].match.labels["app.kubernetes.io/name"]`. The root is the empty path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ConfigPath {
    segments: Vec<PathSegment>,
}

impl ConfigPath {
    /// The whole document.
    pub fn root() -> Self {
        Self::default()
    }
    /// This path followed by mapping key `key`.
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut segments = self.segments.clone();
        segments.push(PathSegment::Key(key.into()));
        Self { segments }
    }
    /// This path followed by list index `index`.
    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.segments.clone();
        segments.push(PathSegment::Index(index));
        Self { segments }
    }
    /// The steps of the path, outermost first.
    pub fn segments(&self) -> &[PathSegment] {
        &self.segments
    }
    /// Whether this is the root (the whole document).
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }
}

fn is_plain_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl fmt::Display for ConfigPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.segments.iter().enumerate() {
            match segment {
                PathSegment::Key(key) if is_plain_key(key) => {
                    if position > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(key)?;
                }
                PathSegment::Key(key) => write!(f, "[{key:?}]")?,
                PathSegment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// The top-level sections in the order the documentation lists them; errors are reported in
/// this order.
pub(crate) const SECTIONS: [&str; 13] = [
    "version",
    "users",
    "schedules",
    "escalation_policies",
    "grouping",
    "routing",
    "maintenance_windows",
    "integrations",
    "teams",
    "heartbeats",
    "postmortem_templates",
    "notifications",
    "settings",
];

fn compare_paths(a: &ConfigPath, b: &ConfigPath) -> Ordering {
    let rank = |path: &ConfigPath| match path.segments.first() {
        Some(PathSegment::Key(key)) => SECTIONS
            .iter()
            .position(|section| section == key)
            .unwrap_or(SECTIONS.len()),
        _ => 0,
    };
    rank(a).cmp(&rank(b)).then_with(|| {
        for (x, y) in a.segments.iter().zip(&b.segments) {
            let order = match (x, y) {
                (PathSegment::Index(i), PathSegment::Index(j)) => i.cmp(j),
                (PathSegment::Key(k), PathSegment::Key(l)) => k.cmp(l),
                (PathSegment::Key(_), PathSegment::Index(_)) => Ordering::Less,
                (PathSegment::Index(_), PathSegment::Key(_)) => Ordering::Greater,
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        a.segments.len().cmp(&b.segments.len())
    })
}

/// One problem found in a configuration, at an exact path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Where.
    pub path: ConfigPath,
    /// What is wrong, and how to fix it when that is not obvious.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_root() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every error found in a configuration, one per line when displayed, in document order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.issues))]
pub struct ConfigErrors {
    /// The errors (never empty when returned by a parse or validation).
    pub issues: Vec<ConfigIssue>,
}

fn render(issues: &[ConfigIssue]) -> String {
    issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigErrors {
    /// A single error at `path`.
    pub fn single(path: ConfigPath, message: impl Into<String>) -> Self {
        Self {
            issues: vec![ConfigIssue {
                path,
                message: message.into(),
            }],
        }
    }

    /// The paths of all errors, as text (handy in tests and tools).
    pub fn paths(&self) -> Vec<String> {
        self.issues.iter().map(|i| i.path.to_string()).collect()
    }
}

/// Collects issues while parsing and validating.
#[derive(Debug, Default)]
pub(crate) struct Issues(Vec<ConfigIssue>);

impl Issues {
    pub(crate) fn push(&mut self, path: ConfigPath, message: impl Into<String>) {
        self.0.push(ConfigIssue {
            path,
            message: message.into(),
        });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The issues in document order (stable: same-path issues keep discovery order).
    pub(crate) fn into_sorted(mut self) -> Vec<ConfigIssue> {
        self.0.sort_by(|a, b| compare_paths(&a.path, &b.path));
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_like_the_file() {
        let p = ConfigPath::root()
            .key("schedules")
            .index(2)
            .key("layers")
            .index(0)
            .key("rotation")
            .key("start");
        assert_eq!(p.to_string(), "schedules[2].layers[0].rotation.start");
        let labels = ConfigPath::root()
            .key("routing")
            .key("rules")
            .index(0)
            .key("match")
            .key("labels")
            .key("app.kubernetes.io/name");
        assert_eq!(
            labels.to_string(),
            r#"routing.rules[0].match.labels["app.kubernetes.io/name"]"#
        );
        assert_eq!(ConfigPath::root().to_string(), "");
    }

    #[test]
    fn issues_sort_in_document_order() {
        let mut issues = Issues::default();
        let users = ConfigPath::root().key("users");
        issues.push(ConfigPath::root().key("settings").key("x"), "s");
        issues.push(users.index(10).key("id"), "u10");
        issues.push(users.index(2).key("phone"), "u2");
        issues.push(ConfigPath::root().key("version"), "v");
        let order: Vec<String> = issues
            .into_sorted()
            .into_iter()
            .map(|i| i.message)
            .collect();
        assert_eq!(order, ["v", "u2", "u10", "s"]);
    }

    #[test]
    fn errors_display_one_per_line() {
        let errors = ConfigErrors {
            issues: vec![
                ConfigIssue {
                    path: ConfigPath::root().key("users").index(0).key("email"),
                    message: "bad".into(),
                },
                ConfigIssue {
                    path: ConfigPath::root(),
                    message: "syntax".into(),
                },
            ],
        };
        assert_eq!(errors.to_string(), "users[0].email: bad\nsyntax");
    }
}
