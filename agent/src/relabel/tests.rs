//! Relabeling tests. The `prometheus_cases` table is adapted from
//! Prometheus's `model/relabel/relabel_test.go` (including its hashmod
//! values); the other tables cover edge cases and Go-compatibility details.

use super::*;
use proptest::prelude::*;

type Pairs = &'static [(&'static str, &'static str)];

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn cfg(action: Action) -> RelabelConfig {
    RelabelConfig::new(action)
}

/// Shorthand for a rule with a regex; the test regexes always compile.
fn with_re(c: RelabelConfig, re: &str) -> RelabelConfig {
    c.regex(re).expect("test regex compiles")
}

struct Case {
    name: &'static str,
    input: Pairs,
    configs: Vec<RelabelConfig>,
    /// `None`: the label set is dropped.
    want: Option<Pairs>,
}

fn run(cases: Vec<Case>) {
    for case in cases {
        for c in &case.configs {
            assert_eq!(c.validate(), Ok(()), "{}: config {c:?} invalid", case.name);
        }
        let mut got = labels(case.input);
        let keep = process(&mut got, &case.configs);
        match case.want {
            None => {
                assert!(!keep, "{}: expected drop, got {got:?}", case.name);
                assert!(got.is_empty(), "{}: dropped set not cleared", case.name);
            }
            Some(want) => {
                assert!(keep, "{}: unexpectedly dropped", case.name);
                let mut want = labels(want);
                want.sort();
                assert_eq!(got, want, "{}", case.name);
            }
        }
    }
}

