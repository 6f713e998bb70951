//! Chaos end to end against moto, through a fault-injecting proxy (`klaxon_tests::faults`):
//! the pipeline's Lambda handlers, built from exactly the environment template.yaml gives each
//! function, make every AWS call through mitmproxy, which fails a share of them (throttling,
//! 5xx, transaction conflicts, resets before and after the request was applied, answers held
//! past the SDK's timeout); Lambda's event source mapping and EventBridge Scheduler are played
//! as they misbehave (duplicates, reordering, undeleted messages, failed batch items shown
//! again after the functions' retry backoff on the injected clock, dead-letter queues after
//! the template's `maxReceiveCount`, timers fired twice or late).
//!
//! The default run is small. The full-size run (docs/design.md, "Failure model"):
//!
//! ```sh
//! KLAXON_CHAOS_INCIDENTS=1000 KLAXON_CHAOS_GROUPS=50 KLAXON_CHAOS_FAULT_RATE=0.2 \
//!   nice -n 10 cargo nextest run -p klaxon-tests --test chaos --no-capture -E 'test(chaos_run)'
//! ```
//!
//! `KLAXON_CHAOS_SEED` replays a run (the seed is printed first).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "chaos/check.rs"]
mod check;
#[path = "chaos/deploy.rs"]
mod deploy;
#[path = "chaos/lambda.rs"]
mod lambda;
#[path = "chaos/proxy.rs"]
mod proxy;
#[path = "chaos/regressions.rs"]
mod regressions;
#[path = "chaos/run.rs"]
mod run;

use run::{Size, run};

/// N incidents across G groups with P% of the handlers' AWS calls failing: nothing accepted is
/// lost, nothing is paged twice but for the extra copy of a send applied but unanswered (each
/// matched to such a send), nothing acknowledged is paged again, every dead letter is redriven
/// and finishes.
#[tokio::test]
async fn chaos_run() {
    let report = run(Size::from_env()).await;
    assert!(report.incidents > 0);
    if report.size.fault_rate > 0.0 {
        assert!(report.faults.faults() > 0, "the proxy injected faults");
    }
}
