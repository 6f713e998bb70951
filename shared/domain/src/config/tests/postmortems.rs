//! Post-mortem templates: lookup by name and the default, and validation naming the path.

use crate::config::Config;
use crate::ids::TemplateName;
use crate::postmortem::default_template;

const TEMPLATES: &str = r"
postmortem_templates:
  - name: security
    description: For security incidents
    default: true
    sections:
      - title: Summary
        prompt: What happened?
      - title: Data exposure
        body: None known.
  - name: default
    sections:
      - title: Notes
";

#[test]
fn configured_templates_are_found_by_name_and_the_marked_one_is_the_default() {
    let config = Config::from_yaml(TEMPLATES).unwrap();
    let default = config.postmortem_template(None).unwrap();
    assert_eq!(default.name.as_str(), "security");
    assert_eq!(default.sections[1].body.as_deref(), Some("None known."));
    let named = config
        .postmortem_template(Some(&TemplateName::shipped_default()))
        .unwrap();
    assert_eq!(
        named.sections[0].title, "Notes",
        "the configured `default` wins"
    );
    assert!(
        config
            .postmortem_template(Some(&TemplateName::new("nope").unwrap()))
            .is_none()
    );
    let empty = Config::default();
    assert_eq!(empty.postmortem_template(None), Some(default_template()));
}

#[test]
fn template_config_errors_name_their_paths() {
    let yaml = r"
postmortem_templates:
  - name: a
    default: true
    sections:
      - title: Summary
      - title: ' '
      - title: Summary
  - name: a
    default: true
    sections: []
  - name: b
    colour: red
    sections:
      - title: X
  - name: c
    sections:
      - title: Y
        prompt: ''
";
    let errors = Config::from_yaml(yaml).unwrap_err();
    let paths: Vec<String> = errors.issues.iter().map(|i| i.path.to_string()).collect();
    for expected in [
        "postmortem_templates[0].sections[1].title",
        "postmortem_templates[0].sections[2].title",
        "postmortem_templates[1].name",
        "postmortem_templates[1].default",
        "postmortem_templates[1].sections",
        "postmortem_templates[2]",
        "postmortem_templates[3].sections[0].prompt",
    ] {
        assert!(
            paths.iter().any(|p| p.starts_with(expected)),
            "no error at {expected}: {paths:?}"
        );
    }
    assert!(
        errors.to_string().contains("colour"),
        "the unknown field is named: {errors}"
    );
}

#[test]
fn templates_round_trip_through_the_stored_form_and_none_leave_it_as_before() {
    let config = Config::from_yaml(TEMPLATES).unwrap();
    let stored = config.to_canonical_json().unwrap();
    assert_eq!(Config::from_json(&stored).unwrap(), config);
    let without = Config::default().to_canonical_json().unwrap();
    assert!(!without.contains("postmortem_templates"), "{without}");
}