#[test]
fn prometheus_cases() {
    use Action::*;
    run(vec![
        Case {
            name: "replace with braces",
            input: &[("a", "foo"), ("b", "bar"), ("c", "baz")],
            configs: vec![with_re(cfg(Replace).source_labels(["a"]), "f(.*)")
                .target_label("d")
                .replacement("ch${1}-ch${1}")],
            want: Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "choo-choo")]),
        },
        Case {
            name: "chained replaces see earlier results",
            input: &[("a", "foo"), ("b", "bar"), ("c", "baz")],
            configs: vec![
                with_re(cfg(Replace).source_labels(["a", "b"]), "f(.*);(.*)r")
                    .target_label("a")
                    .replacement("b${1}${2}m"),
                with_re(cfg(Replace).source_labels(["c", "a"]), "(b).*b(.*)ba(.*)")
                    .target_label("d")
                    .replacement("$1$2$2$3"),
            ],
            want: Some(&[("a", "boobam"), ("b", "bar"), ("c", "baz"), ("d", "boooom")]),
        },
        Case {
            name: "drop stops processing",
            input: &[("a", "foo")],
            configs: vec![
                with_re(cfg(Drop).source_labels(["a"]), ".*o.*"),
                with_re(cfg(Replace).source_labels(["a"]), "f(.*)")
                    .target_label("d")
                    .replacement("ch$1-ch$1"),
            ],
            want: None,
        },
        Case {
            name: "drop on match",
            input: &[("a", "foo"), ("b", "bar")],
            configs: vec![with_re(cfg(Drop).source_labels(["a"]), ".*o.*")],
            want: None,
        },
        Case {
            name: "replace captures middle",
            input: &[("a", "abc")],
            configs: vec![with_re(cfg(Replace).source_labels(["a"]), ".*(b).*")
                .target_label("d")
                .replacement("$1")],
            want: Some(&[("a", "abc"), ("d", "b")]),
        },
        Case {
            name: "drop without match keeps",
            input: &[("a", "foo")],
            configs: vec![with_re(cfg(Drop).source_labels(["a"]), "no-match")],
            want: Some(&[("a", "foo")]),
        },
        Case {
            name: "regex is anchored",
            input: &[("a", "foo")],
            configs: vec![with_re(cfg(Drop).source_labels(["a"]), "f|o")],
            want: Some(&[("a", "foo")]),
        },
        Case {
            name: "keep without match drops",
            input: &[("a", "foo")],
            configs: vec![with_re(cfg(Keep).source_labels(["a"]), "no-match")],
            want: None,
        },
        Case {
            name: "keep on match",
            input: &[("a", "foo")],
            configs: vec![with_re(cfg(Keep).source_labels(["a"]), "f.*")],
            want: Some(&[("a", "foo")]),
        },
        Case {
            name: "no replacement without match",
            input: &[("a", "boo")],
            configs: vec![with_re(cfg(Replace).source_labels(["a"]), "f")
                .target_label("b")
                .replacement("bar")],
            want: Some(&[("a", "boo")]),
        },
        Case {
            name: "hashmod baz",
            input: &[("a", "foo"), ("b", "bar"), ("c", "baz")],
            configs: vec![cfg(HashMod)
                .source_labels(["c"])
                .target_label("d")
                .modulus(1000)],
            want: Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "976")]),
        },
        Case {
            name: "hashmod with newline",
            input: &[("a", "foo\nbar")],
            configs: vec![cfg(HashMod)
                .source_labels(["a"])
                .target_label("b")
                .modulus(1000)],
            want: Some(&[("a", "foo\nbar"), ("b", "734")]),
        },
        Case {
            name: "labelmap prefix",
            input: &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
            configs: vec![with_re(cfg(LabelMap), "(b.*)").replacement("bar_${1}")],
            want: Some(&[
                ("a", "foo"),
                ("b1", "bar"),
                ("b2", "baz"),
                ("bar_b1", "bar"),
                ("bar_b2", "baz"),
            ]),
        },
        Case {
            name: "labelmap meta",
            input: &[
                ("a", "foo"),
                ("__meta_my_bar", "aaa"),
                ("__meta_my_baz", "bbb"),
                ("__meta_other", "ccc"),
            ],
            configs: vec![with_re(cfg(LabelMap), "__meta_(my.*)").replacement("${1}")],
            want: Some(&[
                ("a", "foo"),
                ("__meta_my_bar", "aaa"),
                ("__meta_my_baz", "bbb"),
                ("__meta_other", "ccc"),
                ("my_bar", "aaa"),
                ("my_baz", "bbb"),
            ]),
        },
        Case {
            name: "templated target",
            input: &[("a", "some-name-value")],
            configs: vec![
                with_re(cfg(Replace).source_labels(["a"]), "some-([^-]+)-([^,]+)")
                    .replacement("${2}")
                    .target_label("${1}"),
            ],
            want: Some(&[("a", "some-name-value"), ("name", "value")]),
        },
        Case {
            name: "empty replacement sets nothing",
            input: &[("a", "some-name-value")],
            configs: vec![
                with_re(cfg(Replace).source_labels(["a"]), "some-([^-]+)-([^,]+)")
                    .replacement("${3}")
                    .target_label("${1}"),
            ],
            want: Some(&[("a", "some-name-value")]),
        },
        Case {
            name: "invalid expanded targets are skipped",
            input: &[("a", "some-name-0")],
            configs: vec![
                with_re(cfg(Replace).source_labels(["a"]), "some-([^-]+)-([^,]+)")
                    .replacement("${1}")
                    .target_label("${3}"),
                with_re(cfg(Replace).source_labels(["a"]), "some-([^-]+)-([^,]+)")
                    .replacement("${1}")
                    .target_label("${3}"),
                with_re(cfg(Replace).source_labels(["a"]), "some-([^-]+)(-[^,]+)")
                    .replacement("${1}")
                    .target_label("${3}"),
            ],
            want: Some(&[("a", "some-name-0")]),
        },
        Case {
            name: "service discovery tags",
            input: &[("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar")],
            configs: vec![
                with_re(
                    cfg(Replace).source_labels(["__meta_sd_tags"]),
                    "(?:.+,|^)path:(/[^,]+).*",
                )
                .replacement("${1}")
                .target_label("__metrics_path__"),
                with_re(
                    cfg(Replace).source_labels(["__meta_sd_tags"]),
                    "(?:.+,|^)job:([^,]+).*",
                )
                .replacement("${1}")
                .target_label("job"),
                with_re(
                    cfg(Replace).source_labels(["__meta_sd_tags"]),
                    "(?:.+,|^)label:([^=]+)=([^,]+).*",
                )
                .replacement("${2}")
                .target_label("${1}"),
            ],
            want: Some(&[
                ("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar"),
                ("__metrics_path__", "/secret"),
                ("job", "some-job"),
                ("foo", "bar"),
            ]),
        },
        Case {
            name: "prometheus issue 12283: re-adding a dropped label",
            input: &[
                ("__meta_kubernetes_pod_container_port_name", "foo"),
                ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
            ],
            configs: vec![
                with_re(
                    cfg(LabelDrop),
                    "^__meta_kubernetes_pod_container_port_name$",
                ),
                with_re(
                    cfg(Replace)
                        .source_labels(["__meta_kubernetes_pod_annotation_XXX_metrics_port"]),
                    "(.+)",
                )
                .replacement("metrics")
                .target_label("__meta_kubernetes_pod_container_port_name"),
                with_re(
                    cfg(Keep).source_labels(["__meta_kubernetes_pod_container_port_name"]),
                    "^metrics$",
                ),
            ],
            want: Some(&[
                ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
                ("__meta_kubernetes_pod_container_port_name", "metrics"),
            ]),
        },
        Case {
            name: "labelkeep",
            input: &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
            configs: vec![with_re(cfg(LabelKeep), "(b.*)")],
            want: Some(&[("b1", "bar"), ("b2", "baz")]),
        },
        Case {
            name: "labeldrop",
            input: &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
            configs: vec![with_re(cfg(LabelDrop), "(b.*)")],
            want: Some(&[("a", "foo")]),
        },
        Case {
            name: "upper and lower",
            input: &[("foo", "bAr123Foo")],
            configs: vec![
                cfg(Uppercase)
                    .source_labels(["foo"])
                    .target_label("foo_uppercase"),
                cfg(Lowercase)
                    .source_labels(["foo"])
                    .target_label("foo_lowercase"),
            ],
            want: Some(&[
                ("foo", "bAr123Foo"),
                ("foo_lowercase", "bar123foo"),
                ("foo_uppercase", "BAR123FOO"),
            ]),
        },
        Case {
            name: "keepequal equal",
            input: &[
                ("__tmp_port", "1234"),
                ("__port1", "1234"),
                ("__port2", "5678"),
            ],
            configs: vec![cfg(KeepEqual)
                .source_labels(["__tmp_port"])
                .target_label("__port1")],
            want: Some(&[
                ("__tmp_port", "1234"),
                ("__port1", "1234"),
                ("__port2", "5678"),
            ]),
        },
        Case {
            name: "dropequal equal",
            input: &[
                ("__tmp_port", "1234"),
                ("__port1", "1234"),
                ("__port2", "5678"),
            ],
            configs: vec![cfg(DropEqual)
                .source_labels(["__tmp_port"])
                .target_label("__port1")],
            want: None,
        },
        Case {
            name: "dropequal different",
            input: &[
                ("__tmp_port", "1234"),
                ("__port1", "1234"),
                ("__port2", "5678"),
            ],
            configs: vec![cfg(DropEqual)
                .source_labels(["__tmp_port"])
                .target_label("__port2")],
            want: Some(&[
                ("__tmp_port", "1234"),
                ("__port1", "1234"),
                ("__port2", "5678"),
            ]),
        },
        Case {
            name: "keepequal different",
            input: &[
                ("__tmp_port", "1234"),
                ("__port1", "1234"),
                ("__port2", "5678"),
            ],
            configs: vec![cfg(KeepEqual)
                .source_labels(["__tmp_port"])
                .target_label("__port2")],
            want: None,
        },
    ]);
}

