//! The table definition: one source of truth in `infra/table.json`.
//!
//! The file has the shape of the `Properties` of a CloudFormation `AWS::DynamoDB::Table`
//! (without `TableName`), so `template.yaml` can carry it verbatim; the DynamoDB adapter creates
//! tables from it, and tests fail if `template.yaml`, this file and the port's [`Index`] drift.
//!
//! The indexes, all overloaded and sparse (an item appears only if it sets both key
//! attributes), with every attribute projected (`docs/data-model.md` lists which item is in
//! which partition of which index):
//! - `gsi1` (`gsi1pk`, `gsi1sk`): work lists that items enter and leave, such as open
//!   incidents (sort: creation time) and alerts not yet grouped (sort: receipt time).
//! - `gsi2` (`gsi2pk`, `gsi2sk`): listings and secondary lookups, such as all incidents by
//!   number (recent first by querying descending, one incident by its number).
//! - `gsi3` (`gsi3pk`, `gsi3sk`): escalations due (sort: next due time). An item sits in at
//!   most one partition per index, and an open incident is in the open list (`gsi1`) and, while
//!   its escalation waits for a timer, in the due list too, so the due list needs its own index.

use crate::key::{Index, attr};
use serde::{Deserialize, Serialize};

/// The raw text of `infra/table.json`.
pub const TABLE_DEFINITION_JSON: &str = include_str!("../../../infra/table.json");

/// The typed table definition (CloudFormation `AWS::DynamoDB::Table` properties).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TableDefinition {
    /// `PAY_PER_REQUEST` (on-demand).
    pub billing_mode: String,
    /// Types of every key attribute of the table and its indexes.
    pub attribute_definitions: Vec<AttributeDefinition>,
    /// The table's primary key.
    pub key_schema: Vec<KeySchemaElement>,
    /// The global secondary indexes.
    pub global_secondary_indexes: Vec<GlobalSecondaryIndex>,
    /// The TTL attribute.
    pub time_to_live_specification: TimeToLiveSpecification,
    /// Point-in-time recovery.
    pub point_in_time_recovery_specification: PointInTimeRecoverySpecification,
    /// Whether the table refuses `DeleteTable` (on in the deployed stack).
    #[serde(default)]
    pub deletion_protection_enabled: bool,
}

/// A key attribute and its scalar type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AttributeDefinition {
    /// Attribute name.
    pub attribute_name: String,
    /// `S`, `N` or `B`.
    pub attribute_type: String,
}

/// One element of a key schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KeySchemaElement {
    /// Attribute name.
    pub attribute_name: String,
    /// Partition or sort key.
    pub key_type: KeyType,
}

/// The role of a key attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyType {
    /// Partition key.
    #[serde(rename = "HASH")]
    Hash,
    /// Sort key.
    #[serde(rename = "RANGE")]
    Range,
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GlobalSecondaryIndex {
    /// Index name.
    pub index_name: String,
    /// The index key.
    pub key_schema: Vec<KeySchemaElement>,
    /// Which attributes the index holds.
    pub projection: Projection,
}

/// Attributes projected into an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Projection {
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection_type: String,
}

/// The TTL attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TimeToLiveSpecification {
    /// Attribute holding the expiry in epoch seconds.
    pub attribute_name: String,
    /// Whether DynamoDB deletes expired items.
    pub enabled: bool,
}

/// Point-in-time recovery settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PointInTimeRecoverySpecification {
    /// Whether continuous backups are on.
    pub point_in_time_recovery_enabled: bool,
}

/// Why the table definition does not fit the store port.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    /// The JSON does not parse into a [`TableDefinition`].
    #[error("infra/table.json does not parse: {0}")]
    Parse(String),
    /// The definition disagrees with the port's key attributes or indexes.
    #[error("infra/table.json disagrees with the store port: {0}")]
    Mismatch(String),
}

impl TableDefinition {
    /// The definition in `infra/table.json`, checked against the port.
    pub fn load() -> Result<Self, DefinitionError> {
        Self::parse(TABLE_DEFINITION_JSON)
    }

    /// Parses a definition and checks it against the port.
    pub fn parse(json: &str) -> Result<Self, DefinitionError> {
        let definition: Self =
            serde_json::from_str(json).map_err(|e| DefinitionError::Parse(e.to_string()))?;
        definition.check_port()?;
        Ok(definition)
    }

