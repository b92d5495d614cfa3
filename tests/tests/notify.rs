//! The notifier's configuration end to end: `pharos check alertmanager`
//! on an Alertmanager file that loads and on one with several problems.

use std::process::Command;

use pharos_tests::pharos_bin;

#[test]
fn check_alertmanager_lists_every_error_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(
        &good,
        "route:\n  receiver: ops\n  group_by: [alertname]\n  routes:\n  - matchers: ['severity=\"page\"']\n    receiver: pager\n    mute_time_intervals: [weekends]\ntime_intervals:\n- name: weekends\n  time_intervals:\n  - weekdays: ['saturday', 'sunday']\nreceivers:\n- name: ops\n  webhook_configs:\n  - url: http://127.0.0.1:5001/\n- name: pager\n  dingtalk_configs:\n  - url: https://oapi.dingtalk.com/robot/send?access_token=x\n    secret: SEC\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "route:\n  receiver: nobody\n  routes:\n  - matchers: ['severity=~\"(\"']\n    receiver: ops\nreceivers:\n- name: ops\n  email_configs:\n  - to: a@example.org\n",
    )
    .unwrap();
    let run = |f: &std::path::Path| {
        let out = Command::new(pharos_bin())
            .args(["check", "alertmanager"])
            .arg(f)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run(&good);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("SUCCESS: 2 receivers, 0 inhibit rules, 1 time intervals"),
        "{out}"
    );
    let (code, out) = run(&bad);
    assert_eq!(code, Some(1), "{out}");
    let b = bad.display();
    for (line, what) in [
        (2, "undefined receiver \"nobody\""),
        (4, "matchers:"),
        (9, "no global SMTP smarthost set"),
    ] {
        assert!(
            out.lines()
                .any(|l| l.contains(&format!("{b}:{line}:")) && l.contains(what)),
            "no {what:?} at line {line} in:\n{out}"
        );
    }
}

/// pharos routes alerts through the tree as Alertmanager does: for each
/// label set, the receivers pharos picks are those the real `amtool config
/// routes test` prints for the same file (Debian's Alertmanager 0.25).
#[test]
fn routing_agrees_with_amtool() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("am.yml");
    // Written for both versions: no keys newer than Alertmanager 0.25.
    std::fs::write(
        &cfg,
        "route:\n  receiver: default\n  group_by: [alertname]\n  routes:\n  - match_re:\n      test: ^[12]$\n    receiver: test1\n    continue: true\n  - match:\n      test: '2'\n    receiver: test2\n  - matchers: ['service=~\"db|cache\"']\n    receiver: data\n    routes:\n    - matchers: ['severity=\"critical\"', 'team!=\"night\"']\n      receiver: data-pager\n      continue: true\n    - matchers: ['severity=~\"crit.*\"']\n      receiver: data-crit\n    - matchers: ['severity=\"warning\"']\n      receiver: data-warn\n  - matchers: ['env=\"\"']\n    receiver: no-env\nreceivers:\n- name: default\n- name: test1\n- name: test2\n- name: data\n- name: data-pager\n- name: data-crit\n- name: data-warn\n- name: no-env\n",
    )
    .unwrap();
    let (am, _) = pharos::notify::config::load_file(&cfg).unwrap_or_else(|e| panic!("{e}"));
    let cases: &[&[(&str, &str)]] = &[
        &[("test", "1")],
        &[("test", "2")],
        &[("test", "3"), ("env", "prod")],
        &[("service", "db"), ("severity", "critical"), ("env", "prod")],
        &[
            ("service", "db"),
            ("severity", "critical"),
            ("team", "night"),
            ("env", "prod"),
        ],
        &[
            ("service", "cache"),
            ("severity", "warning"),
            ("env", "prod"),
        ],
        &[("service", "cache"), ("severity", "info"), ("env", "prod")],
        &[("service", "web")],
        &[("service", "web"), ("env", "prod")],
    ];
    for labels in cases {
        let map = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let ours: Vec<String> = am
            .route
            .matching(&map)
            .iter()
            .map(|r| r.receiver.clone())
            .collect();
        let out = Command::new("/usr/bin/amtool")
            .args(["config", "routes", "test", "--config.file"])
            .arg(&cfg)
            .args(labels.iter().map(|(k, v)| format!("{k}={v}")))
            .output()
            .unwrap();
        let theirs = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(ours.join(","), theirs, "labels {labels:?}");
    }
}
