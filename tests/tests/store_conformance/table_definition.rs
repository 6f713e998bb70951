//! Table definition: infra/table.json, template.yaml and the table created in moto agree.

use super::*;

/// The `Table` resource block of template.yaml, between its `# BEGIN klaxon-table` and
/// `# END klaxon-table` markers (the rest of the template may use CloudFormation tags that a
/// plain YAML parser does not know; the block does not).
fn template_table_resource() -> serde_json::Value {
    let template = std::fs::read_to_string(workspace_root().join("template.yaml"))
        .expect("template.yaml exists at the workspace root");
    let lines: Vec<&str> = template.lines().collect();
    let begin = lines
        .iter()
        .position(|l| l.trim() == "# BEGIN klaxon-table")
        .expect("template.yaml marks the table block with `# BEGIN klaxon-table`");
    let end = lines
        .iter()
        .position(|l| l.trim() == "# END klaxon-table")
        .expect("template.yaml marks the table block with `# END klaxon-table`");
    assert!(begin < end);
    // The block must sit inside the top-level Resources section.
    let section = lines[..begin]
        .iter()
        .rev()
        .find(|l| !l.starts_with(' ') && !l.starts_with('#') && !l.trim().is_empty())
        .expect("a top-level section precedes the table block");
    assert_eq!(
        section.trim(),
        "Resources:",
        "the table block is not under Resources"
    );
    let block: Vec<&str> = lines[begin + 1..end].to_vec();
    let indent = block
        .iter()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .expect("the table block is not empty");
    let dedented: String = block
        .iter()
        .map(|l| {
            if l.len() >= indent {
                &l[indent..]
            } else {
                l.trim_start()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let parsed: serde_json::Value =
        serde_saphyr::from_str(&dedented).expect("the table block is plain YAML");
    assert_eq!(
        template.matches("AWS::DynamoDB::Table").count(),
        1,
        "template.yaml has exactly one table, the one in the marked block"
    );
    parsed
}

#[test]
fn template_table_matches_the_table_definition() {
    let resource = template_table_resource();
    let table = &resource["Table"];
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    let definition: serde_json::Value =
        serde_json::from_str(klaxon_store::table::TABLE_DEFINITION_JSON).unwrap();
    assert_eq!(
        table["Properties"], definition,
        "template.yaml's Table properties drifted from infra/table.json"
    );
    // And both satisfy the port (key names, indexes, TTL attribute).
    let typed: TableDefinition = serde_json::from_value(table["Properties"].clone()).unwrap();
    typed.check_port().unwrap();
    assert!(
        typed
            .point_in_time_recovery_specification
            .point_in_time_recovery_enabled
    );
}

#[tokio::test]
async fn table_created_in_moto_matches_the_definition() {
    let store = dynamo_store(manual_clock()).await;
    let client = dynamodb_client().await;
    let definition = TableDefinition::load().unwrap();
    let description = client
        .describe_table()
        .table_name(store.table_name())
        .send()
        .await
        .unwrap();
    let table = description.table().unwrap();
    let keys = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| {
        schema
            .iter()
            .map(|k| {
                (
                    k.attribute_name().to_owned(),
                    k.key_type().as_str().to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    let expected_keys = |schema: &[klaxon_store::table::KeySchemaElement]| {
        schema
            .iter()
            .map(|k| {
                let kind = match k.key_type {
                    klaxon_store::table::KeyType::Hash => "HASH",
                    klaxon_store::table::KeyType::Range => "RANGE",
                };
                (k.attribute_name.clone(), kind.to_owned())
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(table.key_schema()),
        expected_keys(&definition.key_schema)
    );
    let indexes = table.global_secondary_indexes();
    assert_eq!(indexes.len(), definition.global_secondary_indexes.len());
    for expected in &definition.global_secondary_indexes {
        let index = indexes
            .iter()
            .find(|i| i.index_name() == Some(expected.index_name.as_str()))
            .unwrap_or_else(|| panic!("index {} missing", expected.index_name));
        assert_eq!(
            keys(index.key_schema()),
            expected_keys(&expected.key_schema)
        );
        assert_eq!(
            index
                .projection()
                .and_then(|p| p.projection_type())
                .map(|p| p.as_str()),
            Some(expected.projection.projection_type.as_str())
        );
    }
    assert_eq!(
        table
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|b| b.as_str()),
        Some(definition.billing_mode.as_str())
    );
    let ttl = client
        .describe_time_to_live()
        .table_name(store.table_name())
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(
        ttl.attribute_name(),
        Some(
            definition
                .time_to_live_specification
                .attribute_name
                .as_str()
        )
    );
    assert_eq!(
        ttl.time_to_live_status().map(|s| s.as_str()),
        Some("ENABLED")
    );
    let backups = client
        .describe_continuous_backups()
        .table_name(store.table_name())
        .send()
        .await
        .unwrap();
    let recovery = backups
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .map(|s| s.as_str().to_owned());
    assert_eq!(recovery.as_deref(), Some("ENABLED"));
}
