//! Fault-injecting wrappers over the local adapters (the SQLite store, queue and timers): each
//! call fails, at the plan's rate, the way SQLite fails under a `klaxon serve`:
//!
//! - **busy**: `database is locked` (SQLITE_BUSY after the 5-second busy timeout): nothing
//!   written;
//! - **I/O error**: `disk I/O error` (SQLITE_IOERR): nothing written;
//! - **crash between commit and answer**: the write is committed, then the caller gets no
//!   answer. In a process that dies there, the message being handled is handed out again at the
//!   next start and the HTTP client sees its connection drop and retries; here the caller gets
//!   an error at that point, which has exactly those consequences (the use case stops where
//!   the crash would have stopped it, the message is retried, the request is answered 5xx).

use chrono::{DateTime, Utc};
use klaxon_app::messages::QueueMessage;
use klaxon_app::ports::{Queue, QueueError, TimerError, Timers};
use klaxon_domain::escalation::{TimerName, TimerPayload};
use klaxon_store::{
    Condition, Item, Key, Page, Query, ReturnValues, Store, StoreError, TransactOp, UpdateAction,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One kind of local fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LocalFault {
    /// SQLITE_BUSY: nothing written.
    Busy,
    /// SQLITE_IOERR: nothing written.
    Io,
    /// Committed, then no answer.
    CrashAfterCommit,
}

impl LocalFault {
    fn message(self) -> &'static str {
        match self {
            LocalFault::Busy => "database is locked",
            LocalFault::Io => "disk I/O error",
            LocalFault::CrashAfterCommit => "the process died between commit and answer",
        }
    }
}

/// The plan: a rate, a seeded choice of kind, and counts of what was injected.
#[derive(Debug)]
pub struct LocalFaults {
    rate: f64,
    rng: Mutex<StdRng>,
    enabled: AtomicBool,
    calls: Mutex<BTreeMap<String, u64>>,
    injected: Mutex<BTreeMap<(String, LocalFault), u64>>,
    /// Faults for the next calls of one kind (`store:transact`), before the random ones.
    scripted: Mutex<Vec<(String, LocalFault)>>,
}

impl LocalFaults {
    /// `rate` of every call fails, seeded by `seed`.
    pub fn new(rate: f64, seed: u64) -> Arc<Self> {
        Arc::new(Self {
            rate,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            enabled: AtomicBool::new(true),
            calls: Mutex::default(),
            injected: Mutex::default(),
            scripted: Mutex::default(),
        })
    }

    /// Fails the next `count` calls of `what` (`store:transact`, `queue:send`) with `kind`.
    pub fn fail_next(&self, what: &str, kind: LocalFault, count: usize) {
        let mut scripted = self.scripted.lock().unwrap();
        scripted.extend(std::iter::repeat_n((what.to_owned(), kind), count));
    }

    /// No more faults (the weather clears).
    pub fn heal(&self) {
        self.enabled.store(false, Ordering::SeqCst);
    }

    /// Drops the scripted faults not used yet.
    pub fn clear_script(&self) {
        self.scripted.lock().unwrap().clear();
    }

    /// The fault for one call of `what` (`store:update`, `queue:send`), if any; `write` says
    /// whether a crash after commit applies.
    fn pick(&self, what: &str, write: bool) -> Option<LocalFault> {
        *self
            .calls
            .lock()
            .unwrap()
            .entry(what.to_owned())
            .or_default() += 1;
        let kind = {
            let mut scripted = self.scripted.lock().unwrap();
            match scripted.iter().position(|(w, _)| w == what) {
                Some(at) => scripted.remove(at).1,
                None => {
                    if !self.enabled.load(Ordering::SeqCst) {
                        return None;
                    }
                    let mut rng = self.rng.lock().unwrap();
                    if !rng.random_bool(self.rate) {
                        return None;
                    }
                    let kinds: &[LocalFault] = if write {
                        &[
                            LocalFault::Busy,
                            LocalFault::Io,
                            LocalFault::CrashAfterCommit,
                        ]
                    } else {
                        &[LocalFault::Busy, LocalFault::Io]
                    };
                    kinds[rng.random_range(0..kinds.len())]
                }
            }
        };
        *self
            .injected
            .lock()
            .unwrap()
            .entry((what.to_owned(), kind))
            .or_default() += 1;
        Some(kind)
    }

    /// Calls seen.
    pub fn calls(&self) -> u64 {
        self.calls.lock().unwrap().values().sum()
    }

    /// Faults injected by kind.
    pub fn by_kind(&self) -> BTreeMap<LocalFault, u64> {
        let mut kinds = BTreeMap::new();
        for ((_, kind), n) in self.injected.lock().unwrap().iter() {
            *kinds.entry(*kind).or_default() += n;
        }
        kinds
    }
}

fn store_error(operation: &'static str, fault: LocalFault) -> StoreError {
    StoreError::Backend {
        operation,
        message: fault.message().to_owned(),
    }
}

/// The store port with faults.
#[derive(Clone)]
pub struct FaultyStore<S> {
    inner: S,
    faults: Arc<LocalFaults>,
}