#[test]
fn edge_cases() {
    use Action::*;
    run(vec![
        Case {
            name: "no configs: input only normalized",
            input: &[("b", "2"), ("a", "1"), ("e", "")],
            configs: vec![],
            want: Some(&[("a", "1"), ("b", "2")]),
        },
        Case {
            name: "missing source label is the empty string",
            input: &[("a", "x")],
            configs: vec![with_re(cfg(Replace).source_labels(["missing"]), "")
                .target_label("was_empty")
                .replacement("yes")],
            want: Some(&[("a", "x"), ("was_empty", "yes")]),
        },
        Case {
            name: "keep on a missing label drops",
            input: &[("a", "x")],
            configs: vec![with_re(cfg(Keep).source_labels(["missing"]), ".+")],
            want: None,
        },
        Case {
            name: "missing label still takes a separator slot",
            input: &[("a", "x")],
            configs: vec![
                with_re(cfg(Replace).source_labels(["a", "missing", "a"]), "(.*)")
                    .target_label("joined"),
            ],
            want: Some(&[("a", "x"), ("joined", "x;;x")]),
        },
        Case {
            name: "custom separator",
            input: &[("host", "h1"), ("port", "80")],
            configs: vec![cfg(Replace)
                .source_labels(["host", "port"])
                .separator(":")
                .target_label("__address__")],
            want: Some(&[("host", "h1"), ("port", "80"), ("__address__", "h1:80")]),
        },
        Case {
            name: "constant label without sources",
            input: &[("a", "x")],
            configs: vec![cfg(Replace).target_label("env").replacement("prod")],
            want: Some(&[("a", "x"), ("env", "prod")]),
        },
        Case {
            name: "default replace copies a label",
            input: &[("a", "x")],
            configs: vec![cfg(Replace).source_labels(["a"]).target_label("b")],
            want: Some(&[("a", "x"), ("b", "x")]),
        },
        Case {
            name: "replace overwrites an existing label",
            input: &[("a", "x"), ("b", "old")],
            configs: vec![cfg(Replace).source_labels(["a"]).target_label("b")],
            want: Some(&[("a", "x"), ("b", "x")]),
        },
        Case {
            name: "empty replacement deletes the target",
            input: &[("a", "x"), ("b", "old")],
            configs: vec![cfg(Replace)
                .source_labels(["a"])
                .target_label("b")
                .replacement("")],
            want: Some(&[("a", "x")]),
        },
        Case {
            name: "copying a missing label deletes the target",
            input: &[("b", "old")],
            configs: vec![cfg(Replace).source_labels(["missing"]).target_label("b")],
            want: Some(&[]),
        },
        Case {
            name: "named groups",
            input: &[("__address__", "example.org:9100")],
            configs: vec![with_re(
                cfg(Replace).source_labels(["__address__"]),
                r"(?P<host>[^:]+):(?P<port>\d+)",
            )
            .target_label("instance")
            .replacement("$host/${port}")],
            want: Some(&[
                ("__address__", "example.org:9100"),
                ("instance", "example.org/9100"),
            ]),
        },
        Case {
            name: "$1x is the group named 1x, so it is empty",
            input: &[("a", "foo"), ("t", "keep")],
            configs: vec![with_re(cfg(Replace).source_labels(["a"]), "(.*)")
                .target_label("t")
                .replacement("$1x")],
            want: Some(&[("a", "foo")]),
        },
        Case {
            name: "${1}x appends",
            input: &[("a", "foo")],
            configs: vec![with_re(cfg(Replace).source_labels(["a"]), "(.*)")
                .target_label("t")
                .replacement("${1}x")],
            want: Some(&[("a", "foo"), ("t", "foox")]),
        },
        Case {
            name: "$$ and malformed references stay literal",
            input: &[("a", "foo")],
            configs: vec![with_re(cfg(Replace).source_labels(["a"]), "(.*)")
                .target_label("t")
                .replacement("$$1 $- ${1 ${} $")],
            want: Some(&[("a", "foo"), ("t", "$1 $- ${1 ${} $")]),
        },
        Case {
            name: "lowercase of a missing label deletes the target",
            input: &[("t", "old")],
            configs: vec![cfg(Lowercase).source_labels(["missing"]).target_label("t")],
            want: Some(&[]),
        },
        Case {
            name: "case mapping joins sources",
            input: &[("a", "Foo"), ("b", "Bar")],
            configs: vec![cfg(Uppercase)
                .source_labels(["a", "b"])
                .separator("-")
                .target_label("t")],
            want: Some(&[("a", "Foo"), ("b", "Bar"), ("t", "FOO-BAR")]),
        },
        Case {
            name: "hashmod over several sources",
            input: &[("a", "a"), ("b", "b")],
            configs: vec![cfg(HashMod)
                .source_labels(["a", "b"])
                .target_label("shard")
                .modulus(1 << 63)],
            want: Some(&[("a", "a"), ("b", "b"), ("shard", "2420134994223480074")]),
        },
        Case {
            name: "labeldrop of meta labels",
            input: &[
                ("__meta_kubernetes_pod_name", "p"),
                ("__meta_kubernetes_namespace", "ns"),
                ("__address__", "10.0.0.1:80"),
                ("job", "j"),
            ],
            configs: vec![with_re(cfg(LabelDrop), "__meta_.*")],
            want: Some(&[("__address__", "10.0.0.1:80"), ("job", "j")]),
        },
        Case {
            name: "labelkeep matches whole names",
            input: &[("job", "j"), ("jobs", "x"), ("instance", "i")],
            configs: vec![with_re(cfg(LabelKeep), "job|instance")],
            want: Some(&[("job", "j"), ("instance", "i")]),
        },
        Case {
            name: "labelmap with two capture groups",
            input: &[("__meta_kubernetes_pod_label_app", "web"), ("x", "1")],
            configs: vec![with_re(cfg(LabelMap), "__meta_kubernetes_(pod)_label_(.+)")
                .replacement("${1}_${2}")],
            want: Some(&[
                ("__meta_kubernetes_pod_label_app", "web"),
                ("pod_app", "web"),
                ("x", "1"),
            ]),
        },
        Case {
            name: "labelmap conflict: later name in order wins",
            input: &[("__meta_a_x", "1"), ("__meta_b_x", "2")],
            configs: vec![with_re(cfg(LabelMap), "__meta_[ab]_(.*)")],
            want: Some(&[("__meta_a_x", "1"), ("__meta_b_x", "2"), ("x", "2")]),
        },
        Case {
            // Prometheus's builder visits labels set by earlier rules after
            // the untouched ones, whatever their names.
            name: "labelmap conflict: labels set by earlier rules come last",
            input: &[("__meta_b_x", "base")],
            configs: vec![
                cfg(Replace).target_label("__meta_a_x").replacement("added"),
                with_re(cfg(LabelMap), "__meta_[ab]_(.*)"),
            ],
            want: Some(&[
                ("__meta_a_x", "added"),
                ("__meta_b_x", "base"),
                ("x", "added"),
            ]),
        },
        Case {
            name: "labelmap to an empty name is skipped",
            input: &[("a", "1")],
            configs: vec![with_re(cfg(LabelMap), "(.*)").replacement("${2}")],
            want: Some(&[("a", "1")]),
        },
        Case {
            name: "labelmap sees the labels as they were before the rule",
            input: &[("a", "1"), ("b", "2")],
            configs: vec![with_re(cfg(LabelMap), "(a|b)").replacement("b")],
            want: Some(&[("a", "1"), ("b", "2")]),
        },
        Case {
            name: "keepequal against a missing target with empty source",
            input: &[("a", "1")],
            configs: vec![cfg(KeepEqual)
                .source_labels(["missing"])
                .target_label("absent")],
            want: Some(&[("a", "1")]),
        },
        Case {
            name: "dropequal against a missing target with empty source",
            input: &[("a", "1")],
            configs: vec![cfg(DropEqual)
                .source_labels(["missing"])
                .target_label("absent")],
            want: None,
        },
    ]);
}

