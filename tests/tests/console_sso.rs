//! Single sign-on to the web console against a real OpenID Connect provider (the npm
//! `oidc-provider` package on loopback, `tests/oidc_provider.mjs`): in headless Chromium, a
//! configured user signs in through the provider's own login and consent pages; an address
//! no user has is refused with no session; and over plain HTTP, the flow's checks (PKCE and
//! state in the authorization request, a callback without the flow cookie or with another
//! state, no provider configured).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use klaxon_tests::browser::{BrowserWorld, wait_text, wait_url};
use klaxon_tests::console::{CONSOLE_CONFIG, ConsoleWorld, location};
use klaxon_tests::oidc::{CLIENT_ID, CLIENT_SECRET, OidcProvider, SECRET_VAR, sso_settings};
use reqwest::header::{COOKIE, SET_COOKIE};

/// A provider and a console configured to use it.
async fn world_with_provider() -> (OidcProvider, ConsoleWorld) {
    let mut provider = OidcProvider::start().await;
    let yaml = format!("{CONSOLE_CONFIG}{}", sso_settings(&provider.issuer));
    let world = ConsoleWorld::start_with_env(&yaml, &[(SECRET_VAR, CLIENT_SECRET)]).await;
    provider.register(&world.url("/console/sso/callback")).await;
    (provider, world)
}

/// From the sign-in page through the provider's login and consent pages as `login`; returns
/// the browser back at Klaxon.
async fn sign_in_at_the_provider(b: &BrowserWorld, provider: &OidcProvider, login: &str) {
    b.open("/console/signin").await;
    b.browser
        .find_link("Sign in with Test SSO")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let at_provider = wait_url(&b.browser, "/interaction/").await;
    assert!(at_provider.starts_with(&provider.issuer), "{at_provider}");
    b.browser
        .find("input[name=login]")
        .await
        .unwrap()
        .send_keys(login)
        .await
        .unwrap();
    b.browser
        .find("input[name=password]")
        .await
        .unwrap()
        .send_keys("any password")
        .await
        .unwrap();
    b.browser
        .find("button[type=submit]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The consent page ("Authorize"), then back to Klaxon's callback.
    wait_text(&b.browser, "button[type=submit]", "Continue").await;
    b.browser
        .find("button[type=submit]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_user_signs_in_through_the_provider_in_a_real_browser() {
    let (provider, world) = world_with_provider().await;
    let b = BrowserWorld::with_world(world, 375).await;
    sign_in_at_the_provider(&b, &provider, "alice@example.com").await;
    wait_url(&b.browser, "/console/incidents").await;
    wait_text(&b.browser, "header", "Alice Responder · responder").await;
    let cookies = b.browser.cookies().await.unwrap();
    let session = cookies.iter().find(|(name, _, _)| name == "klaxon_session");
    assert!(
        matches!(session, Some((_, _, true))),
        "an HttpOnly session cookie: {cookies:?}"
    );
    assert!(
        !cookies.iter().any(|(name, _, _)| name == "klaxon_sso"),
        "the flow cookie is gone: {cookies:?}"
    );
    // The session is a real one: the incident list and the on-call page open.
    b.open("/console/oncall").await;
    wait_text(&b.browser, "h1", "On call").await;
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_no_user_has_is_refused_and_gets_no_session() {
    let (provider, world) = world_with_provider().await;
    let b = BrowserWorld::with_world(world, 1280).await;
    sign_in_at_the_provider(&b, &provider, "mallory@example.com").await;
    wait_url(&b.browser, "/console/sso/callback").await;
    let text = wait_text(&b.browser, "main", "is not the address of any Klaxon user").await;
    assert!(text.contains("mallory@example.com"), "{text}");
    let cookies = b.browser.cookies().await.unwrap();
    assert!(
        !cookies.iter().any(|(name, _, _)| name == "klaxon_session"),
        "no session: {cookies:?}"
    );
    b.open("/console/incidents").await;
    wait_url(&b.browser, "/console/signin").await;
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flow_uses_pkce_and_refuses_a_callback_that_is_not_its_own() {
    let (provider, world) = world_with_provider().await;
    let start = world.get("/console/sso", None).await;
    assert_eq!(start.status(), 303);
    let to = location(&start);
    assert!(
        to.starts_with(&format!("{}/auth?", provider.issuer)),
        "{to}"
    );
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(to.split_once('?').unwrap().1).unwrap();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(param("code_challenge_method"), "S256");
    assert_eq!(param("code_challenge").len(), 43);
    assert_eq!(param("client_id"), CLIENT_ID);
    assert_eq!(param("redirect_uri"), world.url("/console/sso/callback"));
    assert!(param("scope").split(' ').any(|s| s == "email"), "{to}");
    let state = param("state");
    assert!(!state.is_empty() && !param("nonce").is_empty());
    let set_cookie = start.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        set_cookie.contains("Path=/console/sso; HttpOnly; SameSite=Lax"),
        "{set_cookie}"
    );
    let flow = set_cookie.split(';').next().unwrap().to_owned();

    // The right state without the flow cookie (another browser), and the cookie with a
    // different state: refused, no session, the provider never asked.
    let callback = format!("/console/sso/callback?code=abc&state={state}");
    let no_cookie = world.get(&callback, None).await;
    assert_eq!(no_cookie.status(), 403);
    let other = world
        .client
        .get(world.url("/console/sso/callback?code=abc&state=another"))
        .header(COOKIE, &flow)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 403);
    assert!(
        !other
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .any(|v| v.to_str().unwrap().starts_with("klaxon_session=")),
        "no session cookie"
    );
    assert!(
        other
            .text()
            .await
            .unwrap()
            .contains("belongs to another sign-in")
    );
    // The provider's refusal is shown, not a crash.
    let denied = world
        .get("/console/sso/callback?error=access_denied&state=x", None)
        .await;
    assert_eq!(denied.status(), 403);
    world.runtime.shutdown().await.unwrap();
}

#[tokio::test]
async fn without_a_provider_there_is_no_single_sign_on() {
    let world = ConsoleWorld::start().await;
    assert_eq!(world.get("/console/sso", None).await.status(), 404);
    let page = world
        .get("/console/signin", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("/console/sso"), "no button");
    world.runtime.shutdown().await.unwrap();
}
