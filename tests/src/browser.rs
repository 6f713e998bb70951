//! The console in a real browser: a [`ConsoleWorld`] plus headless Chromium over WebDriver
//! ([`crate::webdriver`]), with the steps the browser tests share: signing in through the
//! link from the outbox, waiting for the page to show something, and the mobile-layout check.

use crate::console::ConsoleWorld;
use crate::webdriver::{Browser, Driver, WdResult};
use serde_json::json;
use std::time::{Duration, Instant};

/// The two widths every flow runs at: a phone and a laptop.
pub const WIDTHS: [u32; 2] = [375, 1280];

/// The viewport height used with each width.
pub fn height_for(width: u32) -> u32 {
    if width < 600 { 812 } else { 800 }
}

/// A runtime, a driver and one browser window of a given width.
pub struct BrowserWorld {
    /// The runtime with the console configuration.
    pub world: ConsoleWorld,
    /// The browser window.
    pub browser: Browser,
    /// The viewport width.
    pub width: u32,
    driver: Driver,
}

impl BrowserWorld {
    /// Starts the runtime, chromedriver and a window `width` px wide. Fails (never skips)
    /// when Chromium or chromedriver is missing.
    pub async fn start(width: u32) -> Self {
        Self::with_world(ConsoleWorld::start().await, width).await
    }

    /// A window `width` px wide on `world`'s console.
    pub async fn with_world(world: ConsoleWorld, width: u32) -> Self {
        let driver = Driver::start().await.unwrap_or_else(|e| panic!("{e}"));
        let browser = driver
            .session(width, height_for(width))
            .await
            .unwrap_or_else(|e| panic!("a browser session: {e}"));
        let inner = browser
            .execute("return window.innerWidth;", vec![])
            .await
            .unwrap();
        assert_eq!(inner, json!(width), "the viewport is {width} px wide");
        Self {
            world,
            browser,
            width,
            driver,
        }
    }

    /// The driver (to open a second window).
    pub fn driver(&self) -> &Driver {
        &self.driver
    }

    /// Opens the console path `path`.
    pub async fn open(&self, path: &str) {
        self.browser.goto(&self.world.url(path)).await.unwrap();
    }

    /// Asks for a sign-in link for `address` on the sign-in page, as a person would, and
    /// returns the link the outbox got.
    pub async fn request_link(&self, address: &str) -> String {
        let before = self.world.signin_emails(address).len();
        self.open("/console/signin").await;
        let field = self.browser.find("#email").await.unwrap();
        field.send_keys(address).await.unwrap();
        self.browser
            .find("form[action='/console/signin'] button")
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_text(&self.browser, "main", "a sign-in link is on its way").await;
        let emails = self.world.signin_emails(address);
        assert_eq!(emails.len(), before + 1, "one sign-in email to {address}");
        emails[before].links[0].clone()
    }

    /// Opens a sign-in link and presses its button.
    pub async fn use_link(&self, link: &str) {
        self.browser.goto(link).await.unwrap();
        self.browser
            .find("#signin")
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Signs `address` in through the outbox and waits for the incidents page; returns the
    /// link used.
    pub async fn sign_in(&self, address: &str) -> String {
        let link = self.request_link(address).await;
        self.use_link(&link).await;
        wait_url(&self.browser, "/console/incidents").await;
        link
    }

    /// Asserts the page fits the viewport: no sideways scrolling on a phone.
    pub async fn assert_fits(&self, what: &str) {
        let widths = self
            .browser
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .unwrap();
        let scroll = widths[0].as_i64().unwrap_or(i64::MAX);
        let inner = widths[1].as_i64().unwrap_or(0);
        assert!(
            scroll <= inner,
            "{what} at {} px scrolls sideways ({scroll} px of content)",
            self.width
        );
    }

    /// Ends the browser session and the runtime.
    pub async fn finish(self) {
        let _ = self.browser.close().await;
        self.world.runtime.shutdown().await.unwrap();
    }
}

async fn until<T>(what: &str, mut check: impl AsyncFnMut() -> WdResult<Option<T>>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    loop {
        match check().await {
            Ok(Some(value)) => return value,
            Ok(None) => {}
            Err(error) => last = error.to_string(),
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what} {last}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the current URL's path (and query) starts with `prefix`; returns the URL.
pub async fn wait_url(browser: &Browser, prefix: &str) -> String {
    until(&format!("a URL starting with {prefix}"), async || {
        let url = browser.current_url().await?;
        let path = url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned()))
            .unwrap_or_default();
        Ok(path.starts_with(prefix).then_some(url))
    })
    .await
}

/// Waits until the element `selector` shows text containing `text`; returns all its text.
pub async fn wait_text(browser: &Browser, selector: &str, text: &str) -> String {
    until(&format!("{text:?} in {selector}"), async || {
        let shown = browser.find(selector).await?.text().await?;
        Ok(shown.contains(text).then_some(shown))
    })
    .await
}
