//! A small W3C WebDriver client for the browser tests: Debian's
//! `chromedriver` driving headless Chromium, spoken to over HTTP with
//! the client the other tests use (no browser is downloaded). Enough of
//! the protocol to open pages, find elements by CSS selector, click,
//! type, run a script and take screenshots.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::{free_tcp_port, wait_for, ChildGuard};

/// A browser session; closed (and chromedriver stopped) when dropped.
pub struct Browser {
    base: String,
    session: String,
    http: reqwest::blocking::Client,
    _driver: ChildGuard,
    _profile: tempfile::TempDir,
}

/// The W3C key of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// Starts chromedriver and a headless Chromium of `width`×`height`.
    pub fn start(width: u32, height: u32) -> Browser {
        let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("the UI tests need chromedriver: apt-get install -y chromium-driver (tests/run.sh does)");
        let port = free_tcp_port();
        let child = ChildGuard::spawn(
            Command::new(driver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        wait_for(Duration::from_secs(20), "chromedriver", || {
            http.get(format!("{base}/status"))
                .send()
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-background-networking", "--disable-sync",
                         format!("--window-size={width},{height}"),
                         format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .and_then(|r| r.json())
            .expect("a WebDriver session");
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_string();
        Browser {
            base,
            session,
            http,
            _driver: child,
            _profile: profile,
        }
    }

    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        req = req.json(&body.unwrap_or_else(|| json!({})));
        let r: Value = req
            .send()
            .and_then(|r| r.json())
            .map_err(|e| e.to_string())?;
        match r["value"].get("error") {
            Some(e) => Err(format!("{e}: {}", r["value"]["message"])),
            None => Ok(r["value"].clone()),
        }
    }

    /// Opens `url` and waits for the page's load event.
    pub fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    pub fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `script` returns something truthy; returns it.
    pub fn wait(&self, what: &str, timeout: Duration, script: &str) -> Value {
        wait_for(timeout, what, || {
            let v = self.eval(script, vec![]);
            match &v {
                Value::Null | Value::Bool(false) => Err(format!("{v}")),
                Value::String(s) if s.is_empty() => Err(String::new()),
                _ => Ok(v.clone()),
            }
        })
    }

    /// The first element `css` selects, as a WebDriver reference.
    pub fn find(&self, css: &str) -> Value {
        let r = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .unwrap_or_else(|e| panic!("no element {css}: {e}"));
        r[ELEMENT].clone()
    }

    pub fn click(&self, css: &str) {
        let id = self.find(css);
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/click", id.as_str().unwrap()),
            None,
        )
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Empties an input or text area.
    pub fn clear(&self, css: &str) {
        let id = self.find(css);
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/clear", id.as_str().unwrap()),
            None,
        )
        .unwrap_or_else(|e| panic!("clear {css}: {e}"));
    }

    /// Replaces the text of an input and leaves it (Tab), so its
    /// `change` event fires.
    pub fn fill(&self, css: &str, text: &str) {
        self.clear(css);
        self.type_into(css, &format!("{text}\u{E004}"));
    }

    /// Types `text` into the element (W3C key codes work, e.g. "\u{E007}" is Enter).
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/value", id.as_str().unwrap()),
            Some(json!({"text": text})),
        )
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Moves the mouse to `(x, y)` in the viewport (CSS pixels), as a
    /// user's pointer does (real pointer events), and clicks there if
    /// `click`.
    pub fn mouse(&self, x: f64, y: f64, click: bool) {
        let mut steps = vec![
            json!({"type": "pointerMove", "duration": 0, "origin": "viewport",
            "x": x.round() as i64, "y": y.round() as i64}),
        ];
        if click {
            steps.push(json!({"type": "pointerDown", "button": 0}));
            steps.push(json!({"type": "pointerUp", "button": 0}));
        }
        self.call(
            reqwest::Method::POST,
            "/actions",
            Some(json!({"actions": [{"type": "pointer", "id": "mouse",
                "parameters": {"pointerType": "mouse"}, "actions": steps}]})),
        )
        .unwrap_or_else(|e| panic!("mouse to ({x}, {y}): {e}"));
    }

    /// Presses and releases each key of `keys` in turn on whatever has
    /// the focus (W3C key codes work: "\u{E012}" is ←), as a keyboard
    /// does.
    pub fn keys(&self, keys: &str) {
        let steps: Vec<Value> = keys
            .chars()
            .flat_map(|c| {
                [
                    json!({"type": "keyDown", "value": c.to_string()}),
                    json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        self.call(
            reqwest::Method::POST,
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": steps}]})),
        )
        .unwrap_or_else(|e| panic!("keys {keys:?}: {e}"));
    }

    /// Writes a PNG of the window to `path`.
    pub fn screenshot(&self, path: &Path) {
        let b64 = self
            .call(reqwest::Method::GET, "/screenshot", None)
            .expect("a screenshot");
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or(""))
            .expect("a base64 screenshot");
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send();
    }
}
