//! A small typed W3C WebDriver client over reqwest, enough for the console's browser tests:
//! start `chromedriver` with headless Chromium, open a session with a given window size,
//! navigate, find elements by CSS selector, click, type, run scripts, take screenshots.
//!
//! Why not a client crate: fantoccini pulled in duplicate versions `cargo deny` refuses, and
//! the part of the protocol these tests use is small and stable (W3C WebDriver, level 1).
//! Chromium and chromedriver are Debian's `chromium` and `chromium-driver`; `./scripts/test`
//! installs them when missing, and these tests fail (never skip) when they are not there.

use base64::Engine;
use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The key W3C WebDriver uses for an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long the driver may take to answer `/status` after it starts.
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a WebDriver call failed.
#[derive(Debug, thiserror::Error)]
pub enum WebDriverError {
    /// chromedriver or chromium is not installed.
    #[error(
        "{0} not found: install Debian's chromium and chromium-driver (./scripts/test does: apt-get install -y chromium chromium-driver)"
    )]
    NotInstalled(&'static str),
    /// The driver process could not be started or did not come up.
    #[error("chromedriver did not start: {0}")]
    Start(String),
    /// The HTTP exchange with the driver failed.
    #[error("WebDriver request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The driver answered with a W3C error.
    #[error("WebDriver error {error}: {message}")]
    Protocol {
        /// The W3C error code (`no such element`, `javascript error`, ...).
        error: String,
        /// The driver's message.
        message: String,
    },
    /// The driver's answer did not have the expected shape.
    #[error("unexpected WebDriver answer: {0}")]
    Shape(String),
}

impl WebDriverError {
    /// Whether this is the W3C `no such element` error.
    pub fn is_no_such_element(&self) -> bool {
        matches!(self, WebDriverError::Protocol { error, .. } if error == "no such element")
    }
}

/// A result of a WebDriver call.
pub type WdResult<T> = Result<T, WebDriverError>;

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([
            PathBuf::from("/usr/bin"),
            PathBuf::from("/usr/lib/chromium"),
        ])
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> WdResult<u16> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| WebDriverError::Start(e.to_string()))?;
    let port = listener
        .local_addr()
        .map_err(|e| WebDriverError::Start(e.to_string()))?
        .port();
    Ok(port)
}

/// A running chromedriver, stopped when dropped.
pub struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
    chromium: PathBuf,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").field("base", &self.base).finish()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// Starts chromedriver on a free loopback port and waits until it is ready.
    pub async fn start() -> WdResult<Self> {
        let driver =
            find_program(&["chromedriver"]).ok_or(WebDriverError::NotInstalled("chromedriver"))?;
        let chromium = find_program(&["chromium", "chromium-browser", "chrome"])
            .ok_or(WebDriverError::NotInstalled("chromium"))?;
        let port = free_port()?;
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| WebDriverError::Start(format!("{}: {e}", driver.display())))?;
        let driver = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            chromium,
        };
        driver.wait_ready().await?;
        Ok(driver)
    }

    async fn wait_ready(&self) -> WdResult<()> {
        let deadline = Instant::now() + DRIVER_START_TIMEOUT;
        loop {
            let status = self.http.get(format!("{}/status", self.base)).send().await;
            if let Ok(response) = status
                && let Ok(body) = response.json::<Value>().await
                && body["value"]["ready"] == json!(true)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(WebDriverError::Start(format!(
                    "no answer on {} within {DRIVER_START_TIMEOUT:?}",
                    self.base
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Opens a headless Chromium session whose viewport is `width` × `height` CSS pixels.
    pub async fn session(&self, width: u32, height: u32) -> WdResult<Browser> {
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": self.chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--disable-extensions",
                    "--hide-scrollbars",
                    "--force-device-scale-factor=1",
                    format!("--window-size={width},{height}"),
                ],
            },
        }}});
        let answer = call(
            &self.http,
            reqwest::Method::POST,
            &format!("{}/session", self.base),
            Some(capabilities),
        )
        .await?;
        let id = answer["sessionId"]
            .as_str()
            .ok_or_else(|| WebDriverError::Shape(answer.to_string()))?;
        let browser = Browser {
            http: self.http.clone(),
            base: format!("{}/session/{id}", self.base),
        };
        browser.set_viewport(width, height).await?;
        Ok(browser)
    }
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> WdResult<Value> {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let body: Value = response.json().await?;
    let value = body.get("value").cloned().unwrap_or(Value::Null);
    if let Some(error) = value.get("error").and_then(Value::as_str) {
        return Err(WebDriverError::Protocol {
            error: error.to_owned(),
            message: value["message"].as_str().unwrap_or_default().to_owned(),
        });
    }
    Ok(value)
}

/// One browser session (a window), closed with [`Browser::close`].
#[derive(Debug, Clone)]
pub struct Browser {
    http: reqwest::Client,
    base: String,
}

/// An element found in the page.
#[derive(Debug, Clone)]
pub struct Element {
    browser: Browser,
    id: String,
}

impl Browser {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> WdResult<Value> {
        call(&self.http, method, &format!("{}{path}", self.base), body).await
    }