#[test]
fn normalizes_input() {
    let mut ls = labels(&[("b", "1"), ("a", ""), ("b", "2"), ("c", "3"), ("a", "x")]);
    assert!(process(&mut ls, &[]));
    assert_eq!(ls, labels(&[("a", "x"), ("b", "2"), ("c", "3")]));
}

#[test]
fn hashmod_matches_prometheus() {
    // 976 and 734 come from Prometheus's own tests; the others were computed
    // with Python's hashlib from the last eight digest bytes.
    assert_eq!(hash_mod("baz", 1000), 976);
    assert_eq!(hash_mod("foo\nbar", 1000), 734);
    assert_eq!(hash_mod("", 10), 8);
    assert_eq!(hash_mod("10.0.0.1:9100", 8), 5);
    assert_eq!(hash_mod("a;b", 1 << 63), 2_420_134_994_223_480_074);
    assert_eq!(hash_mod("anything", 1), 0);
}

#[test]
fn expand_follows_go() {
    let re = regex::Regex::new("^(?:(?P<first>a+)(b+)?(?P<é>c*))$").unwrap();
    let caps = re.captures("aacc").unwrap();
    let cases = [
        ("$1", "aa"),
        ("${1}", "aa"),
        ("$first", "aa"),
        ("${first}", "aa"),
        ("$2", ""), // group did not participate
        ("$3", "cc"),
        ("$é", "cc"), // Go names include Unicode letters
        ("$1x", ""),  // longest name: group named "1x"
        ("${1}x", "aax"),
        ("$01", ""), // leading zero: a name, not a number
        ("$0", "aacc"),
        ("$99", ""),
        ("$999999999", ""),
        ("$$", "$"),
        ("$$1", "$1"),
        ("$", "$"),
        ("a$", "a$"),
        ("$-", "$-"),
        ("${", "${"),
        ("${}", "${}"),
        ("${1", "${1"),
        ("x$1.$first-", "xaa.aa-"),
        ("no refs", "no refs"),
    ];
    for (template, want) in cases {
        assert_eq!(expand(template, &caps), want, "template {template:?}");
    }
}

