//! Remote write into the real binary: both protocol versions, the metadata
//! API over what was written, and every kind of bad input getting a clear
//! 4xx while the server keeps running and earlier data stays intact.

use pharos_agent::remote::proto::v2;
use pharos_tests::{post_write, series, snappy, write_v1, Server};
use prost::Message;

fn up(job: &str, samples: &[(i64, f64)]) -> pharos_agent::remote::proto::TimeSeries {
    series(
        &[("__name__", "up"), ("instance", "h:9100"), ("job", job)],
        samples,
    )
}

#[test]
fn v1_write_then_series_labels_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"));
    let (status, body) = write_v1(
        &s,
        vec![
            up(
                "node",
                &[(1_700_000_000_000, 1.0), (1_700_000_015_000, 1.0)],
            ),
            series(
                &[("__name__", "node_load1"), ("job", "node")],
                &[(1_700_000_000_000, 0.25)],
            ),
        ],
    )
    .unwrap();
    assert_eq!(status, 204, "{body}");

    let (st, v) = s.get_json("/api/v1/series?match[]=up");
    assert_eq!(st, 200);
    assert_eq!(
        v,
        serde_json::json!({"status": "success", "data": [
            {"__name__": "up", "instance": "h:9100", "job": "node"}
        ]})
    );
    let (_, v) = s.get_json("/api/v1/labels");
    assert_eq!(
        v["data"],
        serde_json::json!(["__name__", "instance", "job"])
    );
    let (_, v) = s.get_json("/api/v1/label/__name__/values");
    assert_eq!(v["data"], serde_json::json!(["node_load1", "up"]));
    let (_, v) = s.get_json("/api/v1/label/job/values?match[]=node_load1");
    assert_eq!(v["data"], serde_json::json!(["node"]));
    // Time filtering: RFC 3339 and unix seconds.
    let (_, v) = s.get_json("/api/v1/series?match[]=up&start=2023-11-14T22:13:21Z&end=1700000100");
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    let (_, v) = s.get_json("/api/v1/series?match[]=up&start=1700000100");
    assert_eq!(v["data"], serde_json::json!([]));
    // limit truncates with a warning.
    let (_, v) = s.get_json("/api/v1/label/__name__/values?limit=1");
    assert_eq!(v["data"], serde_json::json!(["node_load1"]));
    assert_eq!(
        v["warnings"],
        serde_json::json!(["results truncated due to limit"])
    );
    // POST form works like GET.
    let r = reqwest::blocking::Client::new()
        .post(s.url("/api/v1/series"))
        .form(&[("match[]", "{job=\"node\"}")])
        .send()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&r.text().unwrap()).unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);

    let exported = s.export("up");
    assert_eq!(
        exported[0].1,
        vec![(1_700_000_000_000, 1.0), (1_700_000_015_000, 1.0)]
    );

    // /metrics counts the traffic by route and status.
    let (st, text) = s.get_text("/metrics");
    assert_eq!(st, 200);
    assert!(
        text.contains(r#"pharos_http_requests_total{handler="/api/v1/write",code="204"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"pharos_http_requests_total{handler="/api/v1/series",code="200"}"#),
        "{text}"
    );
}

#[test]
fn v2_write_with_symbols() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"));
    let req = v2::Request {
        symbols: ["", "__name__", "temp_celsius", "room", "lab"]
            .iter()
            .map(|x| bytes::Bytes::from(x.to_string()))
            .collect(),
        timeseries: vec![v2::TimeSeries {
            labels_refs: vec![1, 2, 3, 4],
            samples: vec![
                v2::Sample {
                    value: 21.5,
                    timestamp: 1000,
                    start_timestamp: 0,
                },
                v2::Sample {
                    value: 21.75,
                    timestamp: 2000,
                    start_timestamp: 0,
                },
            ],
            ..Default::default()
        }],
    };
    let r = reqwest::blocking::Client::new()
        .post(s.url("/api/v1/write"))
        .header(
            "Content-Type",
            "application/x-protobuf;proto=io.prometheus.write.v2.Request",
        )
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "2.0.0")
        .body(snappy(&req.encode_to_vec()))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(
        r.headers()["X-Prometheus-Remote-Write-Samples-Written"],
        "2"
    );
    let got = s.export("temp_celsius");
    assert_eq!(
        got[0].0,
        serde_json::json!({"__name__": "temp_celsius", "room": "lab"})
    );
    assert_eq!(got[0].1, vec![(1000, 21.5), (2000, 21.75)]);
}

#[test]
fn out_of_order_samples_are_reported_and_the_rest_stored() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"));
    assert_eq!(write_v1(&s, vec![up("a", &[(2000, 1.0)])]).unwrap().0, 204);
    let (status, body) =
        write_v1(&s, vec![up("a", &[(1000, 5.0)]), up("b", &[(1000, 7.0)])]).unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("out of order sample"), "{body}");
    assert!(body.contains("stored 1 of 2 samples"), "{body}");
    assert_eq!(s.export("{job=\"b\"}")[0].1, vec![(1000, 7.0)]);
    assert_eq!(s.export("{job=\"a\"}")[0].1, vec![(2000, 1.0)]);
    // Re-sending an identical sample is success (idempotent retries).
    assert_eq!(write_v1(&s, vec![up("a", &[(2000, 1.0)])]).unwrap().0, 204);
    let (status, body) = write_v1(&s, vec![up("a", &[(2000, 3.0)])]).unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("duplicate sample for timestamp"), "{body}");
    // A timestamp in microseconds lies centuries ahead: out of bounds, and
    // it must not make retention think everything else is old.
    let micros = 1_700_000_000_000_000;
    let (status, body) = write_v1(&s, vec![up("c", &[(micros, 1.0)])]).unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("out of bounds"), "{body}");
    assert!(s.export("{job=\"c\"}").is_empty());
}

