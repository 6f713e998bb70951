//! Update actions (`SET`, `SET if_not_exists`, `REMOVE`, `ADD`) and their application.

use crate::item::{type_name, validate_attribute};
use crate::key::attr;
use crate::number::Decimal;
use crate::{AttributeValue, Item, Key, StoreError};
use std::collections::HashSet;

/// One change an update makes to one top-level attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateAction {
    /// Sets the attribute to the value.
    Set {
        /// Attribute name.
        attribute: String,
        /// New value.
        value: AttributeValue,
    },
    /// Sets the attribute only when it is absent (`if_not_exists`), for example `first_seen`.
    SetIfAbsent {
        /// Attribute name.
        attribute: String,
        /// Value to set when absent.
        value: AttributeValue,
    },
    /// Removes the attribute (removing an index key takes the item out of that sparse index).
    Remove {
        /// Attribute name.
        attribute: String,
    },
    /// Adds to a numeric attribute, starting from 0 when absent (an atomic counter). The
    /// attribute must be absent or a number, otherwise the item is reported corrupt.
    Add {
        /// Attribute name.
        attribute: String,
        /// Amount to add (may be negative).
        delta: i64,
    },
}

impl UpdateAction {
    /// [`UpdateAction::Set`].
    pub fn set(attribute: impl Into<String>, value: AttributeValue) -> Self {
        Self::Set {
            attribute: attribute.into(),
            value,
        }
    }

    /// [`UpdateAction::SetIfAbsent`].
    pub fn set_if_absent(attribute: impl Into<String>, value: AttributeValue) -> Self {
        Self::SetIfAbsent {
            attribute: attribute.into(),
            value,
        }
    }

    /// [`UpdateAction::Remove`].
    pub fn remove(attribute: impl Into<String>) -> Self {
        Self::Remove {
            attribute: attribute.into(),
        }
    }

    /// [`UpdateAction::Add`].
    pub fn add(attribute: impl Into<String>, delta: i64) -> Self {
        Self::Add {
            attribute: attribute.into(),
            delta,
        }
    }

    /// The attribute this action changes.
    pub fn attribute(&self) -> &str {
        match self {
            Self::Set { attribute, .. }
            | Self::SetIfAbsent { attribute, .. }
            | Self::Remove { attribute }
            | Self::Add { attribute, .. } => attribute,
        }
    }
}

/// What an update returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReturnValues {
    /// Nothing.
    #[default]
    None,
    /// The whole item as it was before the update (`None` if it did not exist or had expired).
    AllOld,
    /// The whole item as it is after the update.
    AllNew,
}

/// Checks a list of actions: at least one, key attributes cannot change, each attribute
/// appears once, values follow the generic attributes' rules.
pub fn validate_actions(field: &str, actions: &[UpdateAction]) -> Result<(), StoreError> {
    if actions.is_empty() {
        return Err(StoreError::invalid(
            field,
            "an update needs at least one action",
        ));
    }
    let mut seen = HashSet::new();
    for action in actions {
        let attribute = action.attribute();
        let path = format!("{field}.{attribute}");
        if attribute == attr::PK || attribute == attr::SK {
            return Err(StoreError::invalid(
                path,
                "the primary key cannot be updated",
            ));
        }
        if !seen.insert(attribute) {
            return Err(StoreError::invalid(
                path,
                "an update may change each attribute only once",
            ));
        }
        match action {
            UpdateAction::Set { value, .. } | UpdateAction::SetIfAbsent { value, .. } => {
                validate_attribute(attribute, value).map_err(|e| prefix_field(field, e))?;
            }
            UpdateAction::Add { .. } => {
                if is_string_key(attribute) {
                    return Err(StoreError::invalid(path, "an index key must be a string"));
                }
            }
            UpdateAction::Remove { .. } => {
                if attribute.is_empty() {
                    return Err(StoreError::invalid(
                        path,
                        "attribute name must not be empty",
                    ));
                }
            }
        }
    }
    Ok(())
}

fn is_string_key(attribute: &str) -> bool {
    matches!(
        attribute,
        attr::GSI1PK | attr::GSI1SK | attr::GSI2PK | attr::GSI2SK | attr::GSI3PK | attr::GSI3SK
    )
}

fn prefix_field(field: &str, error: StoreError) -> StoreError {
    match error {
        StoreError::InvalidRequest {
            field: inner,
            reason,
        } => StoreError::invalid(format!("{field}.{inner}"), reason),
        other => other,
    }
}