#[test]
fn case_mapping_follows_go() {
    // Go maps per character with simple mappings: no "SS" for ß, no
    // final-sigma rule.
    assert_eq!(go_to_upper("straße"), "STRAßE");
    assert_eq!(go_to_lower("ΣΑΣ"), "σασ");
    assert_eq!(go_to_lower("İx"), "ix");
    assert_eq!(go_to_upper("ǆ"), "Ǆ");
    assert_eq!(go_to_lower("ÀB"), "àb");
}

#[test]
fn relabel_target_shape() {
    // Prometheus's TestTargetLabelValidity.
    let cases = [
        ("-label", false),
        ("label", true),
        ("label${1}", true),
        ("${1}label", true),
        ("${1}", true),
        ("${", false),
        ("$", false),
        ("${}", false),
        ("foo${", false),
        ("$1", true),
        ("asd$2asd", true),
        ("-foo${1}bar-", false),
        ("_${1}_", true),
        ("foo${bar}foo", true),
    ];
    for (s, want) in cases {
        assert_eq!(is_relabel_target(s), want, "{s:?}");
    }
}

#[test]
fn label_name_validity() {
    for ok in ["a", "_", "__name__", "A1_b"] {
        assert!(is_valid_label_name(ok), "{ok:?}");
    }
    for bad in ["", "1a", "a-b", "a.b", "é", " a"] {
        assert!(!is_valid_label_name(bad), "{bad:?}");
    }
}

