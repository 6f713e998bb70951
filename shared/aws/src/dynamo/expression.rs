//! Condition, update and key-condition expressions with placeholders only.

use super::SdkValue;
use chrono::{DateTime, Utc};
use klaxon_store::{AttributeValue, Condition, Query, SortCondition, UpdateAction, attr};
use std::collections::HashMap;

/// Builds expressions with placeholders: every attribute name becomes `#nK`, every value
/// `:vK`, so no caller data ever becomes expression syntax.
#[derive(Default)]
pub(super) struct Expression {
    names: HashMap<String, String>,
    placeholders: HashMap<String, String>,
    values: HashMap<String, SdkValue>,
}

impl Expression {
    pub(super) fn name(&mut self, attribute: &str) -> String {
        if let Some(placeholder) = self.placeholders.get(attribute) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.placeholders.len());
        self.placeholders
            .insert(attribute.to_owned(), placeholder.clone());
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    pub(super) fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values
            .insert(placeholder.clone(), SdkValue::from(value));
        placeholder
    }

    pub(super) fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    pub(super) fn values(&self) -> Option<HashMap<String, SdkValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    /// The item has no `ttl` or it is after `now`.
    pub(super) fn live(&mut self, now: DateTime<Utc>) -> String {
        let ttl = self.name(attr::TTL);
        let now = self.value(AttributeValue::N(now.timestamp().to_string()));
        format!("(attribute_not_exists({ttl}) OR {ttl} > {now})")
    }

    /// The item has a `ttl` at or before `now`.
    pub(super) fn expired(&mut self, now: DateTime<Utc>) -> String {
        let ttl = self.name(attr::TTL);
        let now = self.value(AttributeValue::N(now.timestamp().to_string()));
        format!("{ttl} <= {now}")
    }

    /// The condition for a put, delete or check: `condition` seen through TTL (an expired
    /// item counts as absent).
    pub(super) fn guard(
        &mut self,
        condition: Option<&Condition>,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let condition = condition?;
        let rendered = self.condition(condition);
        let live = self.live(now);
        if condition.evaluate(None) {
            let expired = self.expired(now);
            Some(format!("(({live} AND {rendered}) OR {expired})"))
        } else {
            Some(format!("({live} AND {rendered})"))
        }
    }

    /// The condition for an update: the item is live, `condition` holds, and every counter
    /// to add to is absent or a number. An expired item fails it, so the caller can clear
    /// the item instead of merging into it.
    pub(super) fn strict_guard(
        &mut self,
        condition: Option<&Condition>,
        actions: &[UpdateAction],
        now: DateTime<Utc>,
    ) -> String {
        let mut parts = vec![self.live(now)];
        if let Some(condition) = condition {
            parts.push(self.condition(condition));
        }
        for action in actions {
            if let UpdateAction::Add { attribute, .. } = action {
                let name = self.name(attribute);
                let number = self.value(AttributeValue::S("N".to_owned()));
                parts.push(format!(
                    "(attribute_not_exists({name}) OR attribute_type({name}, {number}))"
                ));
            }
        }
        parts.join(" AND ")
    }

    pub(super) fn condition(&mut self, condition: &Condition) -> String {
        match condition {
            Condition::NotExists => format!("attribute_not_exists({})", self.name(attr::PK)),
            Condition::Exists => format!("attribute_exists({})", self.name(attr::PK)),
            Condition::VersionEquals(version) => {
                let name = self.name(attr::VERSION);
                let value = self.value(AttributeValue::N(version.to_string()));
                format!("{name} = {value}")
            }
            Condition::Equals { attribute, value } => {
                let name = self.name(attribute);
                let value = self.value(value.clone());
                format!("{name} = {value}")
            }
            Condition::NotEquals { attribute, value } => {
                let name = self.name(attribute);
                let value = self.value(value.clone());
                format!("(attribute_not_exists({name}) OR {name} <> {value})")
            }
            Condition::Absent { attribute } => {
                format!("attribute_not_exists({})", self.name(attribute))
            }
            Condition::Present { attribute } => {
                format!("attribute_exists({})", self.name(attribute))
            }
            Condition::LessThan { attribute, value } => {
                let name = self.name(attribute);
                let value = self.value(AttributeValue::N(value.to_string()));
                format!("{name} < {value}")
            }
            Condition::GreaterThan { attribute, value } => {
                let name = self.name(attribute);
                let value = self.value(AttributeValue::N(value.to_string()));
                format!("{name} > {value}")
            }
            Condition::And(all) => self.group(all, " AND "),
            Condition::Or(any) => self.group(any, " OR "),
        }
    }

    pub(super) fn group(&mut self, conditions: &[Condition], operator: &str) -> String {
        let parts: Vec<String> = conditions.iter().map(|c| self.condition(c)).collect();
        format!("({})", parts.join(operator))
    }

    /// `SET … REMOVE … ADD …` for the actions.
    pub(super) fn update(&mut self, actions: &[UpdateAction]) -> String {
        let mut set = Vec::new();
        let mut remove = Vec::new();
        let mut add = Vec::new();
        for action in actions {
            match action {
                UpdateAction::Set { attribute, value } => {
                    let name = self.name(attribute);
                    let value = self.value(value.clone());
                    set.push(format!("{name} = {value}"));
                }
                UpdateAction::SetIfAbsent { attribute, value } => {
                    let name = self.name(attribute);
                    let value = self.value(value.clone());
                    set.push(format!("{name} = if_not_exists({name}, {value})"));
                }
                UpdateAction::Remove { attribute } => remove.push(self.name(attribute)),
                UpdateAction::Add { attribute, delta } => {
                    let name = self.name(attribute);
                    let value = self.value(AttributeValue::N(delta.to_string()));
                    add.push(format!("{name} {value}"));
                }
            }
        }
        let mut clauses = Vec::new();
        if !set.is_empty() {
            clauses.push(format!("SET {}", set.join(", ")));
        }
        if !remove.is_empty() {
            clauses.push(format!("REMOVE {}", remove.join(", ")));
        }
        if !add.is_empty() {
            clauses.push(format!("ADD {}", add.join(", ")));
        }
        clauses.join(" ")
    }

    /// The key condition of a query.
    pub(super) fn key_condition(&mut self, query: &Query) -> String {
        let partition = self.name(query.index.partition_attribute());
        let partition_value = self.value(AttributeValue::S(query.partition.clone()));
        let sort = query.index.sort_attribute();
        let mut value = |v: &String| self.value(AttributeValue::S(v.clone()));
        let sort_clause = match &query.sort {
            SortCondition::All => None,
            SortCondition::Equals(v) => Some(("=", value(v))),
            SortCondition::GreaterOrEqual(v) => Some((">=", value(v))),
            SortCondition::LessOrEqual(v) => Some(("<=", value(v))),
            SortCondition::GreaterThan(v) => Some((">", value(v))),
            SortCondition::LessThan(v) => Some(("<", value(v))),
            SortCondition::BeginsWith(v) => Some(("begins_with", value(v))),
            SortCondition::Between { low, high } => {
                let low = value(low);
                let high = value(high);
                Some(("BETWEEN", format!("{low} AND {high}")))
            }
        };
        let base = format!("{partition} = {partition_value}");
        match sort_clause {
            None => base,
            Some((operator, operand)) => {
                let sort = self.name(sort);
                match operator {
                    "begins_with" => format!("{base} AND begins_with({sort}, {operand})"),
                    "BETWEEN" => format!("{base} AND {sort} BETWEEN {operand}"),
                    _ => format!("{base} AND {sort} {operator} {operand}"),
                }
            }
        }
    }
}
