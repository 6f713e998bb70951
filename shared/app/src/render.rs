//! What a page or notice says, per channel. Pure: the same incident and links always render the
//! same text, so a redelivered page looks identical.

use crate::messages::NoticeKind;
use klaxon_domain::incident::{Incident, Urgency};
use klaxon_domain::timeline::Actor;
use klaxon_domain::user::User;
use serde_json::{Value, json};

/// Links a page carries (signed per recipient).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PageLinks {
    /// Signed acknowledge link (a confirmation page; acknowledging takes one click).
    pub ack: String,
    /// Signed resolve link.
    pub resolve: String,
}

/// Why a message is being sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose<'a> {
    /// A page for a tier of the escalation.
    Page {
        /// Escalation round (0-based).
        round: u32,
        /// Tier (0-based).
        tier: u32,
        /// Urgency.
        urgency: Urgency,
        /// Signed links for the recipient.
        links: &'a PageLinks,
    },
    /// A notice that the incident was acknowledged or resolved.
    Notice {
        /// Which.
        kind: NoticeKind,
        /// By whom.
        actor: &'a Actor,
    },
}

/// Everything a renderer needs.
#[derive(Debug, Clone)]
pub struct RenderInput<'a> {
    /// The incident.
    pub incident: &'a Incident,
    /// The recipient.
    pub user: &'a User,
    /// Page or notice.
    pub purpose: Purpose<'a>,
}

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// Subject.
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part.
    pub html: String,
}

fn headline(input: &RenderInput<'_>) -> String {
    let incident = input.incident;
    let what = match &input.purpose {
        Purpose::Page { .. } => String::new(),
        Purpose::Notice {
            kind: NoticeKind::Acknowledged,
            actor,
        } => format!("Acknowledged by {}: ", actor_name(actor)),
        Purpose::Notice {
            kind: NoticeKind::Resolved,
            actor,
        } => format!("Resolved by {}: ", actor_name(actor)),
    };
    format!(
        "{what}[{}] #{} {}",
        incident.severity().as_str().to_uppercase(),
        incident.number(),
        incident.title()
    )
}

fn actor_name(actor: &Actor) -> String {
    match actor {
        Actor::User { id } => id.to_string(),
        Actor::Integration { name } => format!("integration {name}"),
        Actor::ApiKey { name } => format!("API key {name}"),
        Actor::System { component } => format!("Klaxon ({component})"),
    }
}

fn escalation_line(input: &RenderInput<'_>) -> Option<String> {
    match &input.purpose {
        Purpose::Page {
            round,
            tier,
            urgency,
            ..
        } => Some(format!(
            "Escalation tier {} (round {}), {} urgency.",
            tier + 1,
            round + 1,
            match urgency {
                Urgency::High => "high",
                Urgency::Low => "low",
            }
        )),
        Purpose::Notice { .. } => None,
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The email for a page or notice.
pub fn email(input: &RenderInput<'_>) -> RenderedEmail {
    let incident = input.incident;
    let subject = headline(input);
    let mut text = format!("Hello {},\n\n{}\n", input.user.name, subject);
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><p>Hello {},</p><h2>{}</h2>",
        escape_html(&input.user.name),
        escape_html(&subject)
    );
    let context = incident.context();
    if let Some(source) = &context.source {
        text.push_str(&format!("Source: {source}\n"));
        html.push_str(&format!("<p>Source: {}</p>", escape_html(source)));
    }
    text.push_str(&format!("Incident id: {}\n", incident.id()));
    if let Some(line) = escalation_line(input) {
        text.push_str(&format!("{line}\n"));
        html.push_str(&format!("<p>{}</p>", escape_html(&line)));
    }
    if !context.labels.is_empty() {
        text.push_str("\nLabels:\n");
        html.push_str("<table>");
        for (k, v) in &context.labels {
            text.push_str(&format!("  {k}: {v}\n"));
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td></tr>",
                escape_html(k),
                escape_html(v)
            ));
        }
        html.push_str("</table>");
    }
    if let Purpose::Page { links, .. } = &input.purpose {
        text.push_str(&format!(
            "\nAcknowledge: {}\nResolve: {}\n",
            links.ack, links.resolve
        ));
        html.push_str(&format!(
            "<p><a href=\"{}\">Acknowledge</a> &middot; <a href=\"{}\">Resolve</a></p>",
            escape_html(&links.ack),
            escape_html(&links.resolve)
        ));
    }
    text.push_str("\n-- Klaxon\n");
    html.push_str("<p style=\"color:#777\">Klaxon</p></body></html>");
    RenderedEmail {
        subject,
        text,
        html,
    }
}