#[test]
fn validation_errors() {
    use Action::*;
    let cases: Vec<(RelabelConfig, &str)> = vec![
        (cfg(Replace), "relabel configuration for replace action requires 'target_label' value"),
        (cfg(Lowercase), "relabel configuration for lowercase action requires 'target_label' value"),
        (cfg(KeepEqual), "relabel configuration for keepequal action requires 'target_label' value"),
        (
            cfg(Lowercase).target_label("${3}"),
            r#""${3}" is invalid 'target_label' for lowercase action"#,
        ),
        (
            with_re(cfg(Replace).source_labels(["a"]), "some-([^-]+)-([^,]+)")
                .replacement("${1}")
                .target_label("0${3}"),
            r#""0${3}" is invalid 'target_label' for replace action"#,
        ),
        (
            cfg(Replace).target_label("-${3}"),
            r#""-${3}" is invalid 'target_label' for replace action"#,
        ),
        (
            cfg(Replace).target_label("a-b"),
            r#""a-b" is invalid 'target_label' for replace action"#,
        ),
        (
            cfg(HashMod).target_label("t"),
            "relabel configuration for hashmod requires non-zero modulus",
        ),
        (
            cfg(HashMod).modulus(2),
            "relabel configuration for hashmod action requires 'target_label' value",
        ),
        (
            cfg(HashMod).modulus(2).target_label("${1}"),
            r#""${1}" is invalid 'target_label' for hashmod action"#,
        ),
        (
            cfg(Uppercase).target_label("t").replacement("x"),
            "'replacement' can not be set for uppercase action",
        ),
        (
            with_re(cfg(KeepEqual).target_label("t"), "a"),
            "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
        ),
        (
            cfg(DropEqual).target_label("t").separator(","),
            "dropequal action requires only 'source_labels' and `target_label`, and no other fields",
        ),
        (
            cfg(LabelDrop).source_labels(["a"]),
            "labeldrop action requires only 'regex', and no other fields",
        ),
        (
            cfg(LabelKeep).target_label("a"),
            "labelkeep action requires only 'regex', and no other fields",
        ),
        (
            cfg(LabelKeep).replacement("x"),
            "labelkeep action requires only 'regex', and no other fields",
        ),
        (
            cfg(LabelMap).replacement("-x"),
            r#""-x" is invalid 'replacement' for labelmap action"#,
        ),
        (
            cfg(Keep).source_labels(["1a"]),
            r#""1a" is not a valid label name"#,
        ),
    ];
    for (c, want) in cases {
        assert_eq!(c.validate(), Err(want.to_string()), "{c:?}");
    }
    // Accepted shapes.
    for c in [
        with_re(cfg(Replace).source_labels(["a"]), "some-([^-]+)-([^,]+)")
            .replacement("${1}")
            .target_label("${3}"),
        cfg(LabelDrop),
        cfg(Keep),
        cfg(Drop).source_labels(["__name__"]),
        cfg(LabelMap),
        cfg(HashMod).modulus(1).target_label("t"),
    ] {
        assert_eq!(c.validate(), Ok(()), "{c:?}");
    }
}