/// Applies actions to the current item (`None` when missing or expired), creating it from its
/// key when missing, as DynamoDB's `UpdateItem` does.
pub fn apply_actions(
    key: &Key,
    current: Option<Item>,
    actions: &[UpdateAction],
) -> Result<Item, StoreError> {
    let mut item = current.unwrap_or_else(|| key.to_item());
    for action in actions {
        match action {
            UpdateAction::Set { attribute, value } => {
                item.insert(attribute.clone(), value.clone());
            }
            UpdateAction::SetIfAbsent { attribute, value } => {
                item.entry(attribute.clone())
                    .or_insert_with(|| value.clone());
            }
            UpdateAction::Remove { attribute } => {
                item.remove(attribute);
            }
            UpdateAction::Add { attribute, delta } => {
                let sum = add_to(key, attribute, item.get(attribute), *delta)?;
                item.insert(attribute.clone(), AttributeValue::N(sum));
            }
        }
    }
    Ok(item)
}

/// Whether an `Add` on this current value would fail because the value is not a number.
pub fn add_target_is_wrong_type(current: Option<&AttributeValue>) -> bool {
    current.is_some_and(|value| !matches!(value, AttributeValue::N(_)))
}

fn add_to(
    key: &Key,
    attribute: &str,
    current: Option<&AttributeValue>,
    delta: i64,
) -> Result<String, StoreError> {
    let base = match current {
        None => Decimal::from_i128(0),
        Some(AttributeValue::N(number)) => Decimal::parse(number)
            .map_err(|e| StoreError::corrupt(key, attribute, e.to_string()))?,
        Some(other) => {
            return Err(StoreError::corrupt(
                key,
                attribute,
                format!("cannot add to a {} value", type_name(other)),
            ));
        }
    };
    base.checked_add_integer(delta)
        .map(|sum| sum.to_canonical_string())
        .ok_or_else(|| {
            StoreError::invalid(attribute, "the sum is not a valid number (out of range)")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{n, s};

    #[test]
    fn actions_apply_in_dynamodb_style() {
        let key = Key::new("p", "s");
        let created = apply_actions(
            &key,
            None,
            &[
                UpdateAction::add("count", 1),
                UpdateAction::set_if_absent("first_seen", n(10)),
                UpdateAction::set("last_seen", n(10)),
            ],
        )
        .unwrap();
        assert_eq!(created.get("pk"), Some(&s("p")));
        assert_eq!(created.get("count"), Some(&n(1)));
        let updated = apply_actions(
            &key,
            Some(created),
            &[
                UpdateAction::add("count", 1),
                UpdateAction::set_if_absent("first_seen", n(20)),
                UpdateAction::set("last_seen", n(20)),
                UpdateAction::remove("missing"),
            ],
        )
        .unwrap();
        assert_eq!(updated.get("count"), Some(&n(2)));
        assert_eq!(updated.get("first_seen"), Some(&n(10)));
        assert_eq!(updated.get("last_seen"), Some(&n(20)));
        let removed = apply_actions(&key, Some(updated), &[UpdateAction::remove("count")]).unwrap();
        assert_eq!(removed.get("count"), None);
    }

    #[test]
    fn adding_to_a_string_is_corruption() {
        let key = Key::new("p", "s");
        let mut item = key.to_item();
        item.insert("count".into(), s("seven"));
        match apply_actions(&key, Some(item), &[UpdateAction::add("count", 1)]) {
            Err(StoreError::Corrupt { attribute, .. }) => assert_eq!(attribute, "count"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn invalid_action_lists_are_rejected() {
        let field = "update";
        let bad: Vec<(Vec<UpdateAction>, &str)> = vec![
            (vec![UpdateAction::set("pk", s("x"))], "update.pk"),
            (vec![UpdateAction::remove("sk")], "update.sk"),
            (
                vec![UpdateAction::set("a", n(1)), UpdateAction::add("a", 1)],
                "update.a",
            ),
            (vec![UpdateAction::set("ttl", s("soon"))], "update.ttl"),
            (vec![UpdateAction::set("gsi1pk", n(1))], "update.gsi1pk"),
            (vec![UpdateAction::add("gsi2sk", 1)], "update.gsi2sk"),
            (vec![], "update"),
        ];
        for (actions, expected) in bad {
            match validate_actions(field, &actions) {
                Err(StoreError::InvalidRequest { field, .. }) => assert_eq!(field, expected),
                other => panic!("{expected}: expected InvalidRequest, got {other:?}"),
            }
        }
        assert!(validate_actions(field, &[UpdateAction::add("count", 1)]).is_ok());
    }
}
