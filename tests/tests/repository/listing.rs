//! The console's time-ranged incident listings: a creation-time range becomes a sort-key
//! range on an index (`gsi1` `OPEN_INCIDENTS` by creation time, `gsi2` `INCIDENTS` by number
//! found by binary search), read page by page with keyset cursors.

use super::*;

repository!(
    a_creation_time_range_lists_exactly_the_incidents_created_in_it,
    a_range_with_no_incident_in_it_is_empty,
);

/// Ten incidents, one a minute, `inc0` … `inc9`; returns their creation times.
async fn ten_incidents<S: Store>(f: &Fixture<S>) -> Vec<Instant> {
    let mut created = Vec::new();
    for i in 0..10 {
        created.push(f.now());
        new_incident(f, &format!("g{i}"), &format!("inc{i}"), i).await;
        f.advance(60);
    }
    created
}

fn ids(items: &[StoredIncident]) -> Vec<String> {
    items.iter().map(|s| s.incident.id().to_string()).collect()
}

async fn a_creation_time_range_lists_exactly_the_incidents_created_in_it<S: Store>(f: Fixture<S>) {
    let created = ten_incidents(&f).await;
    let (from, to) = (created[3], created[7]);
    // Every incident: newest first, by number, within the numbers created in [from, to).
    let numbers = f
        .repo
        .incident_numbers_created(Some(from), Some(to))
        .await
        .unwrap()
        .expect("incidents in the range");
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = f
            .repo
            .recent_incidents_numbered(numbers.clone(), cursor, 3)
            .await
            .unwrap();
        assert!(page.items.len() <= 3);
        listed.extend(ids(&page.items));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(listed, ["inc6", "inc5", "inc4", "inc3"]);
    // Open incidents: oldest first, by creation time.
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = f
            .repo
            .open_incidents_created(Some(from), Some(to), cursor, 3)
            .await
            .unwrap();
        listed.extend(ids(&page.items));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(listed, ["inc3", "inc4", "inc5", "inc6"]);
    // One bound only.
    let before = f
        .repo
        .open_incidents_created(None, Some(created[2]), None, 50);
    assert_eq!(ids(&before.await.unwrap().items), ["inc0", "inc1"]);
    let since = f
        .repo
        .incident_numbers_created(Some(created[8]), None)
        .await
        .unwrap()
        .unwrap();
    let page = f.repo.recent_incidents_numbered(since, None, 50).await;
    assert_eq!(ids(&page.unwrap().items), ["inc9", "inc8"]);
    let until = f
        .repo
        .incident_numbers_created(None, Some(created[1]))
        .await
        .unwrap()
        .unwrap();
    let page = f.repo.recent_incidents_numbered(until, None, 50).await;
    assert_eq!(ids(&page.unwrap().items), ["inc0"]);
}

async fn a_range_with_no_incident_in_it_is_empty<S: Store>(f: Fixture<S>) {
    assert_eq!(
        f.repo.incident_numbers_created(None, None).await.unwrap(),
        None,
        "no incidents at all"
    );
    let created = ten_incidents(&f).await;
    let after_all = created[9] + Duration::minutes(5);
    let none = f
        .repo
        .incident_numbers_created(Some(after_all), None)
        .await
        .unwrap();
    assert_eq!(none, None, "nothing created after the last one");
    let before_all = created[0] - Duration::minutes(5);
    let none = f
        .repo
        .incident_numbers_created(None, Some(before_all))
        .await
        .unwrap();
    assert_eq!(none, None, "nothing created before the first one");
    // Between two incidents' creation times.
    let gap = created[4] + Duration::seconds(10);
    let none = f
        .repo
        .incident_numbers_created(Some(gap), Some(gap + Duration::seconds(20)))
        .await
        .unwrap();
    assert_eq!(none, None, "nothing created in the gap");
    let open = f
        .repo
        .open_incidents_created(Some(gap), Some(gap + Duration::seconds(20)), None, 10)
        .await
        .unwrap();
    assert!(open.items.is_empty() && open.next.is_none());
}
