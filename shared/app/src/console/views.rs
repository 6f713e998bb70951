//! The console's templates (askama, checked at compile time; every value is HTML-escaped) and
//! the view models they show, built from the use cases' results.

use super::assets::{CSS, JS};
use super::read::{IncidentList, IncidentQuery, IncidentView};
use super::service::SignedIn;
use super::signin::SigninLink;
use askama::Template;
use klaxon_domain::Instant;
use klaxon_domain::escalation::EscalationStatus;
use klaxon_domain::incident::{Incident, IncidentStatus, Urgency};
use klaxon_store::repo::{AlertLinkState, DeliveryPurpose, DeliveryStatus};

/// What every page's frame needs: the asset links and who is signed in.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The stylesheet's path.
    pub css: String,
    /// The script's path.
    pub js: String,
    /// The signed-in person (absent on the sign-in pages).
    pub me: Option<Me>,
}

/// The signed-in person as the header shows them.
#[derive(Debug, Clone)]
pub struct Me {
    /// Display name.
    pub name: String,
    /// Role name.
    pub role: &'static str,
    /// The CSRF token for the sign-out form.
    pub csrf: String,
}

impl Chrome {
    /// The frame for `who` (or nobody).
    pub fn new(who: Option<&SignedIn>) -> Self {
        Self {
            css: CSS.href(),
            js: JS.href(),
            me: who.map(|w| Me {
                name: w.name.clone(),
                role: w.role.as_str(),
                csrf: w.csrf.clone(),
            }),
        }
    }
}

/// A page with a title and a message (results and errors).
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    /// The frame.
    pub chrome: Chrome,
    /// Heading and title.
    pub title: String,
    /// The message.
    pub message: String,
    /// Whether it reports an error.
    pub is_error: bool,
    /// A link onwards: (href, text).
    pub next: Option<(String, String)>,
}

/// The sign-in form.
#[derive(Template)]
#[template(path = "signin.html")]
pub struct SigninPage {
    /// The frame.
    pub chrome: Chrome,
    /// Heading and title.
    pub title: String,
    /// A notice above the form ("check your email").
    pub notice: Option<String>,
    /// The address entered.
    pub email: String,
    /// The single sign-on button's label, when a provider is configured.
    pub sso: Option<String>,
}

/// The confirmation page of a sign-in link.
#[derive(Template)]
#[template(path = "signin_confirm.html")]
pub struct SigninConfirmPage {
    /// The frame.
    pub chrome: Chrome,
    /// Heading and title.
    pub title: String,
    /// The link, posted back by the button.
    pub link: SigninLink,
    /// When the link stops working.
    pub until: String,
}

/// One `<select>` of the filter form.
#[derive(Debug, Clone)]
pub struct Select {
    /// Parameter name.
    pub name: &'static str,
    /// Label text.
    pub label: &'static str,
    /// Choices.
    pub options: Vec<SelectOption>,
}

/// One choice of a [`Select`].
#[derive(Debug, Clone)]
pub struct SelectOption {
    /// Value sent.
    pub value: String,
    /// Text shown.
    pub label: String,
    /// Whether it is the current one.
    pub selected: bool,
}

fn select(
    name: &'static str,
    label: &'static str,
    current: &str,
    values: &[(&str, &str)],
) -> Select {
    Select {
        name,
        label,
        options: values
            .iter()
            .map(|(value, text)| SelectOption {
                value: (*value).to_owned(),
                label: (*text).to_owned(),
                selected: *value == current,
            })
            .collect(),
    }
}

/// The incidents page.
#[derive(Template)]
#[template(path = "incidents.html")]
pub struct IncidentsPage {
    /// The frame.
    pub chrome: Chrome,
    /// Heading and title.
    pub title: String,
    /// The filters as given.
    pub query: IncidentQuery,
    /// The filter form's selects.
    pub selects: Vec<Select>,
    /// The rendered list (the fragment live refresh replaces).
    pub list: String,
}

impl IncidentsPage {
    /// The page around an already rendered `list`; `policies` fill the policy filter.
    pub fn new(chrome: Chrome, query: IncidentQuery, policies: &[String], list: String) -> Self {
        Self::with_teams(chrome, query, policies, &[], list)
    }