impl<S> FaultyStore<S> {
    /// `inner` with `faults`.
    pub fn new(inner: S, faults: Arc<LocalFaults>) -> Self {
        Self { inner, faults }
    }
}

impl<S: Store> FaultyStore<S> {
    /// Runs a write with the plan's fault: before it (nothing written) or after its commit.
    async fn write<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match self.faults.pick(&format!("store:{operation}"), true) {
            None => call.await,
            Some(LocalFault::CrashAfterCommit) => {
                call.await?;
                Err(store_error(operation, LocalFault::CrashAfterCommit))
            }
            Some(fault) => Err(store_error(operation, fault)),
        }
    }

    async fn read<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match self.faults.pick(&format!("store:{operation}"), false) {
            None => call.await,
            Some(fault) => Err(store_error(operation, fault)),
        }
    }
}

impl<S: Store> Store for FaultyStore<S> {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.read("get", self.inner.get(key)).await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        self.write("put", self.inner.put(item, condition)).await
    }

    async fn update(
        &self,
        key: &Key,
        actions: Vec<UpdateAction>,
        condition: Option<Condition>,
        return_values: ReturnValues,
    ) -> Result<Option<Item>, StoreError> {
        self.write(
            "update",
            self.inner.update(key, actions, condition, return_values),
        )
        .await
    }

    async fn delete(
        &self,
        key: &Key,
        condition: Option<Condition>,
    ) -> Result<Option<Item>, StoreError> {
        self.write("delete", self.inner.delete(key, condition))
            .await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.read("query", self.inner.query(query)).await
    }

    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        self.write("transact", self.inner.transact(ops)).await
    }
}

/// The queue port (sending side) with faults.
#[derive(Clone)]
pub struct FaultyQueue<Q> {
    inner: Q,
    faults: Arc<LocalFaults>,
}

impl<Q> FaultyQueue<Q> {
    /// `inner` with `faults`.
    pub fn new(inner: Q, faults: Arc<LocalFaults>) -> Self {
        Self { inner, faults }
    }
}

impl<Q: Queue> Queue for FaultyQueue<Q> {
    async fn send(&self, message: &QueueMessage) -> Result<(), QueueError> {
        let queue = message.queue().as_str();
        let error = |fault: LocalFault| QueueError {
            queue,
            message: fault.message().to_owned(),
        };
        match self.faults.pick("queue:send", true) {
            None => self.inner.send(message).await,
            Some(LocalFault::CrashAfterCommit) => {
                self.inner.send(message).await?;
                Err(error(LocalFault::CrashAfterCommit))
            }
            Some(fault) => Err(error(fault)),
        }
    }
}

/// The timers port with faults.
#[derive(Clone)]
pub struct FaultyTimers<T> {
    inner: T,
    faults: Arc<LocalFaults>,
}

impl<T> FaultyTimers<T> {
    /// `inner` with `faults`.
    pub fn new(inner: T, faults: Arc<LocalFaults>) -> Self {
        Self { inner, faults }
    }
}

impl<T: Timers> Timers for FaultyTimers<T> {
    async fn arm(
        &self,
        name: &TimerName,
        due: DateTime<Utc>,
        payload: &TimerPayload,
    ) -> Result<(), TimerError> {
        let error = |fault: LocalFault| TimerError {
            name: name.as_str().to_owned(),
            message: fault.message().to_owned(),
        };
        match self.faults.pick("timers:arm", true) {
            None => self.inner.arm(name, due, payload).await,
            Some(LocalFault::CrashAfterCommit) => {
                self.inner.arm(name, due, payload).await?;
                Err(error(LocalFault::CrashAfterCommit))
            }
            Some(fault) => Err(error(fault)),
        }
    }

    async fn arm_heartbeat(
        &self,
        name: &TimerName,
        due: DateTime<Utc>,
        payload: &klaxon_domain::heartbeat::HeartbeatTimer,
    ) -> Result<(), TimerError> {
        let error = |fault: LocalFault| TimerError {
            name: name.as_str().to_owned(),
            message: fault.message().to_owned(),
        };
        match self.faults.pick("timers:arm", true) {
            None => self.inner.arm_heartbeat(name, due, payload).await,
            Some(LocalFault::CrashAfterCommit) => {
                self.inner.arm_heartbeat(name, due, payload).await?;
                Err(error(LocalFault::CrashAfterCommit))
            }
            Some(fault) => Err(error(fault)),
        }
    }

    async fn cancel(&self, name: &TimerName) -> Result<(), TimerError> {
        let error = |fault: LocalFault| TimerError {
            name: name.as_str().to_owned(),
            message: fault.message().to_owned(),
        };
        match self.faults.pick("timers:cancel", true) {
            None => self.inner.cancel(name).await,
            Some(LocalFault::CrashAfterCommit) => {
                self.inner.cancel(name).await?;
                Err(error(LocalFault::CrashAfterCommit))
            }
            Some(fault) => Err(error(fault)),
        }
    }
}
