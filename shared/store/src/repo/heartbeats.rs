//! Heartbeat state: one item per heartbeat (`HEARTBEAT#<name>`, `HEARTBEAT_STATE`), written only by a
//! ping or an expiry, each conditional on the version it read (optimistic locking), so two
//! racing pings or a ping racing its timer never both win. No item means the heartbeat never
//! pinged: inactive.

use super::codec::{from_item, to_item};
use super::schema;
use super::{RepoError, Repository};
use crate::{Condition, Store, StoreError};
use klaxon_domain::heartbeat::{HeartbeatName, HeartbeatState};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct HeartbeatItem {
    pk: String,
    sk: String,
    heartbeat: HeartbeatName,
    #[serde(flatten)]
    state: HeartbeatState,
}

impl<S: Store> Repository<S> {
    /// The stored state of heartbeat `name` (`None`: never pinged).
    pub async fn heartbeat_state(
        &self,
        name: &HeartbeatName,
    ) -> Result<Option<HeartbeatState>, RepoError> {
        let Some(item) = self
            .store
            .get(&schema::heartbeat_key(name.as_str()))
            .await?
        else {
            return Ok(None);
        };
        let item: HeartbeatItem = from_item(item)?;
        Ok(Some(item.state))
    }

    /// Stores `state` for heartbeat `name` if the stored version is still `read` (`None`: no
    /// item yet). A lost race is [`RepoError::Conflict`]: read again and retry.
    pub async fn save_heartbeat_state(
        &self,
        name: &HeartbeatName,
        state: &HeartbeatState,
        read: Option<u64>,
    ) -> Result<(), RepoError> {
        let key = schema::heartbeat_key(name.as_str());
        let item = HeartbeatItem {
            pk: key.pk,
            sk: key.sk,
            heartbeat: name.clone(),
            state: state.clone(),
        };
        let condition = match read {
            Some(version) => Condition::VersionEquals(version),
            None => Condition::NotExists,
        };
        match self.store.put(to_item(&item)?, Some(condition)).await {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { .. }) => {
                Err(RepoError::conflict("heartbeat", name.as_str()))
            }
            Err(other) => Err(other.into()),
        }
    }
}
