//! The web console over HTTP against a `klaxon serve` runtime in this process: sign-in by
//! email link (single use, same answer for unknown addresses, rate-limited), the session
//! cookie's flags, sign-out, CSRF on every state-changing form (the role × route matrix is
//! `console_roles.rs`), the strict headers on every HTML answer, the embedded assets, and acknowledging from the
//! incident page.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use klaxon_domain::incident::IncidentStatus;
use klaxon_tests::console::{ConsoleWorld, Session, eventually, form_value, location, session_of};
use std::time::Duration;

const CSP_PARTS: [&str; 5] = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
];

fn assert_strict_headers(response: &reqwest::Response, what: &str) {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name} header"))
            .to_owned()
    };
    let csp = header("content-security-policy");
    for part in CSP_PARTS {
        assert!(csp.contains(part), "{what}: CSP {csp:?} lacks {part:?}");
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
}

async fn csrf_of(world: &ConsoleWorld, path: &str, session: &Session) -> String {
    let page = world.get(path, Some(session)).await.text().await.unwrap();
    form_value(&page, "csrf").expect("the page has a CSRF field")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_link_works_once_and_sign_out_ends_the_session() {
    let world = ConsoleWorld::start().await;
    let anonymous = world.get("/console/incidents", None).await;
    assert_eq!(anonymous.status(), 303);
    assert_eq!(location(&anonymous), "/console/signin");

    let link = world.request_link("Alice@Example.com").await;
    assert!(
        link.starts_with(&world.url("/console/signin/link?t=")),
        "{link}"
    );
    // Opening the link changes nothing: it shows a button.
    let page = world.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_strict_headers(&page, "sign-in confirmation");
    let page = world.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200, "a prefetch does not use the link up");

    let signed_in = world.use_link(&link).await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(location(&signed_in), "/console/incidents");
    let session = session_of(signed_in.headers()).unwrap();
    let flags = &session.set_cookie;
    assert!(flags.starts_with("klaxon_session="), "{flags}");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
        assert!(flags.contains(flag), "{flag} missing in {flags}");
    }
    assert!(!flags.contains("Secure"), "plain http on loopback: {flags}");

    let incidents = world.get("/console/incidents", Some(&session)).await;
    assert_eq!(incidents.status(), 200);
    let html = incidents.text().await.unwrap();
    assert!(
        html.contains("Alice Responder"),
        "the header names who is signed in"
    );

    let replay = world.use_link(&link).await;
    assert_eq!(replay.status(), 403, "a used link fails");
    assert!(session_of(replay.headers()).is_none());
    let mut altered = link.clone();
    altered.push('x');
    assert_eq!(
        world.use_link(&altered).await.status(),
        403,
        "an altered link fails"
    );

    let csrf = csrf_of(&world, "/console/incidents", &session).await;
    let out = world
        .post_form("/console/signout", Some(&session), &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status(), 200);
    let cleared = out.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let after = world.get("/console/incidents", Some(&session)).await;
    assert_eq!(after.status(), 303, "the old cookie no longer works");
    world.runtime.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_addresses_get_the_same_answer_and_requests_are_rate_limited() {
    let world = ConsoleWorld::start().await;
    let known = world
        .post_form("/console/signin", None, &[("email", "alice@example.com")])
        .await;
    let unknown = world
        .post_form("/console/signin", None, &[("email", "mallory@example.com")])
        .await;
    assert_eq!(known.status(), 200);
    assert_eq!(unknown.status(), 200);
    let known = known.text().await.unwrap();
    let unknown = unknown.text().await.unwrap();
    assert_eq!(
        known.replace("alice@example.com", "X"),
        unknown.replace("mallory@example.com", "X"),
        "the answer does not tell whether the address is a user's"
    );
    assert_eq!(world.signin_emails("alice@example.com").len(), 1);
    assert!(world.signin_emails("mallory@example.com").is_empty());

    // Five requests per address per window; the sixth is refused for both alike.
    for address in ["alice@example.com", "mallory@example.com"] {
        for _ in 0..4 {
            let ok = world
                .post_form("/console/signin", None, &[("email", address)])
                .await;
            assert_eq!(ok.status(), 200);
        }
        let limited = world
            .post_form("/console/signin", None, &[("email", address)])
            .await;
        assert_eq!(limited.status(), 429, "{address}");
        assert_strict_headers(&limited, "rate limited");
    }
    assert_eq!(world.signin_emails("alice@example.com").len(), 5);
    let bad = world
        .post_form("/console/signin", None, &[("email", "not an address")])
        .await;
    assert_eq!(bad.status(), 400);
    world.runtime.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_wrong_csrf_token_is_refused_and_changes_nothing() {
    let world = ConsoleWorld::start().await;
    let incident = world.open_incident("csrf-check").await;
    let id = incident.incident.id().to_string();
    let alice = world.sign_in("alice@example.com").await;
    let path = format!("/console/incidents/{id}/acknowledge");
    for form in [vec![], vec![("csrf", "wrong")], vec![("csrf", "")]] {
        let refused = world.post_form(&path, Some(&alice), &form).await;
        assert_eq!(refused.status(), 403, "{form:?}");
        assert_strict_headers(&refused, "CSRF refusal");
    }
    let resolve = format!("/console/incidents/{id}/resolve");
    assert_eq!(
        world.post_form(&resolve, Some(&alice), &[]).await.status(),
        403
    );
    let signout = world.post_form("/console/signout", Some(&alice), &[]).await;
    assert_eq!(signout.status(), 403);
    let stored = world
        .runtime
        .repository()
        .incident(incident.incident.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.incident.status(),
        IncidentStatus::Triggered,
        "nothing changed"
    );
    assert_eq!(
        world.get("/console/incidents", Some(&alice)).await.status(),
        200,
        "the session survived the refused sign-out"
    );
    // Another session's token is no good either.
    let other = world.sign_in("ann@example.com").await;
    let foreign = csrf_of(&world, "/console/incidents", &other).await;
    let refused = world
        .post_form(&path, Some(&alice), &[("csrf", &foreign)])
        .await;
    assert_eq!(refused.status(), 403);
    world.runtime.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledging_in_the_console_is_on_the_timeline_and_stops_the_pages() {
    let world = ConsoleWorld::start().await;
    let incident = world.open_incident("disk-full").await;
    let id = incident.incident.id().to_string();
    eventually("the first page", async || {
        (!world.pages_to("alice@example.com").is_empty()).then_some(())
    })
    .await;
    let alice = world.sign_in("alice@example.com").await;
    let path = format!("/console/incidents/{id}");
    let html = world.get(&path, Some(&alice)).await.text().await.unwrap();
    for shown in [
        "disk-full is on fire",
        "service",
        "checkout",
        "runbook",
        "Dashboard",
        "alice",
    ] {
        assert!(html.contains(shown), "the incident page shows {shown:?}");
    }
    let csrf = form_value(&html, "csrf").unwrap();
    let done = world
        .post_form(
            &format!("{path}/acknowledge"),
            Some(&alice),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(done.status(), 303);
    let pages_at_ack = world.pages_to("alice@example.com").len();

    let html = world
        .get(&format!("{path}?fragment=1"), Some(&alice))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("incident.acknowledged</strong> by user:alice"),
        "{html}"
    );
    assert!(
        html.contains("via /klaxon/console"),
        "the timeline names the console"
    );
    assert!(!html.contains("<html"), "a fragment is only the region");
    // The tier repeats every 2 s unacknowledged: wait three times that.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        world.pages_to("alice@example.com").len(),
        pages_at_ack,
        "no page after the acknowledgement"
    );
    world.runtime.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_and_every_html_answer_has_the_strict_headers() {
    let world = ConsoleWorld::start().await;
    world.open_incident("checkout-latency").await;
    let alice = world.sign_in("alice@example.com").await;
    let list = async |query: &str| {
        world
            .get(&format!("/console/incidents?{query}"), Some(&alice))
            .await
            .text()
            .await
            .unwrap()
    };
    assert!(list("").await.contains("checkout-latency is on fire"));
    assert!(
        list("q=CHECKOUT-lat")
            .await
            .contains("checkout-latency is on fire")
    );
    assert!(!list("q=nothing-like-it").await.contains("checkout-latency"));
    assert!(!list("severity=info").await.contains("checkout-latency"));
    assert!(
        list("severity=critical&urgency=high&policy=fast")
            .await
            .contains("checkout-latency")
    );
    assert!(!list("status=resolved").await.contains("checkout-latency"));

    let mut answers = vec![];
    for path in [
        "/console/signin",
        "/console/incidents?fragment=1",
        "/console/incidents?status=bogus",
        "/console/incidents/99999",
        "/console/signin/link?t=x",
        "/console/signin/link?t=x&e=1&s=y",
    ] {
        // The sign-in form is for people not signed in (others are sent to the incidents).
        let session = (path != "/console/signin").then_some(&alice);
        answers.push((path, world.get(path, session).await));
    }
    for (path, response) in &answers {
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        assert_strict_headers(response, path);
    }
    assert_eq!(answers[2].1.status(), 400);
    assert_eq!(answers[3].1.status(), 404);
    assert_eq!(answers[4].1.status(), 400);
    assert_eq!(answers[5].1.status(), 403);
    let root = world.get("/", None).await;
    assert_eq!(root.status(), 303);
    assert_eq!(location(&root), "/console/incidents");
    world.runtime.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_are_embedded_hashed_and_cached() {
    let world = ConsoleWorld::start().await;
    let html = world
        .get("/console/signin", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !html.contains("<style") && !html.contains("<script>"),
        "nothing inline"
    );
    assert!(
        !html.contains("//cdn") && !html.contains("https://"),
        "nothing third-party"
    );
    for extension in ["css", "js"] {
        let marker = "/console/assets/console-";
        let start = html
            .match_indices(marker)
            .map(|(i, _)| i)
            .find(|&i| html[i..].split('"').next().unwrap().ends_with(extension))
            .unwrap_or_else(|| panic!("the page links a .{extension}"));
        let path = html[start..].split('"').next().unwrap().to_owned();
        let asset = world.get(&path, None).await;
        assert_eq!(asset.status(), 200, "{path}");
        let headers = asset.headers().clone();
        assert_eq!(
            headers["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let etag = headers["etag"].to_str().unwrap().to_owned();
        assert!(
            path.contains(etag.trim_matches('"')),
            "the name carries the hash"
        );
        assert!(!asset.text().await.unwrap().is_empty());
        let again = world
            .client
            .get(world.url(&path))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304);
    }
    let stale = world
        .get("/console/assets/console-0000000000000000.css", None)
        .await;
    assert_eq!(stale.status(), 404);
    world.runtime.shutdown().await.unwrap();
}