    /// [`IncidentsPage::new`] with the team filter's choices.
    pub fn with_teams(
        chrome: Chrome,
        query: IncidentQuery,
        policies: &[String],
        teams: &[String],
        list: String,
    ) -> Self {
        let mut policy_values = vec![("", "any")];
        policy_values.extend(policies.iter().map(|p| (p.as_str(), p.as_str())));
        let mut team_values = vec![("", "any")];
        team_values.extend(teams.iter().map(|t| (t.as_str(), t.as_str())));
        let selects = vec![
            select(
                "status",
                "Status",
                &query.status,
                &[
                    ("open", "open"),
                    ("triggered", "triggered"),
                    ("acknowledged", "acknowledged"),
                    ("resolved", "resolved"),
                    ("all", "all"),
                ],
            ),
            select(
                "severity",
                "Severity",
                &query.severity,
                &[
                    ("", "any"),
                    ("critical", "critical"),
                    ("error", "error"),
                    ("warning", "warning"),
                    ("info", "info"),
                ],
            ),
            select(
                "urgency",
                "Urgency",
                &query.urgency,
                &[("", "any"), ("high", "high"), ("low", "low")],
            ),
            select("policy", "Policy", &query.policy, &policy_values),
            select("team", "Team", &query.team, &team_values),
        ];
        Self {
            chrome,
            title: "Incidents".to_owned(),
            query,
            selects,
            list,
        }
    }
}

/// One incident in the list.
#[derive(Debug, Clone)]
pub struct IncidentRow {
    /// Its id (the bulk form's value).
    pub id: String,
    /// Its number.
    pub number: u64,
    /// Its page.
    pub href: String,
    /// Title.
    pub title: String,
    /// Status name.
    pub status: &'static str,
    /// Severity name.
    pub severity: &'static str,
    /// Urgency name.
    pub urgency: &'static str,
    /// Escalation policy.
    pub policy: String,
    /// How long ago it opened.
    pub age: String,
}

/// The list fragment.
#[derive(Template)]
#[template(path = "incident_list.html")]
pub struct IncidentListFragment {
    /// The rows.
    pub rows: Vec<IncidentRow>,
    /// The CSRF token of the bulk acknowledge/resolve form, for people who may act (viewers
    /// get no checkboxes).
    pub bulk_csrf: Option<String>,
    /// The next page's link.
    pub next_href: Option<String>,
}

/// The status's name.
pub fn status_name(status: IncidentStatus) -> &'static str {
    match status {
        IncidentStatus::Triggered => "triggered",
        IncidentStatus::Acknowledged => "acknowledged",
        IncidentStatus::Resolved => "resolved",
    }
}

fn urgency_name(urgency: Urgency) -> &'static str {
    match urgency {
        Urgency::High => "high",
        Urgency::Low => "low",
    }
}

/// "5 min", "3 h", "2 d": how long from `then` to `now`.
pub fn age(then: Instant, now: Instant) -> String {
    let minutes = (now - then).num_minutes().max(0);
    match minutes {
        0 => "under a minute".to_owned(),
        1..=119 => format!("{minutes} min"),
        120..=2879 => format!("{} h", minutes / 60),
        _ => format!("{} d", minutes / 1440),
    }
}

fn when(at: Instant) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

impl IncidentListFragment {
    /// The rows of `list`; `next_href` is built from the cursor by the caller.
    pub fn new(list: &IncidentList, now: Instant, next_href: Option<String>) -> Self {
        let rows = list
            .incidents
            .iter()
            .map(|incident| IncidentRow {
                id: incident.id().to_string(),
                number: incident.number(),
                href: format!("/console/incidents/{}", incident.id()),
                title: incident.title().to_owned(),
                status: status_name(incident.status()),
                severity: incident.severity().as_str(),
                urgency: urgency_name(incident.urgency()),
                policy: incident
                    .escalation()
                    .map(|e| e.policy().to_string())
                    .unwrap_or_else(|| "no policy".to_owned()),
                age: age(incident.created_at(), now),
            })
            .collect();
        Self {
            rows,
            bulk_csrf: None,
            next_href,
        }
    }