#[test]
fn invalid_regex_is_an_error() {
    assert!(RelabelRegex::new("(").is_err());
    assert!(cfg(Action::Keep).regex("a[").is_err());
}

#[test]
fn action_parsing() {
    assert_eq!("LabelMap".parse::<Action>(), Ok(Action::LabelMap));
    assert_eq!("keepequal".parse::<Action>(), Ok(Action::KeepEqual));
    assert_eq!(
        "bogus".parse::<Action>(),
        Err(r#"unknown relabel action "bogus""#.to_string())
    );
    for a in [
        Action::Replace,
        Action::Keep,
        Action::Drop,
        Action::KeepEqual,
        Action::DropEqual,
        Action::HashMod,
        Action::LabelMap,
        Action::LabelDrop,
        Action::LabelKeep,
        Action::Lowercase,
        Action::Uppercase,
    ] {
        assert_eq!(a.to_string().parse::<Action>(), Ok(a));
    }
}

#[test]
fn deserialize() {
    let parse = |s: &str| serde_json::from_str::<RelabelConfig>(s).map_err(|e| e.to_string());

    let c = parse(r#"{"source_labels": ["a", "b"], "target_label": "t"}"#).unwrap();
    assert_eq!(
        c,
        cfg(Action::Replace)
            .source_labels(["a", "b"])
            .target_label("t")
    );

    let c = parse(
        r#"{"source_labels": ["x"], "separator": ",", "regex": "a(.*)", "modulus": 0,
            "target_label": "t", "replacement": "${1}", "action": "REPLACE"}"#,
    )
    .unwrap();
    assert_eq!(c.separator, ",");
    assert_eq!(c.regex.as_str(), "a(.*)");
    assert_eq!(c.replacement, "${1}");

    let c = parse(r#"{"action": "hashmod", "modulus": 8, "source_labels": ["__address__"], "target_label": "__tmp_hash"}"#)
        .unwrap();
    assert_eq!(c.action, Action::HashMod);
    assert_eq!(c.modulus, 8);

    // Explicit null regex: the empty regex, as in Prometheus.
    let c = parse(r#"{"action": "labeldrop", "regex": null}"#).unwrap();
    assert_eq!(c.regex.as_str(), "");

    let err = parse(r#"{"action": "labeldrop", "regexp": "x"}"#).unwrap_err();
    assert!(err.contains("unknown field"), "{err}");
    let err = parse(r#"{"action": "nope"}"#).unwrap_err();
    assert!(err.contains("unknown relabel action"), "{err}");
    let err = parse(r#"{"action": "hashmod", "target_label": "t"}"#).unwrap_err();
    assert!(err.contains("requires non-zero modulus"), "{err}");
    let err = parse(r#"{"action": "keep", "regex": "("}"#).unwrap_err();
    assert!(err.contains("invalid regex"), "{err}");
}

#[test]
fn unvalidated_configs_do_not_panic() {
    use Action::*;
    let mut ls = labels(&[("a", "1")]);
    let configs = [
        cfg(HashMod).source_labels(["a"]).target_label("t"), // modulus 0
        cfg(HashMod).modulus(3),                             // no target
        cfg(Replace),                                        // no target
        cfg(Lowercase).target_label("bad-name"),
        cfg(Replace).source_labels(["a"]).target_label("bad-name"),
    ];
    assert!(process(&mut ls, &configs));
    assert_eq!(ls, labels(&[("a", "1")]));
}

fn any_action() -> impl Strategy<Value = Action> {
    prop::sample::select(vec![
        Action::Replace,
        Action::Keep,
        Action::Drop,
        Action::KeepEqual,
        Action::DropEqual,
        Action::HashMod,
        Action::LabelMap,
        Action::LabelDrop,
        Action::LabelKeep,
        Action::Lowercase,
        Action::Uppercase,
    ])
}

fn any_config() -> impl Strategy<Value = RelabelConfig> {
    (
        any_action(),
        prop::collection::vec("[a-c_]{0,3}", 0..3),
        "[;,]?",
        prop::sample::select(vec![
            "(.*)",
            "",
            "a(.*)",
            "(?P<n>[a-c]+)_?(.*)",
            "[ab]+",
            "(b)|(c)",
        ]),
        0u64..5,
        "[a-c_$}{1n]{0,5}",
        "[a-c_$}{1n-]{0,5}",
    )
        .prop_map(|(action, sources, sep, re, modulus, target, replacement)| {
            let c = RelabelConfig::new(action)
                .source_labels(sources)
                .separator(sep)
                .modulus(modulus)
                .target_label(target)
                .replacement(replacement);
            c.regex(re).expect("strategy regexes compile")
        })
}

proptest! {
    /// Any rules, validated or not, on any labels: no panic, and a kept
    /// result is sorted, duplicate-free and without empty values.
    #[test]
    fn process_never_panics(
        input in prop::collection::vec(("[a-c_]{0,3}", "[a-cA-Cß]{0,3}"), 0..6),
        configs in prop::collection::vec(any_config(), 0..5),
    ) {
        let mut ls: Vec<(String, String)> = input;
        if process(&mut ls, &configs) {
            prop_assert!(ls.windows(2).all(|w| w[0].0 < w[1].0), "{:?}", ls);
            prop_assert!(ls.iter().all(|(_, v)| !v.is_empty()), "{:?}", ls);
        } else {
            prop_assert!(ls.is_empty());
        }
    }
}
