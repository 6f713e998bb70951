//! Chaos end to end in local mode: the cloud chaos run's scenario (tests/tests/chaos.rs) on the
//! adapters `klaxon serve` runs, the SQLite store, queue and timers, each wrapped so that a
//! share of their calls fails as SQLite fails (busy, I/O error, a crash between commit and
//! answer), a share of handled messages handled again (a crash before the ack), dead letters
//! redriven at the end. `KLAXON_CHAOS_INCIDENTS`, `_GROUPS`, `_FAULT_RATE` and `_SEED` size it
//! as they do the cloud run (the seed is printed first).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "chaos_local/faulty.rs"]
mod faulty;
#[path = "chaos_local/regressions.rs"]
mod regressions;
#[path = "chaos_local/run.rs"]
mod run;

use run::{Size, run};

/// N incidents across G groups with P% of the local adapters' calls failing: nothing accepted
/// is lost, nothing is paged twice, nothing acknowledged is paged again.
#[tokio::test]
async fn local_chaos_run() {
    let report = run(Size::from_env()).await;
    assert!(report.incidents > 0);
    if report.size.fault_rate > 0.0 {
        assert!(
            report.faults.values().sum::<u64>() > 0,
            "faults were injected"
        );
    }
}
