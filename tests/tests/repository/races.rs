//! Races injected between a read and the transaction that depends on it.

use super::*;

repository!(
    an_incident_resolved_while_linking_gets_a_successor,
    an_alert_linking_while_the_last_one_resolves_keeps_the_incident_open,
);

type Hook = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A store that runs a hook (another writer) right before its first transaction: the caller
/// has read what it decides on, and the transaction must see the change.
#[derive(Clone)]
struct RacingStore<S> {
    inner: S,
    hook: Arc<Mutex<Option<Hook>>>,
}

impl<S: Store> Store for RacingStore<S> {
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
        self.inner
            .update(key, actions, condition, return_values)
            .await
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
        let hook = self.hook.lock().unwrap().take();
        if let Some(hook) = hook {
            hook().await;
        }
        self.inner.transact(ops).await
    }
}

fn racing<S: Store + Clone>(f: &Fixture<S>, hook: Hook) -> Repository<RacingStore<S>> {
    let store = RacingStore {
        inner: f.store.clone(),
        hook: Arc::new(Mutex::new(Some(hook))),
    };
    Repository::new(store, f.clock.clone(), source())
}

async fn an_incident_resolved_while_linking_gets_a_successor<S: Store + Clone + 'static>(
    f: Fixture<S>,
) {
    new_incident(&f, "g", "inc1", 1).await;
    let other = f.repo.clone();
    let now = f.now();
    // Someone resolves inc1 after the linker read it open, before its link transaction.
    let repo = racing(
        &f,
        Box::new(move || {
            Box::pin(async move {
                let stored = other.incident(&incident_id("inc1")).await.unwrap().unwrap();
                let mut incident = stored.incident;
                incident.resolve(Actor::user(alice()), now).unwrap();
                other
                    .save_incident(&incident, stored.version, &[])
                    .await
                    .unwrap();
            })
        }),
    );
    let a = alert("d2", Severity::Warning, now);
    let linked = repo
        .find_or_create_incident(&group("g"), WINDOW, &alert_id(2), &a, &incident_id("inc2"))
        .await
        .unwrap();
    assert!(
        linked.created,
        "the link to the resolved incident was refused"
    );
    assert_eq!(linked.incident.incident.id(), &incident_id("inc2"));
    let old = f
        .repo
        .incident(&incident_id("inc1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.incident.status(), IncidentStatus::Resolved);
    assert_eq!(
        old.incident.alerts().linked,
        1,
        "the refused link left no count behind"
    );
    assert_eq!(
        f.repo
            .incident_alerts(&incident_id("inc1"))
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn an_alert_linking_while_the_last_one_resolves_keeps_the_incident_open<
    S: Store + Clone + 'static,
>(
    f: Fixture<S>,
) {
    let id = incident_id("inc1");
    new_incident(&f, "g", "inc1", 1).await;
    let other = f.repo.clone();
    let now = f.now();
    // A second alert links after the resolver read "one open alert", before its transaction.
    let repo = racing(
        &f,
        Box::new(move || {
            Box::pin(async move {
                let a = alert("d2", Severity::Warning, now);
                let linked = other
                    .find_or_create_incident(
                        &group("g"),
                        WINDOW,
                        &alert_id(2),
                        &a,
                        &incident_id("x"),
                    )
                    .await
                    .unwrap();
                assert!(linked.newly_linked && !linked.created);
            })
        }),
    );
    let outcome = repo
        .alert_resolved(
            &id,
            &alert_id(1),
            prom(),
            AutoResolve::WhenAllAlertsResolve,
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        outcome.incident.incident.status(),
        IncidentStatus::Triggered
    );
    assert_eq!(outcome.effects.len(), 1, "only the alert.resolved entry");
    let stored = f.repo.incident(&id).await.unwrap().unwrap();
    assert_eq!(stored.incident.status(), IncidentStatus::Triggered);
    assert_eq!(
        (
            stored.incident.alerts().linked,
            stored.incident.alerts().open
        ),
        (2, 1)
    );
    assert_eq!(stored.version, 1);
    // The second alert resolving now closes it.
    let last = f
        .repo
        .alert_resolved(
            &id,
            &alert_id(2),
            prom(),
            AutoResolve::WhenAllAlertsResolve,
            now,
        )
        .await
        .unwrap();
    assert_eq!(last.incident.incident.status(), IncidentStatus::Resolved);
}