    /// The index with this name, if defined.
    pub fn index(&self, name: &str) -> Option<&GlobalSecondaryIndex> {
        self.global_secondary_indexes
            .iter()
            .find(|index| index.index_name == name)
    }

    /// Checks the key attributes, indexes and TTL attribute are exactly those the port uses.
    pub fn check_port(&self) -> Result<(), DefinitionError> {
        let mismatch = |message: String| Err(DefinitionError::Mismatch(message));
        if !key_schema_is(&self.key_schema, attr::PK, attr::SK) {
            return mismatch(format!(
                "the table key must be ({}, {})",
                attr::PK,
                attr::SK
            ));
        }
        let names: Vec<&str> = self
            .global_secondary_indexes
            .iter()
            .map(|index| index.index_name.as_str())
            .collect();
        let expected: Vec<&str> = Index::SECONDARY.iter().filter_map(|i| i.name()).collect();
        if names != expected {
            return mismatch(format!(
                "indexes are {names:?}, the port expects {expected:?}"
            ));
        }
        for index in Index::SECONDARY {
            let Some(defined) = index.name().and_then(|name| self.index(name)) else {
                return mismatch(format!("index {} is missing", index.label()));
            };
            if !key_schema_is(
                &defined.key_schema,
                index.partition_attribute(),
                index.sort_attribute(),
            ) {
                return mismatch(format!(
                    "index {} must be keyed ({}, {})",
                    index.label(),
                    index.partition_attribute(),
                    index.sort_attribute()
                ));
            }
            if defined.projection.projection_type != "ALL" {
                return mismatch(format!("index {} must project ALL", index.label()));
            }
        }
        let mut defined: Vec<(&str, &str)> = self
            .attribute_definitions
            .iter()
            .map(|a| (a.attribute_name.as_str(), a.attribute_type.as_str()))
            .collect();
        defined.sort_unstable();
        let mut key_attributes: Vec<(&str, &str)> =
            [Index::Table, Index::Gsi1, Index::Gsi2, Index::Gsi3]
                .iter()
                .flat_map(|i| [(i.partition_attribute(), "S"), (i.sort_attribute(), "S")])
                .collect();
        key_attributes.sort_unstable();
        if defined != key_attributes {
            return mismatch(format!(
                "attribute definitions are {defined:?}, expected {key_attributes:?}"
            ));
        }
        if self.time_to_live_specification.attribute_name != attr::TTL
            || !self.time_to_live_specification.enabled
        {
            return mismatch(format!("TTL must be enabled on `{}`", attr::TTL));
        }
        Ok(())
    }
}

fn key_schema_is(schema: &[KeySchemaElement], partition: &str, sort: &str) -> bool {
    matches!(
        schema,
        [hash, range]
            if hash.key_type == KeyType::Hash
                && hash.attribute_name == partition
                && range.key_type == KeyType::Range
                && range.attribute_name == sort
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_definition_fits_the_port() {
        let definition = TableDefinition::load().unwrap();
        assert_eq!(definition.billing_mode, "PAY_PER_REQUEST");
        assert!(
            definition
                .point_in_time_recovery_specification
                .point_in_time_recovery_enabled
        );
        assert!(definition.index("gsi1").is_some());
    }

    #[test]
    fn a_definition_that_drifts_from_the_port_is_rejected() {
        let renamed = TABLE_DEFINITION_JSON.replace("\"gsi2\"", "\"gsi9\"");
        assert!(matches!(
            TableDefinition::parse(&renamed),
            Err(DefinitionError::Mismatch(_))
        ));
        let no_ttl = TABLE_DEFINITION_JSON.replace("\"ttl\"", "\"expires\"");
        assert!(matches!(
            TableDefinition::parse(&no_ttl),
            Err(DefinitionError::Mismatch(_))
        ));
        let keys_only = TABLE_DEFINITION_JSON.replacen("\"ALL\"", "\"KEYS_ONLY\"", 1);
        assert!(matches!(
            TableDefinition::parse(&keys_only),
            Err(DefinitionError::Mismatch(_))
        ));
        let typo = TABLE_DEFINITION_JSON.replace("BillingMode", "BilingMode");
        assert!(matches!(
            TableDefinition::parse(&typo),
            Err(DefinitionError::Parse(_))
        ));
    }
}