    async fn post(&self, path: &str, body: Value) -> WdResult<Value> {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> WdResult<Value> {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// Resizes the window so that the viewport (not the outer window) is `width` × `height`.
    pub async fn set_viewport(&self, width: u32, height: u32) -> WdResult<()> {
        self.post("/window/rect", json!({"width": width, "height": height}))
            .await?;
        let inner = self
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await?;
        let (w, h) = (
            inner[0].as_i64().unwrap_or(0),
            inner[1].as_i64().unwrap_or(0),
        );
        let outer_w = i64::from(width) + (i64::from(width) - w);
        let outer_h = i64::from(height) + (i64::from(height) - h);
        if (w, h) != (i64::from(width), i64::from(height)) {
            self.post("/window/rect", json!({"width": outer_w, "height": outer_h}))
                .await?;
        }
        Ok(())
    }

    /// Opens `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) -> WdResult<()> {
        self.post("/url", json!({ "url": url })).await.map(drop)
    }

    /// The URL of the current page.
    pub async fn current_url(&self) -> WdResult<String> {
        let value = self.get("/url").await?;
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| WebDriverError::Shape(value.to_string()))
    }

    /// The page's `<title>`.
    pub async fn title(&self) -> WdResult<String> {
        let value = self.get("/title").await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// The page's HTML as the browser has it now.
    pub async fn source(&self) -> WdResult<String> {
        let value = self.get("/source").await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    fn element(&self, value: &Value) -> WdResult<Element> {
        let id = value[ELEMENT_KEY]
            .as_str()
            .ok_or_else(|| WebDriverError::Shape(value.to_string()))?;
        Ok(Element {
            browser: self.clone(),
            id: id.to_owned(),
        })
    }

    /// The first element matching CSS `selector` (a `no such element` error if none).
    pub async fn find(&self, selector: &str) -> WdResult<Element> {
        let value = self
            .post(
                "/element",
                json!({"using": "css selector", "value": selector}),
            )
            .await?;
        self.element(&value)
    }

    /// Every element matching CSS `selector`.
    pub async fn find_all(&self, selector: &str) -> WdResult<Vec<Element>> {
        let value = self
            .post(
                "/elements",
                json!({"using": "css selector", "value": selector}),
            )
            .await?;
        value
            .as_array()
            .ok_or_else(|| WebDriverError::Shape(value.to_string()))?
            .iter()
            .map(|v| self.element(v))
            .collect()
    }

    /// The first link whose text contains `text`.
    pub async fn find_link(&self, text: &str) -> WdResult<Element> {
        let value = self
            .post(
                "/element",
                json!({"using": "partial link text", "value": text}),
            )
            .await?;
        self.element(&value)
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its result.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> WdResult<Value> {
        self.post("/execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// Runs `script` asynchronously: it finishes by calling the last of `arguments`.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> WdResult<Value> {
        self.post("/execute/async", json!({"script": script, "args": args}))
            .await
    }

    /// Sets how long asynchronous scripts may run.
    pub async fn set_script_timeout(&self, timeout: Duration) -> WdResult<()> {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.post("/timeouts", json!({ "script": ms }))
            .await
            .map(drop)
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> WdResult<Vec<u8>> {
        let value = self.get("/screenshot").await?;
        let data = value
            .as_str()
            .ok_or_else(|| WebDriverError::Shape("screenshot is not a string".into()))?;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| WebDriverError::Shape(format!("screenshot: {e}")))
    }

    /// Writes a PNG of the whole page (the viewport grown to the document's height, then put
    /// back) to `path`.
    pub async fn save_full_page(&self, path: &Path, width: u32, height: u32) -> WdResult<()> {
        let full = self
            .execute("return document.documentElement.scrollHeight;", vec![])
            .await?;
        let full = u32::try_from(full.as_u64().unwrap_or(u64::from(height))).unwrap_or(height);
        self.set_viewport(width, full.clamp(height, 4000)).await?;
        let png = self.screenshot().await;
        self.set_viewport(width, height).await?;
        std::fs::write(path, png?)
            .map_err(|e| WebDriverError::Shape(format!("{}: {e}", path.display())))
    }

    /// Deletes every cookie of the current site.
    pub async fn delete_cookies(&self) -> WdResult<()> {
        self.send(reqwest::Method::DELETE, "/cookie", None)
            .await
            .map(drop)
    }

    /// The cookies the browser holds for the current page: `(name, value, httpOnly)`.
    pub async fn cookies(&self) -> WdResult<Vec<(String, String, bool)>> {
        let value = self.get("/cookie").await?;
        Ok(value
            .as_array()
            .map(|all| {
                all.iter()
                    .map(|c| {
                        (
                            c["name"].as_str().unwrap_or_default().to_owned(),
                            c["value"].as_str().unwrap_or_default().to_owned(),
                            c["httpOnly"].as_bool().unwrap_or(false),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Ends the session (closes the browser).
    pub async fn close(self) -> WdResult<()> {
        self.send(reqwest::Method::DELETE, "", None).await.map(drop)
    }
}

impl Element {
    fn path(&self, tail: &str) -> String {
        format!("/element/{}{tail}", self.id)
    }

    /// Clicks the element (scrolled into view first, as the protocol says).
    pub async fn click(&self) -> WdResult<()> {
        self.browser
            .post(&self.path("/click"), json!({}))
            .await
            .map(drop)
    }

    /// Types `text` into the element.
    pub async fn send_keys(&self, text: &str) -> WdResult<()> {
        self.browser
            .post(&self.path("/value"), json!({ "text": text }))
            .await
            .map(drop)
    }

    /// The element's rendered text.
    pub async fn text(&self) -> WdResult<String> {
        let value = self.browser.get(&self.path("/text")).await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// An attribute's value, if it has one.
    pub async fn attr(&self, name: &str) -> WdResult<Option<String>> {
        let value = self
            .browser
            .get(&self.path(&format!("/attribute/{name}")))
            .await?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// Whether the element is displayed.
    pub async fn displayed(&self) -> WdResult<bool> {
        let value = self.browser.get(&self.path("/displayed")).await?;
        Ok(value.as_bool().unwrap_or(false))
    }
}