/// The SMS for a page or notice: short, with the acknowledge link only.
pub fn sms(input: &RenderInput<'_>) -> String {
    let mut headline = headline(input);
    // Keep the headline to ~100 characters so the link fits in as few segments as possible.
    // "..." rather than "…": the ellipsis is not in the GSM 7-bit alphabet, and one such
    // character makes the whole SMS UCS-2 (70 characters a segment instead of 160).
    if headline.chars().count() > 100 {
        headline = headline.chars().take(97).collect::<String>() + "...";
    }
    match &input.purpose {
        Purpose::Page { links, .. } => format!("Klaxon {headline} Ack: {}", links.ack),
        Purpose::Notice { .. } => format!("Klaxon {headline}"),
    }
}

/// The Slack incoming-webhook message (blocks with buttons). Buttons carry the incident id for
/// the interactive endpoint (`POST /v1/slack/actions`) and the signed link as a fallback URL.
pub fn slack(input: &RenderInput<'_>) -> Value {
    let mention = input
        .user
        .slack_id
        .as_deref()
        .map(|id| format!("<@{id}> "))
        .unwrap_or_default();
    let text = format!("{mention}{}", headline(input));
    let mut blocks = vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})];
    if let Some(line) = escalation_line(input) {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}));
    }
    if let Purpose::Page { links, .. } = &input.purpose {
        let id = input.incident.id().to_string();
        blocks.push(json!({
            "type": "actions",
            "elements": [
                {"type": "button", "style": "primary", "text": {"type": "plain_text", "text": "Acknowledge"},
                 "action_id": "klaxon_ack", "value": id, "url": links.ack},
                {"type": "button", "text": {"type": "plain_text", "text": "Resolve"},
                 "action_id": "klaxon_resolve", "value": id, "url": links.resolve}
            ]
        }));
    }
    json!({"text": text, "blocks": blocks})
}

/// The Microsoft Teams message (an Adaptive Card for a Workflows/incoming webhook).
pub fn teams(input: &RenderInput<'_>) -> Value {
    let mut body = vec![
        json!({"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": true, "text": headline(input)}),
        json!({"type": "TextBlock", "wrap": true, "text": format!("For {}", input.user.name)}),
    ];
    if let Some(line) = escalation_line(input) {
        body.push(json!({"type": "TextBlock", "wrap": true, "isSubtle": true, "text": line}));
    }
    let actions = match &input.purpose {
        Purpose::Page { links, .. } => json!([
            {"type": "Action.OpenUrl", "title": "Acknowledge", "url": links.ack},
            {"type": "Action.OpenUrl", "title": "Resolve", "url": links.resolve}
        ]),
        Purpose::Notice { .. } => json!([]),
    };
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
                "actions": actions
            }
        }]
    })
}