#[test]
fn bad_input_gets_a_clear_4xx_and_harms_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(&dir.path().join("data"));
    assert_eq!(
        write_v1(&s, vec![up("keep", &[(1000, 42.0)])]).unwrap().0,
        204
    );
    let good = pharos_agent::remote::proto::WriteRequest {
        timeseries: vec![up("x", &[(5000, 1.0)])],
        metadata: vec![],
    }
    .encode_to_vec();
    let compressed = snappy(&good);
    let ct = Some("application/x-protobuf");

    // Truncated snappy.
    let (st, body) = post_write(&s, compressed[..compressed.len() / 2].to_vec(), ct).unwrap();
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("snappy"), "{body}");
    // Garbage protobuf inside valid snappy.
    let (st, body) = post_write(&s, snappy(&[0xff; 64]), ct).unwrap();
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("protobuf"), "{body}");
    // Not snappy at all.
    let (st, _) = post_write(&s, b"hello world".to_vec(), ct).unwrap();
    assert_eq!(st, 400);
    // Empty label name, duplicate names, unsorted names.
    for (labels, want) in [
        (vec![("__name__", "m"), ("", "v")], "empty label name"),
        (
            vec![("__name__", "m"), ("a", "1"), ("a", "2")],
            "duplicate label name",
        ),
        (vec![("b", "1"), ("__name__", "m")], "not sorted"),
        (vec![("job", "no-name")], "no metric name"),
    ] {
        let (st, body) = write_v1(&s, vec![series(&labels, &[(1000, 1.0)])]).unwrap();
        assert_eq!(st, 400, "{labels:?}: {body}");
        assert!(body.contains(want), "{labels:?}: {body}");
    }
    // Unsupported content type and encoding.
    let (st, body) = post_write(&s, compressed.clone(), Some("application/json")).unwrap();
    assert_eq!(st, 415, "{body}");
    let r = reqwest::blocking::Client::new()
        .post(s.url("/api/v1/write"))
        .header("Content-Encoding", "gzip")
        .body(compressed.clone())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    // A body over the compressed limit, and a snappy bomb over the
    // decompressed limit.
    // (The oversized request announces its length and is refused before its
    // body is read, so the test sends only the head: a client streaming the
    // body may see the connection close before it reads the 413.)
    {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(&s.addr).unwrap();
        write!(
            conn,
            "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nContent-Length: {}\r\n\r\n",
            33 << 20
        )
        .unwrap();
        let mut head = [0u8; 12];
        conn.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"HTTP/1.1 413");
    }
    let (st, body) = post_write(&s, snappy(&vec![0u8; 70 << 20]), ct).unwrap();
    assert_eq!(st, 413, "{body}");
    // Bad query parameters get Prometheus's error envelope.
    let (st, v) = s.get_json("/api/v1/series?match[]=up{");
    assert_eq!(st, 400);
    assert_eq!(v["status"], "error");
    assert_eq!(v["errorType"], "bad_data");
    let (st, v) = s.get_json("/api/v1/series");
    assert_eq!(
        (st, v["error"].as_str().unwrap()),
        (400, "no match[] parameter provided")
    );
    let (st, v) = s.get_json("/api/v1/labels?start=yesterday");
    assert_eq!(st, 400);
    assert!(v["error"].as_str().unwrap().contains("\"start\""));

    // Still up, earlier data intact, and new writes still work.
    assert!(s.alive());
    assert_eq!(s.export("{job=\"keep\"}")[0].1, vec![(1000, 42.0)]);
    assert_eq!(post_write(&s, compressed, ct).unwrap().0, 204);
    assert!(s.stop(), "clean shutdown");
}

#[test]
fn data_survives_a_clean_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = Server::start(&data);
    let samples: Vec<(i64, f64)> = (0..2000).map(|i| (i * 15_000, i as f64)).collect();
    for part in samples.chunks(250) {
        assert_eq!(write_v1(&s, vec![up("r", part)]).unwrap().0, 204);
    }
    assert!(s.stop());
    let s = Server::start(&data);
    assert_eq!(s.export("up")[0].1, samples);
}

#[test]
fn the_host_collector_stores_node_exporter_series_out_of_the_box() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_with(&dir.path().join("data"), &[]);
    // The first collection runs at start; give it a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, v) = s.get_json("/api/v1/series?match[]=node_cpu_seconds_total");
        let found = v["data"].as_array().map_or(0, |a| a.len());
        if found > 0 {
            let first = &v["data"][0];
            assert_eq!(first["job"], "node");
            assert!(
                first["mode"].is_string() && first["cpu"].is_string(),
                "{first}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no host series after 20 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for name in [
        "node_memory_MemTotal_bytes",
        "node_load1",
        "node_boot_time_seconds",
    ] {
        let got = s.export(name);
        assert_eq!(got.len(), 1, "{name}");
        assert!(got[0].1[0].1 > 0.0, "{name}");
    }
}
