//! Typed write conditions and their evaluation.
//!
//! Conditions are data, never strings: the DynamoDB adapter renders them with placeholder
//! names and values, the embedded adapter evaluates them with [`Condition::evaluate`]. A
//! condition on a missing (or expired) item sees an item with no attributes, as DynamoDB does.

use crate::item::{validate_value, values_equal};
use crate::key::attr;
use crate::number::Decimal;
use crate::{AttributeValue, Item, StoreError};

/// A condition on the current state of one item.
///
/// Attribute names are top-level attribute names taken literally (a `.` is part of the name).
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The item does not exist (or has expired).
    NotExists,
    /// The item exists (and has not expired).
    Exists,
    /// The item's `version` attribute is this number (optimistic locking).
    VersionEquals(u64),
    /// The attribute exists and equals the value (numbers compare as decimals).
    Equals {
        /// Attribute name.
        attribute: String,
        /// Expected value.
        value: AttributeValue,
    },
    /// The attribute is absent or differs from the value.
    NotEquals {
        /// Attribute name.
        attribute: String,
        /// Value the attribute must not have.
        value: AttributeValue,
    },
    /// The attribute is absent.
    Absent {
        /// Attribute name.
        attribute: String,
    },
    /// The attribute is present.
    Present {
        /// Attribute name.
        attribute: String,
    },
    /// The attribute is a number strictly less than the value (false when absent or not a number).
    LessThan {
        /// Attribute name.
        attribute: String,
        /// Bound.
        value: i64,
    },
    /// The attribute is a number strictly greater than the value (false when absent or not a
    /// number).
    GreaterThan {
        /// Attribute name.
        attribute: String,
        /// Bound.
        value: i64,
    },
    /// Every condition holds (must not be empty).
    And(Vec<Condition>),
    /// At least one condition holds (must not be empty).
    Or(Vec<Condition>),
}

impl Condition {
    /// [`Condition::Equals`].
    pub fn equals(attribute: impl Into<String>, value: AttributeValue) -> Self {
        Self::Equals {
            attribute: attribute.into(),
            value,
        }
    }

    /// [`Condition::NotEquals`].
    pub fn not_equals(attribute: impl Into<String>, value: AttributeValue) -> Self {
        Self::NotEquals {
            attribute: attribute.into(),
            value,
        }
    }

    /// [`Condition::Absent`].
    pub fn absent(attribute: impl Into<String>) -> Self {
        Self::Absent {
            attribute: attribute.into(),
        }
    }

    /// [`Condition::Present`].
    pub fn present(attribute: impl Into<String>) -> Self {
        Self::Present {
            attribute: attribute.into(),
        }
    }

    /// [`Condition::LessThan`].
    pub fn less_than(attribute: impl Into<String>, value: i64) -> Self {
        Self::LessThan {
            attribute: attribute.into(),
            value,
        }
    }

    /// [`Condition::GreaterThan`].
    pub fn greater_than(attribute: impl Into<String>, value: i64) -> Self {
        Self::GreaterThan {
            attribute: attribute.into(),
            value,
        }
    }

    /// `self AND other`.
    pub fn and(self, other: Condition) -> Self {
        match self {
            Self::And(mut all) => {
                all.push(other);
                Self::And(all)
            }
            first => Self::And(vec![first, other]),
        }
    }

    /// `self OR other`.
    pub fn or(self, other: Condition) -> Self {
        match self {
            Self::Or(mut any) => {
                any.push(other);
                Self::Or(any)
            }
            first => Self::Or(vec![first, other]),
        }
    }

    /// Evaluates the condition against the current item (`None` when missing or expired).
    pub fn evaluate(&self, item: Option<&Item>) -> bool {
        let get = |name: &str| item.and_then(|i| i.get(name));
        match self {
            Self::NotExists => item.is_none(),
            Self::Exists => item.is_some(),
            Self::VersionEquals(version) => get(attr::VERSION)
                .is_some_and(|v| values_equal(v, &AttributeValue::N(version.to_string()))),
            Self::Equals { attribute, value } => {
                get(attribute).is_some_and(|v| values_equal(v, value))
            }
            Self::NotEquals { attribute, value } => {
                get(attribute).is_none_or(|v| !values_equal(v, value))
            }
            Self::Absent { attribute } => get(attribute).is_none(),
            Self::Present { attribute } => get(attribute).is_some(),
            Self::LessThan { attribute, value } => {
                compare_number(get(attribute), *value).is_some_and(|o| o.is_lt())
            }
            Self::GreaterThan { attribute, value } => {
                compare_number(get(attribute), *value).is_some_and(|o| o.is_gt())
            }
            Self::And(all) => all.iter().all(|c| c.evaluate(item)),
            Self::Or(any) => any.iter().any(|c| c.evaluate(item)),
        }
    }

