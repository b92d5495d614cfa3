//! Running the real node_exporter (Debian's `prometheus-node-exporter`)
//! for the side-by-side host tests.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BINARY: &str = "/usr/bin/prometheus-node-exporter";

/// Kills the exporter when the test ends, passed or not.
struct Exporter(Child);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One `/metrics` body (text format) from node_exporter started on a free
/// port with `--web.disable-exporter-metrics` and `args`.
pub fn scrape_node_exporter(args: &[String]) -> String {
    assert!(
        std::path::Path::new(BINARY).exists(),
        "{BINARY} is missing: run tests/run.sh (it apt-get installs prometheus-node-exporter) \
         or `apt-get install -y prometheus-node-exporter`"
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut exporter = Exporter(
        Command::new(BINARY)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.disable-exporter-metrics")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start node_exporter"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(b) = fetch(port) {
            return b;
        }
        if let Ok(Some(status)) = exporter.0.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = exporter.0.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("node_exporter exited with {status}:\n{err}");
        }
        assert!(
            Instant::now() < deadline,
            "node_exporter did not answer on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn fetch(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n")
        .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    let ok = head.lines().next()?.split_whitespace().nth(1) == Some("200");
    ok.then(|| body.to_string())
}
