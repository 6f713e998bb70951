//! Teams: references, one owner per thing, and which team owns an incident.

use super::*;
use crate::ids::{IntegrationName, PolicyId, TeamId};

fn teams(value: Value) -> impl FnOnce(&mut Value) {
    move |v| {
        v.as_object_mut().unwrap().insert("teams".into(), value);
    }
}

#[test]
fn a_team_owning_things_that_exist_is_valid_and_owns_its_incidents() {
    let mut v = base();
    teams(json!([
        {"id": "infra-team", "name": "Infra", "members": ["alice"], "escalation_policies": ["infra"]},
        {"id": "monitoring", "members": ["bob"], "integrations": ["am"], "schedules": ["primary"]}
    ]))(&mut v);
    let config = config_from_value(v).unwrap();
    let am = IntegrationName::new("am").unwrap();
    let infra = PolicyId::new("infra").unwrap();
    // The policy's owner wins over the integration's; without a policy the integration decides.
    assert_eq!(
        config.team_of(Some(&infra), &am).map(TeamId::as_str),
        Some("infra-team")
    );
    assert_eq!(
        config.team_of(None, &am).map(TeamId::as_str),
        Some("monitoring")
    );
    let other = IntegrationName::new("other").unwrap();
    assert_eq!(config.team_of(None, &other), None);
    assert_eq!(
        config
            .team(&TeamId::new("monitoring").unwrap())
            .unwrap()
            .members
            .len(),
        1
    );
}

#[test]
fn unknown_references_name_their_path() {
    let errors = errors_after(teams(json!([
        {"id": "t", "members": ["alice", "eve"], "schedules": ["nope"],
         "escalation_policies": ["gone"], "integrations": ["missing"]}
    ])));
    assert_eq!(
        errors,
        vec![
            r#"teams[0].escalation_policies[0]: unknown escalation policy "gone" (not defined under escalation_policies)"#,
            r#"teams[0].integrations[0]: unknown integration "missing" (not defined under integrations)"#,
            r#"teams[0].members[1]: unknown user "eve" (not defined under users)"#,
            r#"teams[0].schedules[0]: unknown schedule "nope" (not defined under schedules)"#,
        ]
    );
}

#[test]
fn a_thing_has_one_owning_team_and_team_ids_are_unique() {
    let errors = errors_after(teams(json!([
        {"id": "a", "escalation_policies": ["infra"]},
        {"id": "b", "escalation_policies": ["infra"]},
        {"id": "a", "name": " "}
    ])));
    assert_eq!(
        errors,
        vec![
            r#"teams[1].escalation_policies[0]: "infra" is already owned at teams[0].escalation_policies[0]: a escalation_policies entry has one owning team"#,
            r#"teams[2].id: duplicate team id "a" (first defined at teams[0])"#,
            "teams[2].name: must not be empty when given",
        ]
    );
}

#[test]
fn unknown_team_fields_are_errors() {
    let errors = errors_after(teams(json!([{"id": "a", "owner": "alice"}])));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("teams[0].owner"), "{errors:?}");
}