    /// With the bulk form for someone who may act.
    pub fn with_bulk(mut self, csrf: Option<String>) -> Self {
        self.bulk_csrf = csrf;
        self
    }
}

/// The incident page.
#[derive(Template)]
#[template(path = "incident.html")]
pub struct IncidentPage {
    /// The frame.
    pub chrome: Chrome,
    /// Title.
    pub title: String,
    /// A notice (after an action).
    pub notice: Option<String>,
    /// Why an action was refused (nothing changed).
    pub error: Option<String>,
    /// The rendered detail (the fragment live refresh replaces).
    pub detail: String,
    /// The rendered responder action forms (empty for viewers); outside the refreshed part,
    /// so live refresh never clears what someone is typing.
    pub actions: String,
}

/// A linked alert as shown.
#[derive(Debug, Clone)]
pub struct AlertView {
    /// Summary.
    pub summary: String,
    /// open or resolved.
    pub state: &'static str,
    /// Integration.
    pub integration: String,
    /// Dedup key.
    pub dedup_key: String,
    /// When it joined.
    pub linked: String,
    /// Labels.
    pub labels: Vec<(String, String)>,
    /// Annotations.
    pub annotations: Vec<(String, String)>,
    /// Links: (href, text).
    pub links: Vec<(String, String)>,
}

/// A delivery as shown.
#[derive(Debug, Clone)]
pub struct PageView {
    /// Recipient.
    pub user: String,
    /// Channel.
    pub channel: &'static str,
    /// Page (round, tier) or notice.
    pub purpose: String,
    /// Delivery result.
    pub result: String,
    /// Last attempt.
    pub when: String,
}

/// A timeline entry as shown.
#[derive(Debug, Clone)]
pub struct EntryView {
    /// When.
    pub time: String,
    /// The event type, without the `io.klaxon.` prefix.
    pub kind: String,
    /// Who.
    pub actor: String,
    /// Which edge recorded it.
    pub source: String,
}