    /// Checks the condition is well formed: no empty `And`/`Or`, no empty attribute names,
    /// comparison values DynamoDB would accept. `field` names the condition in errors.
    pub fn validate(&self, field: &str) -> Result<(), StoreError> {
        match self {
            Self::NotExists | Self::Exists | Self::VersionEquals(_) => Ok(()),
            Self::Equals { attribute, value } | Self::NotEquals { attribute, value } => {
                check_name(field, attribute)?;
                validate_value(&format!("{field}.{attribute}"), value)
            }
            Self::Absent { attribute }
            | Self::Present { attribute }
            | Self::LessThan { attribute, .. }
            | Self::GreaterThan { attribute, .. } => check_name(field, attribute),
            Self::And(children) | Self::Or(children) => {
                if children.is_empty() {
                    return Err(StoreError::invalid(
                        field,
                        "an And/Or condition needs at least one condition",
                    ));
                }
                children.iter().try_for_each(|child| child.validate(field))
            }
        }
    }
}

fn check_name(field: &str, attribute: &str) -> Result<(), StoreError> {
    if attribute.is_empty() {
        return Err(StoreError::invalid(
            field,
            "attribute name must not be empty",
        ));
    }
    Ok(())
}

fn compare_number(value: Option<&AttributeValue>, bound: i64) -> Option<std::cmp::Ordering> {
    let Some(AttributeValue::N(number)) = value else {
        return None;
    };
    let decimal = Decimal::parse(number).ok()?;
    Some(decimal.cmp(&Decimal::from_i128(i128::from(bound))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Key;
    use crate::key::{n, s};

    fn record() -> Item {
        let mut item = Key::new("p", "s").to_item();
        item.insert("status".into(), s("open"));
        item.insert("version".into(), n(3));
        item.insert("window_end".into(), n(100));
        item
    }

    #[test]
    fn existence_conditions() {
        let item = record();
        assert!(Condition::NotExists.evaluate(None));
        assert!(!Condition::NotExists.evaluate(Some(&item)));
        assert!(Condition::Exists.evaluate(Some(&item)));
        assert!(!Condition::Exists.evaluate(None));
    }

    #[test]
    fn attribute_conditions() {
        let item = Some(record());
        let item = item.as_ref();
        assert!(Condition::VersionEquals(3).evaluate(item));
        assert!(!Condition::VersionEquals(2).evaluate(item));
        assert!(!Condition::VersionEquals(3).evaluate(None));
        assert!(Condition::equals("status", s("open")).evaluate(item));
        assert!(!Condition::equals("status", s("resolved")).evaluate(item));
        assert!(!Condition::equals("missing", s("open")).evaluate(item));
        assert!(Condition::not_equals("status", s("resolved")).evaluate(item));
        assert!(!Condition::not_equals("status", s("open")).evaluate(item));
        assert!(Condition::not_equals("missing", s("open")).evaluate(item));
        assert!(Condition::not_equals("status", s("open")).evaluate(None));
        assert!(Condition::absent("missing").evaluate(item));
        assert!(!Condition::absent("status").evaluate(item));
        assert!(Condition::present("status").evaluate(item));
        assert!(Condition::less_than("window_end", 101).evaluate(item));
        assert!(!Condition::less_than("window_end", 100).evaluate(item));
        assert!(Condition::greater_than("window_end", 99).evaluate(item));
        assert!(!Condition::greater_than("window_end", 100).evaluate(item));
        // Comparisons with a non-number or a missing attribute are false, as in DynamoDB.
        assert!(!Condition::less_than("status", 1000).evaluate(item));
        assert!(!Condition::greater_than("missing", -1000).evaluate(item));
    }

    #[test]
    fn combinators() {
        let item = Some(record());
        let item = item.as_ref();
        let yes = Condition::Exists;
        let no = Condition::NotExists;
        assert!(yes.clone().and(yes.clone()).evaluate(item));
        assert!(!yes.clone().and(no.clone()).evaluate(item));
        assert!(no.clone().or(yes.clone()).evaluate(item));
        assert!(!no.clone().or(no.clone()).evaluate(item));
        assert_eq!(
            yes.clone().and(no.clone()).and(yes.clone()),
            Condition::And(vec![yes.clone(), no.clone(), yes])
        );
    }

    #[test]
    fn validation_rejects_empty_groups_and_bad_values() {
        assert!(Condition::And(vec![]).validate("condition").is_err());
        assert!(
            Condition::Or(vec![Condition::Exists, Condition::Or(vec![])])
                .validate("condition")
                .is_err()
        );
        assert!(Condition::absent("").validate("condition").is_err());
        assert!(
            Condition::equals("n", AttributeValue::N("abc".into()))
                .validate("condition")
                .is_err()
        );
        assert!(
            Condition::equals("n", n(1))
                .and(Condition::NotExists)
                .validate("condition")
                .is_ok()
        );
    }
}
