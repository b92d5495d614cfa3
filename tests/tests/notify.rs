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
