//! Post-mortem templates: unique names, at most one marked default, at least one section,
//! section titles present, unique within their template and not too long, prompts and default
//! bodies within bounds.

use super::{Origins, require_unique};
use crate::config::Config;
use crate::config::error::ConfigPath;
use crate::config::error::Issues;
use crate::postmortem::{
    MAX_PROMPT_BYTES, MAX_SECTION_BODY_BYTES, MAX_SECTIONS, check_section_title,
};

pub(super) fn check_postmortem_templates(config: &Config, origins: &Origins, issues: &mut Issues) {
    let base = ConfigPath::root().key("postmortem_templates");
    let templates = &config.postmortem_templates;
    require_unique(
        "post-mortem template name",
        templates.iter().enumerate().map(|(i, template)| {
            let path = origins.postmortem_templates.path(&base, i);
            (template.name.as_str(), path.clone(), path.key("name"))
        }),
        issues,
    );
    let mut first_default: Option<ConfigPath> = None;
    for (i, template) in templates.iter().enumerate() {
        let path = origins.postmortem_templates.path(&base, i);
        if template.default {
            match &first_default {
                Some(first) => issues.push(
                    path.key("default"),
                    format!("only one template may be the default (the first is {first})"),
                ),
                None => first_default = Some(path.clone()),
            }
        }
        if template
            .description
            .as_deref()
            .is_some_and(|d| d.trim().is_empty() || d.len() > 1024)
        {
            issues.push(
                path.key("description"),
                "must be 1 to 1024 characters when given",
            );
        }
        if template.sections.is_empty() || template.sections.len() > MAX_SECTIONS {
            issues.push(
                path.key("sections"),
                format!(
                    "must hold 1 to {MAX_SECTIONS} sections (got {})",
                    template.sections.len()
                ),
            );
        }
        check_sections(template, &path, issues);
    }
}

fn check_sections(
    template: &crate::postmortem::PostmortemTemplate,
    path: &ConfigPath,
    issues: &mut Issues,
) {
    let sections = path.key("sections");
    require_unique(
        "section title",
        template.sections.iter().enumerate().map(|(j, section)| {
            let at = sections.index(j);
            (section.title.trim(), at.clone(), at.key("title"))
        }),
        issues,
    );
    for (j, section) in template.sections.iter().enumerate() {
        let at = sections.index(j);
        if let Err(error) = check_section_title(&section.title, "title") {
            let message = match error {
                crate::postmortem::PostmortemError::Invalid { message, .. } => message,
                other => other.to_string(),
            };
            issues.push(at.key("title"), message);
        }
        if section
            .prompt
            .as_deref()
            .is_some_and(|p| p.trim().is_empty() || p.len() > MAX_PROMPT_BYTES)
        {
            issues.push(
                at.key("prompt"),
                format!("must be 1 to {MAX_PROMPT_BYTES} bytes when given"),
            );
        }
        if section
            .body
            .as_deref()
            .is_some_and(|b| b.len() > MAX_SECTION_BODY_BYTES)
        {
            issues.push(
                at.key("body"),
                format!("must be at most {MAX_SECTION_BODY_BYTES} bytes"),
            );
        }
    }
}