/// The incident detail fragment.
#[derive(Template)]
#[template(path = "incident_detail.html")]
pub struct IncidentDetailFragment {
    /// Number.
    pub number: u64,
    /// Title.
    pub title: String,
    /// Status name.
    pub status: &'static str,
    /// Severity name.
    pub severity: &'static str,
    /// Urgency name.
    pub urgency: &'static str,
    /// Age.
    pub age: String,
    /// Creation time.
    pub created: String,
    /// The incident's console path (forms post to `<base>/acknowledge`).
    pub base: String,
    /// The CSRF token, present only for roles that may act.
    pub csrf: Option<String>,
    /// Show the acknowledge button.
    pub show_ack: bool,
    /// Show the resolve button.
    pub show_resolve: bool,
    /// Escalation facts.
    pub escalation: Vec<(&'static str, String)>,
    /// Alerts.
    pub alerts: Vec<AlertView>,
    /// Deliveries.
    pub pages: Vec<PageView>,
    /// Timeline.
    pub timeline: Vec<EntryView>,
    /// The post-mortem's facts (status, version, action items); empty when none was started.
    pub postmortem: Vec<(&'static str, String)>,
}

/// What the incident page says about its post-mortem (read-only: the API and CLI edit it).
fn postmortem_facts(view: &IncidentView) -> Vec<(&'static str, String)> {
    let Some(stored) = &view.postmortem else {
        return Vec::new();
    };
    let pm = &stored.postmortem;
    let open = pm
        .action_items
        .iter()
        .filter(|item| item.status == klaxon_domain::postmortem::ActionStatus::Open)
        .count();
    vec![
        ("Status", pm.status.to_string()),
        ("Version", stored.version.to_string()),
        ("Template", pm.template.to_string()),
        ("Updated", when(pm.updated_at)),
        (
            "Action items",
            format!("{} ({open} open)", pm.action_items.len()),
        ),
        (
            "Export",
            format!("klaxon postmortem export {} > pm.md", pm.number),
        ),
    ]
}

fn escalation_facts(incident: &Incident) -> Vec<(&'static str, String)> {
    let Some(state) = incident.escalation() else {
        return vec![("Policy", "none (nobody is paged)".to_owned())];
    };
    let status = match state.status() {
        EscalationStatus::NotStarted => "not started",
        EscalationStatus::Active => "paging",
        EscalationStatus::Acknowledged => "stopped: acknowledged",
        EscalationStatus::Resolved => "stopped: resolved",
        EscalationStatus::Exhausted => "exhausted: every tier was paged",
    };
    let mut facts = vec![
        ("Policy", state.policy().to_string()),
        ("State", status.to_owned()),
        ("Round", (state.round() + 1).to_string()),
        ("Tier", (state.tier() + 1).to_string()),
    ];
    if let Some(due) = state.next_due() {
        facts.push(("Next tier at", when(due)));
    }
    facts
}

fn alert_view(
    alert: &(
        klaxon_store::repo::IncidentAlert,
        Option<klaxon_store::repo::AlertRecord>,
    ),
) -> AlertView {
    let (link, full) = alert;
    let pairs = |map: &std::collections::BTreeMap<String, String>| {
        map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    AlertView {
        summary: link.summary.clone(),
        state: match link.state {
            AlertLinkState::Open => "open",
            AlertLinkState::Resolved => "resolved",
        },
        integration: link.integration.to_string(),
        dedup_key: link.dedup_key.to_string(),
        linked: when(link.linked_at),
        labels: full
            .as_ref()
            .map(|r| pairs(&r.alert.labels))
            .unwrap_or_default(),
        annotations: full
            .as_ref()
            .map(|r| pairs(&r.alert.annotations))
            .unwrap_or_default(),
        links: full
            .as_ref()
            .map(|r| {
                r.alert
                    .links
                    .iter()
                    // Only web links become anchors: a `javascript:` URL from a sender must
                    // never be clickable.
                    .filter(|l| l.href.starts_with("https://") || l.href.starts_with("http://"))
                    .map(|l| {
                        (
                            l.href.clone(),
                            l.text.clone().unwrap_or_else(|| l.href.clone()),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn page_view(record: &klaxon_store::repo::DeliveryRecord) -> PageView {
    let result = match record.status {
        DeliveryStatus::Claimed => "sending".to_owned(),
        DeliveryStatus::Sent => "sent".to_owned(),
        DeliveryStatus::FailedTransient => format!(
            "failed, will retry: {}",
            record.error.as_deref().unwrap_or("unknown error")
        ),
        DeliveryStatus::FailedPermanent => {
            format!(
                "failed: {}",
                record.error.as_deref().unwrap_or("unknown error")
            )
        }
    };
    PageView {
        user: record.user.to_string(),
        channel: record.channel.as_str(),
        purpose: match &record.purpose {
            DeliveryPurpose::Page { round, tier } => {
                format!("page, round {} tier {}", round + 1, tier + 1)
            }
            DeliveryPurpose::Notice { notice } => format!("notice: {notice}"),
        },
        result,
        when: when(record.finished_at.unwrap_or(record.claimed_at)),
    }
}

impl IncidentDetailFragment {
    /// The detail of `view` for `who` at `now`.
    pub fn new(view: &IncidentView, who: &SignedIn, now: Instant) -> Self {
        let incident = &view.incident;
        let can_act = who.role.can_act();
        let status = incident.status();
        Self {
            number: incident.number(),
            title: incident.title().to_owned(),
            status: status_name(status),
            severity: incident.severity().as_str(),
            urgency: urgency_name(incident.urgency()),
            age: age(incident.created_at(), now),
            created: when(incident.created_at()),
            base: format!("/console/incidents/{}", incident.id()),
            csrf: can_act.then(|| who.csrf.clone()),
            show_ack: can_act && status == IncidentStatus::Triggered,
            show_resolve: can_act && status != IncidentStatus::Resolved,
            escalation: escalation_facts(incident),
            postmortem: postmortem_facts(view),
            alerts: view.alerts.iter().map(alert_view).collect(),
            pages: view.deliveries.iter().map(page_view).collect(),
            timeline: view
                .timeline
                .iter()
                .map(|record| EntryView {
                    time: when(record.time),
                    kind: record
                        .entry
                        .event_type()
                        .trim_start_matches("io.klaxon.")
                        .to_owned(),
                    actor: record.actor.to_string(),
                    source: record.source.as_str().to_owned(),
                })
                .collect(),
        }
    }
}
