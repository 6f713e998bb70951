//! Hot paths of the domain, measured: parsing webhooks, grouping and routing an alert, one
//! escalation step, on-call resolution and a year of final schedule.
//!
//! Run: `cargo bench -p klaxon-domain --bench domain` (figures in `docs/performance.md`).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use klaxon_domain::alert::AlertEvent;
use klaxon_domain::config::Config;
use klaxon_domain::escalation::{EscalationEvent, EscalationState, OnCallResolver, Target, step};
use klaxon_domain::ids::{DedupKey, IncidentId, IntegrationName, UserId};
use klaxon_domain::incident::Urgency;
use klaxon_domain::ingest::{IntegrationDefaults, ParseContext, alertmanager, pagerduty};
use klaxon_domain::routing::RoutingContext;
use std::hint::black_box;

const CONFIG: &str = include_str!("../../../examples/klaxon.yaml");
const ALERTMANAGER: &str = include_str!("../../../events/ingest/alertmanager-firing.json");
const PAGERDUTY: &str = include_str!("../../../events/ingest/pagerduty-trigger.json");

struct Everyone;
impl OnCallResolver for Everyone {
    fn users_for(&self, _: &Target, _: klaxon_domain::Instant) -> Vec<UserId> {
        vec![UserId::new("alice").unwrap()]
    }
}

fn benches(c: &mut Criterion) {
    let config = Config::from_yaml(CONFIG).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 3, 9, 12, 0, 0).unwrap();
    let integration = IntegrationName::new("alertmanager-prod").unwrap();
    let defaults = IntegrationDefaults::default();
    let generated = DedupKey::new("generated").unwrap();
    let ctx = ParseContext {
        integration: &integration,
        defaults: &defaults,
        received_at: now,
        generated_dedup_key: &generated,
    };

    c.bench_function("config: parse and validate examples/klaxon.yaml", |b| {
        b.iter(|| Config::from_yaml(black_box(CONFIG)).unwrap())
    });
    c.bench_function("ingest: parse an Alertmanager group of 2 alerts", |b| {
        b.iter(|| alertmanager::parse(black_box(ALERTMANAGER.as_bytes()), &ctx).unwrap())
    });
    c.bench_function("ingest: parse a PagerDuty v2 trigger", |b| {
        b.iter(|| {
            pagerduty::parse_request(black_box(PAGERDUTY.as_bytes()))
                .unwrap()
                .into_event(&ctx)
        })
    });
    let events = alertmanager::parse(ALERTMANAGER.as_bytes(), &ctx).unwrap();
    let AlertEvent::Alert(alert) = &events[0] else {
        panic!("a firing alert")
    };
    c.bench_function("grouping: group key of one alert", |b| {
        b.iter(|| config.group(black_box(alert)))
    });
    let context = RoutingContext::from_alert(alert);
    c.bench_function("routing: route one alert", |b| {
        b.iter(|| config.route(black_box(&context), now))
    });

    let policy = config.escalation_policies[0].clone();
    let incident = IncidentId::new("0192abcdef").unwrap();
    let state = EscalationState::new(policy.id.clone(), Urgency::High);
    c.bench_function("escalation: start (page tier 0, arm timer)", |b| {
        b.iter(|| {
            step(
                &incident,
                black_box(&state),
                &EscalationEvent::Start,
                &policy,
                &Everyone,
                now,
            )
            .unwrap()
        })
    });

    let schedule = config.schedules[0].clone();
    c.bench_function("schedule: who is on call at an instant", |b| {
        b.iter(|| schedule.on_call_at(&[], black_box(now)))
    });
    let year_end = now + chrono::TimeDelta::days(365);
    c.bench_function("schedule: final schedule over a year", |b| {
        b.iter(|| schedule.final_schedule(&[], black_box(now), year_end))
    });
}

criterion_group!(domain, benches);
criterion_main!(domain);
