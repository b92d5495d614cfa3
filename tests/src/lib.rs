//! Helpers for the end-to-end tests: start the real `pharos` binary on a free
//! port with its own data directory, talk to it over HTTP as a user's tool
//! would, and kill it (gracefully or with SIGKILL).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub mod ui;
pub mod webdriver;

use pharos_agent::remote::proto;
use prost::Message;

/// Path of the `pharos` binary: `$PHAROS_BIN`, or the one cargo built next
/// to this test executable (`target/<profile>/pharos`).
pub fn pharos_bin() -> PathBuf {
    if let Ok(p) = std::env::var("PHAROS_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let bin = profile_dir.join("pharos");
    assert!(
        bin.exists(),
        "{} does not exist: run `cargo build -p pharos` first (tests/run.sh does)",
        bin.display()
    );
    bin
}

/// A running pharos server.
pub struct Server {
    child: Option<Child>,
    pub addr: String,
    pub dir: PathBuf,
    log: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Server {
    /// Starts pharos on `dir` with extra flags and waits until it is ready.
    pub fn start_with(dir: &Path, extra: &[&str]) -> Server {
        let addr = format!("127.0.0.1:{}", free_port());
        let log = dir.with_extension(format!("log.{}", free_port()));
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(pharos_bin())
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!("--storage.path={}", dir.display()))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn pharos");
        let mut s = Server {
            child: Some(child),
            addr,
            dir: dir.to_path_buf(),
            log,
        };
        s.wait_ready();
        s
    }

    /// Starts pharos on `dir` without the built-in collectors, so the store
    /// holds only what the test writes (their samples carry the current time,
    /// which would also make retention refuse the old timestamps tests use).
    pub fn start(dir: &Path) -> Server {
        Server::start_with(dir, &["--collector.host=false", "--collector.self=false"])
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = reqwest::blocking::get(self.url("/-/ready")) {
                if r.status().is_success() {
                    return;
                }
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "pharos exited with {status} before it was ready:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("pharos was not ready within 30 s:\n{}", self.log_text());
    }

    /// Everything the server wrote to stderr.
    pub fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit; returns whether it exited 0.
    pub fn stop(&mut self) -> bool {
        let Some(mut c) = self.child.take() else {
            return true;
        };
        unsafe {
            libc::kill(c.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = c.try_wait() {
                return st.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
        false
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// GET a path and parse the JSON body; returns (status, body).
    pub fn get_json(&self, path_and_query: &str) -> (u16, serde_json::Value) {
        let r = reqwest::blocking::get(self.url(path_and_query)).expect("GET");
        let status = r.status().as_u16();
        let text = r.text().expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    /// Every stored sample of the series matching `selector`, via the export
    /// endpoint: (labels as JSON, [(timestamp, value)]).
    pub fn export(&self, selector: &str) -> Vec<(serde_json::Value, Vec<(i64, f64)>)> {
        let r = reqwest::blocking::Client::new()
            .get(self.url("/api/v1/export"))
            .query(&[("match[]", selector)])
            .send()
            .expect("export");
        assert_eq!(r.status().as_u16(), 200);
        r.text()
            .unwrap()
            .lines()
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let ts = v["timestamps"].as_array().unwrap();
                let vals = v["values"].as_array().unwrap();
                let samples = ts
                    .iter()
                    .zip(vals)
                    .map(|(t, x)| {
                        let x = match x {
                            serde_json::Value::String(s) => match s.as_str() {
                                "+Inf" => f64::INFINITY,
                                "-Inf" => f64::NEG_INFINITY,
                                _ => f64::NAN,
                            },
                            n => n.as_f64().unwrap(),
                        };
                        (t.as_i64().unwrap(), x)
                    })
                    .collect();
                (v["metric"].clone(), samples)
            })
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A remote-write 1.0 series from sorted label pairs and samples.
pub fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> proto::TimeSeries {
    proto::TimeSeries::of(labels.iter().copied(), samples)
}

/// Snappy block compression, as remote write uses.
pub fn snappy(b: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(b).expect("snappy")
}

/// Posts a raw body to `/api/v1/write`; returns (status, response text).
pub fn post_write(
    server: &Server,
    body: Vec<u8>,
    content_type: Option<&str>,
) -> Result<(u16, String), reqwest::Error> {
    post_write_to(&server.addr, body, content_type)
}

/// [`post_write`] by address, for threads that do not own the [`Server`].
pub fn post_write_to(
    addr: &str,
    body: Vec<u8>,
    content_type: Option<&str>,
) -> Result<(u16, String), reqwest::Error> {
    let mut req = reqwest::blocking::Client::new()
        .post(format!("http://{addr}/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .timeout(Duration::from_secs(30))
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    let r = req.send()?;
    let status = r.status().as_u16();
    Ok((status, r.text().unwrap_or_default()))
}

/// Sends a remote-write 1.0 request.
pub fn write_v1(
    server: &Server,
    ts: Vec<proto::TimeSeries>,
) -> Result<(u16, String), reqwest::Error> {
    write_v1_to(&server.addr, ts)
}

/// [`write_v1`] by address.
pub fn write_v1_to(
    addr: &str,
    ts: Vec<proto::TimeSeries>,
) -> Result<(u16, String), reqwest::Error> {
    let req = proto::WriteRequest {
        timeseries: ts,
        metadata: vec![],
    };
    post_write_to(
        addr,
        snappy(&req.encode_to_vec()),
        Some("application/x-protobuf"),
    )
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests
/// that start a process on it right away).
pub fn free_tcp_port() -> u16 {
    free_port()
}

impl Server {
    /// Starts pharos scraping as `config` (a prometheus.yml) says, with
    /// extra flags, and waits until it is ready.
    pub fn start_with_config(dir: &Path, config: &Path, extra: &[&str]) -> Server {
        let flag = format!("--config.file={}", config.display());
        let mut args: Vec<&str> = vec![&flag];
        args.extend_from_slice(extra);
        Server::start_with(dir, &args)
    }

    /// Sends a signal (e.g. `libc::SIGHUP`) to the running process.
    pub fn signal(&self, sig: i32) {
        if let Some(c) = self.child.as_ref() {
            unsafe {
                libc::kill(c.id() as i32, sig);
            }
        }
    }

    /// GET a path with query parameters (URL-encoded here) and parse the
    /// JSON body; returns (status, body).
    pub fn get_json_query(&self, path: &str, query: &[(&str, &str)]) -> (u16, serde_json::Value) {
        let r = reqwest::blocking::Client::new()
            .get(self.url(path))
            .query(query)
            .send()
            .expect("GET");
        let status = r.status().as_u16();
        let text = r.text().expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    /// GET a path; returns (status, body text).
    pub fn get_text(&self, path_and_query: &str) -> (u16, String) {
        let r = reqwest::blocking::get(self.url(path_and_query)).expect("GET");
        let status = r.status().as_u16();
        (status, r.text().expect("body"))
    }

    /// POST a path with an empty body; returns (status, body text).
    pub fn post(&self, path_and_query: &str) -> (u16, String) {
        let r = reqwest::blocking::Client::new()
            .post(self.url(path_and_query))
            .send()
            .expect("POST");
        let status = r.status().as_u16();
        (status, r.text().expect("body"))
    }
}

/// A child process that is killed (SIGKILL) and reaped when dropped, so a
/// failing test leaves nothing running.
pub struct ChildGuard(pub Option<Child>);

impl ChildGuard {
    pub fn spawn(cmd: &mut Command) -> ChildGuard {
        ChildGuard(Some(
            cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}")),
        ))
    }

    /// Kills the process now (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Calls `f` every 50 ms until it returns `Ok`, for at most `timeout`;
/// when the time is up, panics naming `what` and the last `Err` (which
/// should say what was seen instead).
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match f() {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Writes `text` to `path` through a temporary file and a rename, so a
/// reader never sees half a file.
pub fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// An HTTP/1.1 server on a free loopback port, one thread per connection,
/// answering `route(path)` = (status line, content type, body, delay).
/// It runs until the test process exits.
pub type Route = dyn Fn(&str) -> (&'static str, &'static str, String, Duration) + Send + Sync;

pub fn http_server(route: Arc<Route>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let route = Arc::clone(&route);
            std::thread::spawn(move || answer(conn, &*route));
        }
    });
    addr
}

fn answer(mut conn: TcpStream, route: &Route) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut req = Vec::new();
    let mut buf = [0u8; 4096];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&req);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (status, ctype, body, delay) = route(&path);
    std::thread::sleep(delay);
    // The scraper may have given up (timeout): write errors are expected.
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// One request a [`Sink`] received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The status the sink answered with.
    pub status: u16,
}

/// An HTTP server that records every request (webhook receivers, chat
/// robots) and answers each with `respond(n, request)` = (status, body),
/// `n` counting requests from 0.
pub struct Sink {
    pub addr: String,
    pub received: Arc<std::sync::Mutex<Vec<Received>>>,
}

pub type Respond = dyn Fn(usize, &Received) -> (u16, String) + Send + Sync;

impl Sink {
    pub fn start(respond: Arc<Respond>) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        let rec = Arc::clone(&received);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                // One request at a time keeps the count (and `respond`'s
                // n) in arrival order.
                sink_answer(conn, &*respond, &rec);
            }
        });
        Sink { addr, received }
    }

    /// A sink answering 200 `{}` to everything.
    pub fn ok() -> Sink {
        Sink::start(Arc::new(|_, _| (200, "{}".to_string())))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The bodies of requests answered with 2xx, as JSON.
    pub fn accepted_json(&self) -> Vec<serde_json::Value> {
        self.requests()
            .iter()
            .filter(|r| (200..300).contains(&r.status))
            .map(|r| {
                serde_json::from_str(&r.body).unwrap_or(serde_json::Value::String(r.body.clone()))
            })
            .collect()
    }
}

fn sink_answer(mut conn: TcpStream, respond: &Respond, rec: &std::sync::Mutex<Vec<Received>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut req = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = req.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&req[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let first: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while req.len() < head_end + len {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let mut r = Received {
        method: first.first().unwrap_or(&"").to_string(),
        path: first.get(1).unwrap_or(&"/").to_string(),
        headers,
        body: String::from_utf8_lossy(&req[head_end.min(req.len())..]).to_string(),
        status: 0,
    };
    let n = rec.lock().unwrap().len();
    let (status, body) = respond(n, &r);
    r.status = status;
    rec.lock().unwrap().push(r);
    let _ = write!(
        conn,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// Runs `openssl` with `args` in `dir`, failing the test with its output.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (tests/run.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for the DNS name `metrics.internal` (not for
/// 127.0.0.1) and a client certificate, all P-256, signed by the CA.
pub fn make_certificates(dir: &Path) {
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let ca: Vec<&str> = ["req", "-x509"]
        .into_iter()
        .chain(key)
        .chain([
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=pharos test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ])
        .collect();
    openssl(dir, &ca);
    for (name, cn, ext) in [
        (
            "server",
            "metrics.internal",
            "subjectAltName=DNS:metrics.internal\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "pharos", "extendedKeyUsage=clientAuth\n"),
    ] {
        let (k, csr, crt, extfile) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        std::fs::write(dir.join(&extfile), ext).unwrap();
        let subj = format!("/CN={cn}");
        let req: Vec<&str> = ["req"]
            .into_iter()
            .chain(key)
            .chain(["-keyout", &k, "-out", &csr, "-subj", &subj])
            .collect();
        openssl(dir, &req);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
                "-extfile",
                &extfile,
            ],
        );
    }
}
