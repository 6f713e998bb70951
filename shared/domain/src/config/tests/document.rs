//! Document level: syntax errors, the top-level mapping, unknown sections, the version.

use super::*;

#[test]
fn yaml_syntax_errors_name_the_line() {
    let errors = yaml_errors("users:\n  - id: [alice\n    name: x\n");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("invalid YAML: "), "{errors:?}");
    assert!(errors[0].contains("line"), "{errors:?}");
}

#[test]
fn json_syntax_errors_name_the_line() {
    let err = Config::from_json("{\"users\": [}").unwrap_err();
    assert!(err.to_string().starts_with("invalid JSON: "), "{err}");
    assert!(err.to_string().contains("line 1"), "{err}");
}

#[test]
fn document_must_be_a_mapping_and_empty_is_valid() {
    let errors = yaml_errors("- alice\n- bob\n");
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].contains("must be a mapping of sections"),
        "{errors:?}"
    );
    let empty = Config::from_yaml("").unwrap();
    assert_eq!(empty, Config::default());
}

#[test]
fn unknown_section() {
    let errors = errors_after(|v| set(v, "/user", json!([])));
    assert_one_error(
        &errors,
        "user",
        "unknown section (expected one of: version, users",
    );
}

#[test]
fn unsupported_version() {
    let errors = errors_after(|v| set(v, "/version", json!(2)));
    assert_one_error(&errors, "version", "unsupported version 2");
    assert!(errors_after(|v| set(v, "/version", json!(1))).is_empty());
}

#[test]
fn section_of_the_wrong_shape() {
    let errors = errors_after(|v| set(v, "/users", json!({"alice": {}})));
    // The users are gone, so references to them are reported too; the first line is the cause.
    assert_eq!(errors[0], "users: expected a list, found a mapping");
    let errors = errors_after(|v| set(v, "/routing", json!([])));
    assert_one_error(&errors, "routing", "expected a mapping, found a list");
}
