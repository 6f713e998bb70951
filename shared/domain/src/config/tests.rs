use super::parse::{config_from_value, yaml_value};
use super::*;
use crate::alert::{AlertStatus, Severity};
use crate::duration::HumanDuration;
use crate::escalation::{Target, Tier};
use crate::ids::{DedupKey, RuleId};
use crate::incident::Urgency;
use crate::ingest::Format;
use crate::routing::SuppressedBy;
use crate::user::Channel;
use chrono::TimeZone;
use serde_json::{Value, json};
use std::collections::BTreeMap;
mod api;
mod declare;
mod document;
mod example;
mod heartbeats;
mod holidays;
mod integrations;
mod many_errors;
mod paging;
mod postmortems;
mod schedules;
mod teams;
mod users;

const EXAMPLE: &str = include_str!("../../../../examples/klaxon.yaml");

/// A small valid configuration that error tests break one piece at a time.
const BASE: &str = r#"
users:
  - id: alice
    name: Alice
    email: alice@example.com
    phone: "+15551234567"
  - id: bob
    name: Bob
    email: bob@example.com
schedules:
  - id: primary
    name: Primary
    time_zone: Europe/Berlin
    layers:
      - name: weekly
        rotation:
          participants: [alice, bob]
          start: "2026-01-05T09:00:00"
          shift: { weeks: 1 }
escalation_policies:
  - id: infra
    name: Infra
    tiers:
      - delay: 5m
        targets: [{ schedule: primary }, { user: bob }]
grouping:
  rules:
    - id: by-alertname
      priority: 1
      match: { integrations: [am] }
      group_by: [alertname]
routing:
  defaults:
    critical: { policy: infra }
  rules:
    - id: db
      priority: 1
      match: { labels: { team: db } }
      policy: infra
maintenance_windows:
  - id: upgrade
    start: "2026-03-14T01:00:00Z"
    end: "2026-03-14T05:00:00Z"
    reason: upgrade
integrations:
  - name: am
    format: alertmanager
"#;

fn base() -> Value {
    yaml_value(BASE).unwrap()
}

/// Sets the value at a JSON pointer, creating the last key if needed.
fn set(root: &mut Value, pointer: &str, new: Value) {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    let parent = if parent.is_empty() {
        root
    } else {
        root.pointer_mut(parent)
            .unwrap_or_else(|| panic!("no {parent}"))
    };
    match parent {
        Value::Object(map) => {
            map.insert(last.to_string(), new);
        }
        Value::Array(items) => items[last.parse::<usize>().unwrap()] = new,
        other => panic!("cannot set in {other}"),
    }
}

fn remove(root: &mut Value, pointer: &str) {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    root.pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(last)
        .unwrap();
}

/// The error lines after changing the base configuration with `change`.
fn errors_after(change: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut value = base();
    change(&mut value);
    match config_from_value(value) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.issues.iter().map(ToString::to_string).collect(),
    }
}

/// Asserts exactly one error, at `path`, whose message contains `fragment`.
fn assert_one_error(errors: &[String], path: &str, fragment: &str) {
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    let (got_path, message) = errors[0].split_once(": ").unwrap();
    assert_eq!(got_path, path, "{errors:?}");
    assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
}

fn yaml_errors(text: &str) -> Vec<String> {
    match Config::from_yaml(text) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.issues.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn base_configuration_is_valid() {
    assert_eq!(errors_after(|_| {}), Vec::<String>::new());
}