/// The generic webhook body (signed by the sender with `X-Klaxon-Signature`).
pub fn webhook(input: &RenderInput<'_>) -> Value {
    let incident = input.incident;
    let base = json!({
        "incident": {
            "id": incident.id().to_string(),
            "number": incident.number(),
            "title": incident.title(),
            "severity": incident.severity(),
            "urgency": incident.urgency(),
            "status": incident.status(),
            "created_at": incident.created_at(),
        },
        "recipient": {"id": input.user.id.to_string(), "name": input.user.name},
    });
    let mut body = base;
    match &input.purpose {
        Purpose::Page {
            round,
            tier,
            urgency,
            links,
        } => {
            body["event"] = json!("incident.page");
            body["round"] = json!(round);
            body["tier"] = json!(tier);
            body["urgency"] = json!(urgency);
            body["links"] = json!(links);
        }
        Purpose::Notice { kind, actor } => {
            body["event"] = json!(match kind {
                NoticeKind::Acknowledged => "incident.acknowledged",
                NoticeKind::Resolved => "incident.resolved",
            });
            body["actor"] = json!(actor);
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use klaxon_domain::alert::{Alert, AlertStatus, Severity};
    use klaxon_domain::ids::{AlertId, DedupKey, GroupKey, IncidentId, IntegrationName, UserId};
    use klaxon_domain::user::{Channel, ContactMethods};

    fn incident(title: &str) -> Incident {
        let now = chrono::Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let alert = Alert {
            integration: IntegrationName::new("prom").unwrap(),
            dedup_key: DedupKey::new("k").unwrap(),
            status: AlertStatus::Firing,
            severity: Severity::Critical,
            summary: title.into(),
            source: Some("db-1".into()),
            labels: [("service".to_string(), "db".to_string())].into(),
            annotations: Default::default(),
            links: vec![],
            received_at: now,
            started_at: None,
            ended_at: None,
            group_hint: None,
            raw: serde_json::Value::Null,
        };
        Incident::open(
            IncidentId::new("0195abc").unwrap(),
            42,
            GroupKey("g".into()),
            AlertId::new("a1").unwrap(),
            &alert,
            now,
        )
        .unwrap()
        .0
    }

    fn user() -> User {
        User {
            id: UserId::new("alice").unwrap(),
            name: "Alice <Ops>".into(),
            email: Some("alice@example.com".into()),
            phone: Some("+15551230000".into()),
            slack_id: Some("U012ABC".into()),
            time_zone: chrono_tz::UTC,
            contact: ContactMethods {
                high: vec![Channel::Sms],
                low: vec![Channel::Email],
            },
            role: Default::default(),
            quiet_hours: Vec::new(),
            min_severity: Default::default(),
        }
    }

    fn links() -> PageLinks {
        PageLinks {
            ack: "https://k.example/v1/links?a=ack&s=x".into(),
            resolve: "https://k.example/v1/links?a=resolve&s=y".into(),
        }
    }

    #[test]
    fn email_escapes_html_and_carries_both_links() {
        let incident = incident("<script>alert(1)</script> disk full");
        let (user, links) = (user(), links());
        let input = RenderInput {
            incident: &incident,
            user: &user,
            purpose: Purpose::Page {
                round: 0,
                tier: 1,
                urgency: Urgency::High,
                links: &links,
            },
        };
        let e = email(&input);
        assert_eq!(
            e.subject,
            "[CRITICAL] #42 <script>alert(1)</script> disk full"
        );
        assert!(!e.html.contains("<script>"), "{}", e.html);
        assert!(e.html.contains("&lt;script&gt;"));
        assert!(e.html.contains("Alice &lt;Ops&gt;"));
        assert!(e.html.contains(&escape_html(&links.ack)));
        assert!(e.text.contains(&links.resolve));
        assert!(
            e.text
                .contains("Escalation tier 2 (round 1), high urgency.")
        );
    }

    #[test]
    fn sms_is_short_and_has_the_ack_link() {
        let incident = incident(&"x".repeat(500));
        let (user, links) = (user(), links());
        let input = RenderInput {
            incident: &incident,
            user: &user,
            purpose: Purpose::Page {
                round: 0,
                tier: 0,
                urgency: Urgency::High,
                links: &links,
            },
        };
        let text = sms(&input);
        assert!(text.ends_with(&links.ack));
        assert!(text.chars().count() < 100 + links.ack.len() + 20, "{text}");
        // Shortened with GSM 7-bit characters only, so it stays a 160-character-segment SMS.
        assert!(text.contains("x... Ack: "), "{text}");
        assert!(text.is_ascii(), "{text}");
    }

    #[test]
    fn slack_buttons_carry_the_incident_id_and_mention_the_user() {
        let incident = incident("db down");
        let (user, links) = (user(), links());
        let input = RenderInput {
            incident: &incident,
            user: &user,
            purpose: Purpose::Page {
                round: 0,
                tier: 0,
                urgency: Urgency::High,
                links: &links,
            },
        };
        let msg = slack(&input);
        assert!(msg["text"].as_str().unwrap().starts_with("<@U012ABC> "));
        let buttons = &msg["blocks"][2]["elements"];
        assert_eq!(buttons[0]["action_id"], "klaxon_ack");
        assert_eq!(buttons[0]["value"], "0195abc");
        assert_eq!(buttons[1]["action_id"], "klaxon_resolve");
    }

    #[test]
    fn notices_have_no_action_links() {
        let incident = incident("db down");
        let user = user();
        let actor = Actor::user(UserId::new("bob").unwrap());
        let input = RenderInput {
            incident: &incident,
            user: &user,
            purpose: Purpose::Notice {
                kind: NoticeKind::Acknowledged,
                actor: &actor,
            },
        };
        assert_eq!(
            sms(&input),
            "Klaxon Acknowledged by bob: [CRITICAL] #42 db down"
        );
        assert!(!email(&input).text.contains("Acknowledge:"));
        assert_eq!(
            teams(&input)["attachments"][0]["content"]["actions"],
            json!([])
        );
        assert_eq!(webhook(&input)["event"], "incident.acknowledged");
    }
}
