//! Creating the table from its definition (local tooling and tests).

use super::errors::sdk_error;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, Projection, ProjectionType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification,
};
use klaxon_store::table::{self, TableDefinition};
use klaxon_store::{Key, StoreError};
use std::time::Duration;

/// Creates `table_name` from the table definition (keys, indexes, billing), waits until it is
/// active, then enables TTL and point-in-time recovery as the definition says.
pub async fn create_table_from_definition(
    client: &Client,
    table_name: &str,
    definition: &TableDefinition,
) -> Result<(), StoreError> {
    let table_key = Key::new(table_name, "table");
    client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::from(definition.billing_mode.as_str()))
        .set_attribute_definitions(Some(attribute_definitions(definition)?))
        .set_key_schema(Some(
            key_schema(&definition.key_schema).map_err(build_error)?,
        ))
        .set_global_secondary_indexes(Some(global_secondary_indexes(definition)?))
        .send()
        .await
        .map_err(|e| sdk_error("create table", &table_key, &e))?;
    wait_until_active(client, table_name, &table_key).await?;
    enable_ttl_and_recovery(client, table_name, definition, &table_key).await
}

/// A request that could not be built: the definition lacks a required field.
fn build_error(error: BuildError) -> StoreError {
    StoreError::Backend {
        operation: "create table",
        message: error.to_string(),
    }
}

fn key_schema(schema: &[table::KeySchemaElement]) -> Result<Vec<KeySchemaElement>, BuildError> {
    schema
        .iter()
        .map(|element| {
            KeySchemaElement::builder()
                .attribute_name(&element.attribute_name)
                .key_type(match element.key_type {
                    table::KeyType::Hash => KeyType::Hash,
                    table::KeyType::Range => KeyType::Range,
                })
                .build()
        })
        .collect()
}

fn attribute_definitions(
    definition: &TableDefinition,
) -> Result<Vec<AttributeDefinition>, StoreError> {
    definition
        .attribute_definitions
        .iter()
        .map(|attribute| {
            AttributeDefinition::builder()
                .attribute_name(&attribute.attribute_name)
                .attribute_type(ScalarAttributeType::from(attribute.attribute_type.as_str()))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(build_error)
}

fn global_secondary_indexes(
    definition: &TableDefinition,
) -> Result<Vec<GlobalSecondaryIndex>, StoreError> {
    definition
        .global_secondary_indexes
        .iter()
        .map(|index| {
            GlobalSecondaryIndex::builder()
                .index_name(&index.index_name)
                .set_key_schema(Some(key_schema(&index.key_schema)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(
                            index.projection.projection_type.as_str(),
                        ))
                        .build(),
                )
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(build_error)
}

/// Polls the table's status every 500 ms, for up to 60 s.
async fn wait_until_active(
    client: &Client,
    table_name: &str,
    table_key: &Key,
) -> Result<(), StoreError> {
    for _ in 0..120 {
        let description = client
            .describe_table()
            .table_name(table_name)
            .send()
            .await
            .map_err(|e| sdk_error("describe table", table_key, &e))?;
        if description.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(StoreError::Backend {
        operation: "create table",
        message: format!("table {table_name} did not become active within 60 s"),
    })
}

async fn enable_ttl_and_recovery(
    client: &Client,
    table_name: &str,
    definition: &TableDefinition,
    table_key: &Key,
) -> Result<(), StoreError> {
    let ttl = &definition.time_to_live_specification;
    client
        .update_time_to_live()
        .table_name(table_name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(&ttl.attribute_name)
                .enabled(ttl.enabled)
                .build()
                .map_err(build_error)?,
        )
        .send()
        .await
        .map_err(|e| sdk_error("enable TTL", table_key, &e))?;
    let recovery = &definition.point_in_time_recovery_specification;
    client
        .update_continuous_backups()
        .table_name(table_name)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(recovery.point_in_time_recovery_enabled)
                .build()
                .map_err(build_error)?,
        )
        .send()
        .await
        .map_err(|e| sdk_error("enable point-in-time recovery", table_key, &e))?;
    Ok(())
}
