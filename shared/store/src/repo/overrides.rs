//! Schedule overrides (runtime data): stored under the schedule's partition sorted by end time,
//! so a range read skips every override that ended before it, with a small id entry that finds
//! an override by id (and keeps ids unique per schedule).

use super::codec::{from_item, to_item};
use super::schema::{self, OVERRIDE, sort_time};
use super::{RepoError, Repository};
use crate::{CancelReason, Condition, Key, Query, SortCondition, Store, StoreError, TransactOp};
use klaxon_domain::Instant;
use klaxon_domain::ids::{ScheduleId, UserId};
use klaxon_domain::schedule::Override;
use klaxon_domain::timeline::Actor;
use serde::{Deserialize, Serialize};

/// The longest override id.
const MAX_OVERRIDE_ID_LEN: usize = 64;

#[derive(Serialize, Deserialize)]
struct OverrideItem {
    pk: String,
    sk: String,
    id: String,
    schedule: ScheduleId,
    user: UserId,
    start: Instant,
    end: Instant,
    /// Sortable creation time (ties between overrides starting together go to the newest).
    created_at: String,
    created_by: Actor,
}

#[derive(Serialize, Deserialize)]
struct OverrideIdItem {
    pk: String,
    sk: String,
    /// The sort key of the override item.
    target: String,
}

fn partition(schedule: &ScheduleId) -> String {
    schema::schedule_partition(schedule.as_str())
}

fn id_key(schedule: &ScheduleId, id: &str) -> Key {
    schema::override_id_key(schedule.as_str(), id)
}

fn check_id(id: &str) -> Result<(), RepoError> {
    let valid = !id.is_empty()
        && id.len() <= MAX_OVERRIDE_ID_LEN
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(RepoError::invalid(
            "override.id",
            "must be 1 to 64 characters of letters, digits, '-' and '_'",
        ));
    }
    Ok(())
}

impl<S: Store> Repository<S> {
    /// Stores an override. [`RepoError::AlreadyExists`] when its schedule already has one with
    /// this id; [`RepoError::Invalid`] when it does not end after it starts.
    pub async fn create_override(
        &self,
        override_: &Override,
        created_by: &Actor,
    ) -> Result<(), RepoError> {
        check_id(&override_.id)?;
        if override_.end <= override_.start {
            return Err(RepoError::invalid(
                "override.end",
                "must be after its start",
            ));
        }
        let pk = partition(&override_.schedule);
        let sk = schema::override_sort(override_.end, &override_.id);
        let id_key = id_key(&override_.schedule, &override_.id);
        let ops = vec![
            TransactOp::Put {
                item: to_item(&OverrideIdItem {
                    pk: id_key.pk,
                    sk: id_key.sk,
                    target: sk.clone(),
                })?,
                condition: Some(Condition::NotExists),
            },
            TransactOp::Put {
                item: to_item(&OverrideItem {
                    pk,
                    sk,
                    id: override_.id.clone(),
                    schedule: override_.schedule.clone(),
                    user: override_.user.clone(),
                    start: override_.start,
                    end: override_.end,
                    created_at: sort_time(self.now()),
                    created_by: created_by.clone(),
                })?,
                condition: Some(Condition::NotExists),
            },
        ];
        match self.store.transact(ops).await {
            Ok(()) => Ok(()),
            Err(StoreError::TransactionCancelled { reasons })
                if reasons
                    .iter()
                    .any(|r| matches!(r, CancelReason::ConditionFailed { .. })) =>
            {
                Err(RepoError::AlreadyExists {
                    entity: "override",
                    id: format!("{}/{}", override_.schedule, override_.id),
                })
            }
            Err(other) => Err(other.into()),
        }
    }

    /// The overrides of `schedule` in force at some instant of `[from, to)`, ordered by start,
    /// and among equal starts by creation (oldest first), which is the order
    /// `Schedule::on_call_at` expects (the last of equal starts wins).
    pub async fn overrides(
        &self,
        schedule: &ScheduleId,
        from: Instant,
        to: Instant,
    ) -> Result<Vec<Override>, RepoError> {
        if to <= from {
            return Ok(Vec::new());
        }
        // Sort keys are `OVERRIDE#<end>#<id>`: from the first one ending after `from` ('~'
        // sorts after every id character) to the end of the OVERRIDE# range.
        let query = Query::table(partition(schedule)).sort(SortCondition::Between {
            low: format!("{OVERRIDE}{}#~", sort_time(from)),
            high: format!("{OVERRIDE}~"),
        });
        let page = self.store.query(&query).await?;
        let mut found = Vec::new();
        for item in page.items {
            let stored: OverrideItem = from_item(item)?;
            if stored.start < to && stored.end > from {
                found.push(stored);
            }
        }
        found.sort_by(|a, b| (a.start, &a.created_at, &a.id).cmp(&(b.start, &b.created_at, &b.id)));
        Ok(found
            .into_iter()
            .map(|stored| Override {
                id: stored.id,
                schedule: stored.schedule,
                user: stored.user,
                start: stored.start,
                end: stored.end,
            })
            .collect())
    }

    /// Deletes an override; `false` when the schedule has none with this id.
    pub async fn delete_override(
        &self,
        schedule: &ScheduleId,
        id: &str,
    ) -> Result<bool, RepoError> {
        check_id(id)?;
        let id_key = id_key(schedule, id);
        let Some(item) = self.store.get(&id_key).await? else {
            return Ok(false);
        };
        let entry: OverrideIdItem = from_item(item)?;
        let ops = vec![
            TransactOp::Delete {
                key: id_key,
                condition: Some(Condition::Exists),
            },
            TransactOp::Delete {
                key: Key::new(partition(schedule), entry.target),
                condition: None,
            },
        ];
        match self.store.transact(ops).await {
            Ok(()) => Ok(true),
            // Deleted by someone else in between.
            Err(StoreError::TransactionCancelled { reasons })
                if matches!(reasons.first(), Some(CancelReason::ConditionFailed { .. })) =>
            {
                Ok(false)
            }
            Err(other) => Err(other.into()),
        }
    }
}
