//! Deliveries, idempotency, overrides.

use super::*;

repository!(
    deliveries_are_claimed_once_and_finished_by_their_claimer,
    a_claim_whose_write_was_applied_but_failed_is_released_for_the_next_sender,
    idempotency_records_expire,
    overrides_are_ordered_by_start_then_creation,
);

async fn deliveries_are_claimed_once_and_finished_by_their_claimer<S: Store>(f: Fixture<S>) {
    let id = incident_id("inc1");
    new_incident(&f, "g", "inc1", 1).await;
    let request = PageRequest {
        incident: id.clone(),
        policy: PolicyId::new("infra").unwrap(),
        round: 0,
        tier: 1,
        targets: vec![Target::User(alice())],
        urgency: Urgency::High,
        resolve_at: f.now(),
        cycle: 0,
        responders: None,
        quiet_hours: false,
    };
    let email = Delivery::page(&request, &alice(), Channel::Email);
    assert_eq!(email.key, format!("{id}/r0/t1/alice/email"));
    let stale = HumanDuration::from_mins(5);
    let delivered = |attempt| {
        TimelineDraft::new(
            id.clone(),
            EntryKey::new(format!("delivery.email.{attempt}")).unwrap(),
            t0(),
            Actor::system("notify"),
            TimelineEntry::NotificationDelivered {
                user: alice(),
                channel: Channel::Email,
                round: 0,
                tier: 1,
                provider_id: Some("m-1".into()),
            },
        )
    };
    assert_eq!(
        f.repo.claim_delivery(&email, stale).await.unwrap(),
        Claim::Claimed { attempt: 1 }
    );
    assert_eq!(
        f.repo.claim_delivery(&email, stale).await.unwrap(),
        Claim::InFlight
    );
    // Only the holder of the current attempt may finish it.
    match f
        .repo
        .finish_delivery(
            &id,
            &email.key,
            2,
            &DeliveryOutcome::Sent { provider_id: None },
            &delivered(2),
        )
        .await
    {
        Err(RepoError::Conflict { .. }) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
    f.repo
        .finish_delivery(
            &id,
            &email.key,
            1,
            &DeliveryOutcome::Sent {
                provider_id: Some("m-1".into()),
            },
            &delivered(1),
        )
        .await
        .unwrap();
    assert_eq!(
        f.repo.claim_delivery(&email, stale).await.unwrap(),
        Claim::AlreadySent
    );
    // Finishing twice is refused and records nothing.
    assert!(matches!(
        f.repo
            .finish_delivery(
                &id,
                &email.key,
                1,
                &DeliveryOutcome::Sent { provider_id: None },
                &delivered(9)
            )
            .await,
        Err(RepoError::Conflict { .. })
    ));
    // SMS: a transient failure lets the next claim retry; a crashed sender's claim goes stale.
    let sms = Delivery::page(&request, &alice(), Channel::Sms);
    let failed = TimelineDraft::new(
        id.clone(),
        EntryKey::new("delivery.sms.1").unwrap(),
        t0(),
        Actor::system("notify"),
        TimelineEntry::NotificationFailed {
            user: alice(),
            channel: Channel::Sms,
            round: 0,
            tier: 1,
            error: "throttled".into(),
            retrying: true,
        },
    );
    assert_eq!(
        f.repo.claim_delivery(&sms, stale).await.unwrap(),
        Claim::Claimed { attempt: 1 }
    );
    f.repo
        .finish_delivery(
            &id,
            &sms.key,
            1,
            &DeliveryOutcome::Failed {
                permanent: false,
                error: "throttled".into(),
            },
            &failed,
        )
        .await
        .unwrap();
    assert_eq!(
        f.repo.claim_delivery(&sms, stale).await.unwrap(),
        Claim::Claimed { attempt: 2 }
    );
    f.advance(stale.as_secs() - 1);
    assert_eq!(
        f.repo.claim_delivery(&sms, stale).await.unwrap(),
        Claim::InFlight
    );
    f.advance(2);
    assert_eq!(
        f.repo.claim_delivery(&sms, stale).await.unwrap(),
        Claim::Claimed { attempt: 3 }
    );
    // A notice that fails for good is never sent again.
    let notice = Delivery::notice(&id, "acknowledged", &alice(), Channel::Slack);
    assert_eq!(notice.key, format!("{id}/notice/acknowledged/alice/slack"));
    assert_eq!(
        f.repo.claim_delivery(&notice, stale).await.unwrap(),
        Claim::Claimed { attempt: 1 }
    );
    let mut gone = failed.clone();
    gone.key = EntryKey::new("notice.slack").unwrap();
    f.repo
        .finish_delivery(
            &id,
            &notice.key,
            1,
            &DeliveryOutcome::Failed {
                permanent: true,
                error: "channel_not_found".into(),
            },
            &gone,
        )
        .await
        .unwrap();
    assert_eq!(
        f.repo.claim_delivery(&notice, stale).await.unwrap(),
        Claim::FailedPermanently
    );
    let records = f.repo.deliveries(&id).await.unwrap();
    let summary: Vec<(Channel, DeliveryStatus, u32)> = records
        .iter()
        .map(|r| (r.channel, r.status, r.attempt))
        .collect();
    assert_eq!(
        summary,
        vec![
            (Channel::Slack, DeliveryStatus::FailedPermanent, 1),
            (Channel::Email, DeliveryStatus::Sent, 1),
            (Channel::Sms, DeliveryStatus::Claimed, 3),
        ]
    );
    assert_eq!(records[1].provider_id.as_deref(), Some("m-1"));
    assert_eq!(
        records[1].purpose,
        DeliveryPurpose::Page { round: 0, tier: 1 }
    );
    assert_eq!(records[0].error.as_deref(), Some("channel_not_found"));
    let entries = types(&all_timeline(&f, &id).await);
    assert_eq!(
        entries
            .iter()
            .filter(|t| t.starts_with("io.klaxon.notification"))
            .count(),
        3,
        "one entry per finished attempt, none for refused finishes"
    );
}

async fn idempotency_records_expire<S: Store>(f: Fixture<S>) {
    let ttl = HumanDuration::from_mins(10);
    assert_eq!(
        f.repo
            .begin_idempotent("ack-link", "token-1", ttl)
            .await
            .unwrap(),
        Begin::New
    );
    assert_eq!(
        f.repo
            .begin_idempotent("ack-link", "token-1", ttl)
            .await
            .unwrap(),
        Begin::InProgress
    );
    // Another scope or id is independent.
    assert_eq!(
        f.repo
            .begin_idempotent("slack", "token-1", ttl)
            .await
            .unwrap(),
        Begin::New
    );
    f.repo
        .complete_idempotent("ack-link", "token-1", ttl)
        .await
        .unwrap();
    assert_eq!(
        f.repo
            .begin_idempotent("ack-link", "token-1", ttl)
            .await
            .unwrap(),
        Begin::Done
    );
    // Expired (TTL is enforced on read, even where the store deletes late): new again.
    f.advance(ttl.as_secs());
    assert_eq!(
        f.repo
            .begin_idempotent("ack-link", "token-1", ttl)
            .await
            .unwrap(),
        Begin::New
    );
    // An in-progress record of a crashed handler expires too.
    f.advance(ttl.as_secs() - 1);
    assert_eq!(
        f.repo
            .begin_idempotent("ack-link", "token-1", ttl)
            .await
            .unwrap(),
        Begin::InProgress
    );
    f.advance(1);
    assert_eq!(
        f.repo
            .begin_idempotent("ack-link", "token-1", ttl)
            .await
            .unwrap(),
        Begin::New
    );
    let long_id = "x".repeat(2000);
    assert_eq!(
        f.repo
            .begin_idempotent("ack-link", &long_id, ttl)
            .await
            .unwrap(),
        Begin::New
    );
}

async fn overrides_are_ordered_by_start_then_creation<S: Store>(f: Fixture<S>) {
    let schedule = ScheduleId::new("primary").unwrap();
    let hour = |h: i64| t0() + Duration::hours(h);
    let make = |id: &str, user: &str, start: i64, end: i64| Override {
        id: id.to_owned(),
        schedule: schedule.clone(),
        user: UserId::new(user).unwrap(),
        start: hour(start),
        end: hour(end),
    };
    let by = Actor::user(alice());
    // Created out of start order; "late" and "later" start together, "later" created last.
    for o in [
        make("later", "carol", 10, 12),
        make("past", "dave", 0, 2),
        make("early", "bob", 5, 11),
        make("future", "erin", 30, 31),
    ] {
        f.repo.create_override(&o, &by).await.unwrap();
        f.advance(1);
    }
    f.repo
        .create_override(&make("zz-late", "frank", 10, 13), &by)
        .await
        .unwrap();
    let found: Vec<String> = f
        .repo
        .overrides(&schedule, hour(3), hour(24))
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(found, vec!["early", "later", "zz-late"]);
    // Boundaries: end is exclusive, start is inclusive.
    let at_end = f.repo.overrides(&schedule, hour(2), hour(5)).await.unwrap();
    assert!(at_end.is_empty(), "{at_end:?}");
    let touching = f.repo.overrides(&schedule, hour(1), hour(5)).await.unwrap();
    assert_eq!(touching.len(), 1);
    assert_eq!(touching[0], make("past", "dave", 0, 2));
    assert!(
        f.repo
            .overrides(&schedule, hour(5), hour(5))
            .await
            .unwrap()
            .is_empty()
    );
    // Ids are unique per schedule.
    match f
        .repo
        .create_override(&make("early", "zed", 40, 41), &by)
        .await
    {
        Err(RepoError::AlreadyExists { .. }) => {}
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert!(matches!(
        f.repo.create_override(&make("bad", "zed", 5, 5), &by).await,
        Err(RepoError::Invalid { .. })
    ));
    // Another schedule sees none of them.
    let other = ScheduleId::new("secondary").unwrap();
    assert!(
        f.repo
            .overrides(&other, hour(0), hour(48))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(f.repo.delete_override(&schedule, "early").await.unwrap());
    assert!(!f.repo.delete_override(&schedule, "early").await.unwrap());
    assert!(!f.repo.delete_override(&other, "later").await.unwrap());
    let left: Vec<String> = f
        .repo
        .overrides(&schedule, hour(0), hour(48))
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(left, vec!["past", "later", "zz-late", "future"]);
    // The id is free again.
    f.repo
        .create_override(&make("early", "bob", 5, 6), &by)
        .await
        .unwrap();
}

/// A store whose next update (while `lost` is set) is answered with a transient failure,
/// whether it was applied or not, as a DynamoDB write is when its answer is lost and every
/// retry fails too.
#[derive(Clone)]
struct LostAnswerStore<S> {
    inner: S,
    lost: Arc<std::sync::atomic::AtomicBool>,
}

impl<S: Store> Store for LostAnswerStore<S> {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        self.inner.put(item, condition).await
    }
    async fn update(
        &self,
        key: &Key,
        actions: Vec<UpdateAction>,
        condition: Option<Condition>,
        return_values: ReturnValues,
    ) -> Result<Option<Item>, StoreError> {
        let answer = self
            .inner
            .update(key, actions, condition, return_values)
            .await;
        if self.lost.swap(false, std::sync::atomic::Ordering::SeqCst) {
            drop(answer);
            return Err(StoreError::Backend {
                operation: "UpdateItem",
                message: "the answer was lost".into(),
            });
        }
        answer
    }
    async fn delete(
        &self,
        key: &Key,
        condition: Option<Condition>,
    ) -> Result<Option<Item>, StoreError> {
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        self.inner.transact(ops).await
    }
}

/// Found by the chaos run (docs/performance.md, "Chaos runs"): a claim applied but answered
/// with a failure (its answer lost, every retry failed) held the page for nobody; each
/// redelivery found it "in flight" until it went stale after 5 minutes, and a page whose claim
/// was made on a late receive reached the dead-letter queue first. Now the claimer releases
/// it by its token, so the next delivery claims it at once; a claim it never made (someone
/// else's) is left alone.
async fn a_claim_whose_write_was_applied_but_failed_is_released_for_the_next_sender<
    S: Store + Clone,
>(
    f: Fixture<S>,
) {
    let id = incident_id("inc1");
    new_incident(&f, "g", "inc1", 1).await;
    let request = PageRequest {
        incident: id.clone(),
        policy: PolicyId::new("infra").unwrap(),
        round: 0,
        tier: 0,
        targets: vec![Target::User(alice())],
        urgency: Urgency::High,
        resolve_at: f.now(),
        cycle: 0,
        responders: None,
        quiet_hours: false,
    };
    let email = Delivery::page(&request, &alice(), Channel::Email);
    let stale = HumanDuration::from_mins(5);
    let lost = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let losing = Repository::new(
        LostAnswerStore {
            inner: f.store.clone(),
            lost: Arc::clone(&lost),
        },
        f.clock.clone(),
        source(),
    );
    let failed = losing.claim_delivery(&email, stale).await;
    assert!(
        matches!(failed, Err(RepoError::Store(ref error)) if error.is_transient()),
        "{failed:?}"
    );
    // The redelivery, at once (the clock has not moved): it is this sender's to send.
    assert_eq!(
        f.repo.claim_delivery(&email, stale).await.unwrap(),
        Claim::Claimed { attempt: 2 }
    );
    // A claim refused (that sender holds it) and answered with a failure releases nothing:
    // the release is conditioned on the failed call's own token.
    lost.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(losing.claim_delivery(&email, stale).await.is_err());
    assert_eq!(
        f.repo.claim_delivery(&email, stale).await.unwrap(),
        Claim::InFlight
    );
}
