//! Table-driven tests: the language, Go's fmt output, error messages, the
//! Prometheus functions (expected values from Prometheus's and
//! prometheus/common's own test tables) and Alertmanager's default
//! templates on a two-alert notification (expected text worked out by hand
//! from default.tmpl).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};

use super::prometheus::{expand_alert_field, ALERT_TEMPLATE_PRELUDE};
use super::*;

fn smap(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<FixedOffset> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .unwrap()
        .fixed_offset()
}

/// The dot of the language tests.
fn data() -> Value {
    let mut m = BTreeMap::new();
    m.insert("A".into(), Value::from("a"));
    m.insert("E".into(), Value::from(""));
    m.insert("N".into(), Value::Int(3));
    m.insert("F".into(), Value::Float(1.5));
    m.insert(
        "L".into(),
        Value::List(vec![Value::Int(1), Value::Int(2), Value::Int(3)]),
    );
    let mut inner = BTreeMap::new();
    inner.insert("y".to_string(), Value::Int(2));
    inner.insert("x".to_string(), Value::Int(1));
    m.insert("M".into(), Value::Map(inner));
    let mut k = BTreeMap::new();
    k.insert("K".to_string(), Value::from("v"));
    m.insert("Nested".into(), Value::List(vec![Value::Map(k)]));
    m.insert(
        "S".into(),
        Value::string_map(smap(&[("job", "node"), ("instance", "h:9100")])),
    );
    let floats = [
        1.0,
        0.5,
        1234567.0,
        1e21,
        1e-5,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        100000.0,
        123456789.0,
        0.0001,
        -0.0,
        0.1 + 0.2,
    ];
    m.insert(
        "Floats".into(),
        Value::List(floats.iter().map(|f| Value::Float(*f)).collect()),
    );
    let t = utc(2024, 3, 5, 14, 7, 9) + chrono::Duration::milliseconds(500);
    m.insert("T".into(), Value::Time(t));
    m.insert(
        "T2".into(),
        Value::Time(t.with_timezone(&FixedOffset::east_opt(7200).unwrap())),
    );
    m.insert("D".into(), Value::Duration(3_723_500_000_000));
    m.insert("Dms".into(), Value::Duration(1_500_000));
    Value::Map(m)
}

fn render(text: &str, data: &Value, funcs: &Funcs) -> Result<String, String> {
    let t = Template::parse("t", text, funcs).map_err(|e| e.0)?;
    t.execute("t", data, funcs).map_err(|e| e.0)
}

#[test]
fn language() {
    let cases: &[(&str, &str)] = &[
        // Text and literals.
        ("plain text", "plain text"),
        ("{{ 1 }}", "1"),
        ("{{ 1.0 }}", "1"),
        ("{{ 1e3 }}", "1000"),
        ("{{ 0x1F }} {{ 0o17 }} {{ 017 }} {{ 0b101 }} {{ 1_000 }}", "31 15 15 5 1000"),
        ("{{ 'a' }} {{ '\\n' }}", "97 10"),
        ("{{ -3 }} {{ +4 }} {{ .5 }}", "-3 4 0.5"),
        ("{{ \"a\\tb\\u00e9\\x41\\101\" }}", "a\tbéAA"),
        ("{{ `raw\\n` }}", "raw\\n"),
        ("{{ true }} {{ false }}", "true false"),
        // Trimming and comments.
        ("a  {{- 1 -}}  b", "a1b"),
        ("a \n\t{{- 1 }} \n b", "a1 \n b"),
        ("a {{- /* comment */ -}} b", "ab"),
        ("a{{/* comment */}}b", "ab"),
        ("{{-3}}", "-3"),
        ("{{ 1 -}}\n\n  x", "1x"),
        // Variables.
        ("{{ $x := 1 }}{{ $x }}{{ $x = 2 }}{{ $x }}", "12"),
        ("{{ $ }}", "map[A:a D:1h2m3.5s Dms:1.5ms E: F:1.5 Floats:[1 0.5 1.234567e+06 1e+21 1e-05 NaN +Inf -Inf 100000 1.23456789e+08 0.0001 -0 0.30000000000000004] L:[1 2 3] M:map[x:1 y:2] N:3 Nested:[map[K:v]] S:map[instance:h:9100 job:node] T:2024-03-05 14:07:09.5 +0000 UTC T2:2024-03-05 16:07:09.5 +0200 +0200]"),
        ("{{ range .L }}{{ $.A }}{{ end }}", "aaa"),
        ("{{ if true }}{{ $v := 5 }}{{ $v }}{{ end }}", "5"),
        // if / else if / else.
        ("{{ if .E }}y{{ else if .N }}n{{ else }}z{{ end }}", "n"),
        ("{{ if .Missing }}y{{ else }}z{{ end }}", "z"),
        ("{{ if and .A .N }}yes{{ end }}", "yes"),
        ("{{ if 0.0 }}t{{ else }}f{{ end }}{{ if .L }}t{{ end }}{{ if .M }}t{{ end }}", "ftt"),
        // with / else with / else.
        ("{{ with .A }}{{ . }}{{ end }}", "a"),
        ("{{ with .E }}x{{ else }}empty{{ end }}", "empty"),
        ("{{ with .E }}x{{ else with .A }}<{{ . }}>{{ end }}", "<a>"),
        ("{{ with $x := .N }}{{ $x }}{{ . }}{{ end }}", "33"),
        // range over lists, maps (sorted), ints; else; break/continue.
        ("{{ range $i, $e := .L }}{{ $i }}={{ $e }},{{ end }}", "0=1,1=2,2=3,"),
        ("{{ range $e := .L }}{{ $e }}{{ end }}", "123"),
        ("{{ range $k, $v := .M }}{{ $k }}{{ $v }}{{ end }}", "x1y2"),
        ("{{ range .M }}{{ . }}{{ end }}", "12"),
        ("{{ range $k, $v := .S }}{{ $k }}={{ $v }};{{ end }}", "instance=h:9100;job=node;"),
        ("{{ range 3 }}{{ . }}{{ end }}", "012"),
        ("{{ range .Missing }}x{{ else }}none{{ end }}", "none"),
        (
            "{{ range .L }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ if eq . 3 }}{{ break }}{{ end }}{{ . }}{{ end }}",
            "1",
        ),
        ("{{ $i := 0 }}{{ range .L }}{{ $i = . }}{{ end }}{{ $i }}", "3"),
        // define / template / block.
        ("{{ define \"t2\" }}[{{ . }}]{{ end }}{{ template \"t2\" .A }}", "[a]"),
        ("{{ define \"t2\" }}[{{ . }}]{{ end }}{{ template \"t2\" }}", "[<no value>]"),
        ("{{ block \"b\" .N }}<{{ . }}>{{ end }}", "<3>"),
        ("{{ define \"v\" }}{{ $ }}{{ end }}{{ $x := 1 }}{{ template \"v\" 2 }}", "2"),
        // Missing keys: Nil for interface maps, "" for string maps.
        ("{{ .Missing }}", "<no value>"),
        ("{{ .Missing.Deeper }}", "<no value>"),
        ("{{ .S.nope }}|{{ index .S \"nope\" }}|{{ .S.job }}", "||node"),
        ("{{ print .Missing }}", "<nil>"),
        // Fields, chains, pipelines.
        ("{{ (index .Nested 0).K }}", "v"),
        ("{{ \"abc\" | printf \"%s-%s\" \"x\" }}", "x-abc"),
        ("{{ .A | len }}", "1"),
        ("{{ .L | len | printf \"%03d\" }}", "003"),
        ("{{ (len .L) }}", "3"),
        // and/or return the deciding value and short-circuit.
        ("{{ and 1 0 2 }}|{{ and 1 2 }}|{{ or 0 \"\" \"x\" }}|{{ or 0 \"\" }}|", "0|2|x||"),
        ("{{ or true (index .L 10) }}", "true"),
        ("{{ and false (index .L 10) }}", "false"),
        ("{{ 5 | and 1 }}", "5"),
        ("{{ not .E }} {{ not .A }}", "true false"),
        // len, index, slice.
        ("{{ len .L }} {{ len .M }} {{ len \"héllo\" }} {{ len .S }}", "3 2 6 2"),
        ("{{ index .L 1 }} {{ index .M \"y\" }} {{ index .Nested 0 \"K\" }} {{ index \"abc\" 1 }}", "2 2 v 98"),
        ("{{ index .M \"nope\" }}", "<no value>"),
        ("{{ slice \"abcdef\" 1 3 }} {{ slice .L 1 }} {{ slice .L }} {{ slice .L 0 1 }}", "bc [2 3] [1 2 3] [1]"),
        // Comparisons.
        ("{{ eq 1 1 }} {{ eq \"a\" \"b\" \"a\" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2.5 }}", "true true true true true true false"),
        ("{{ eq .Missing \"x\" }} {{ eq .Missing nil }}", "false true"),
        ("{{ eq .N 3 }} {{ eq .F 1.5 }} {{ eq .A \"a\" }}", "true true true"),
        ("{{ lt .D .Dms }}", "false"),
        // print family.
        ("{{ print 1 2 \"a\" \"b\" 3 }}", "1 2ab3"),
        ("{{ println 1 \"a\" }}", "1 a\n"),
        ("{{ print .L .M }}", "[1 2 3] map[x:1 y:2]"),
        // Escapers.
        ("{{ html \"<a href=\\\"x\\\">&'\" }}", "&lt;a href=&#34;x&#34;&gt;&amp;&#39;"),
        ("{{ js \"a'b\\\"c<d>=&\\n\" }}", "a\\'b\\\"c\\u003Cd\\u003E\\u003D\\u0026\\u000A"),
        ("{{ urlquery \"a b&c=d/é\" }}", "a+b%26c%3Dd%2F%C3%A9"),
        ("{{ \"<x>\" | html }} {{ html 1 2 }}", "&lt;x&gt; 1 2"),
        ("{{ html .Missing }}", "&lt;no value&gt;"),
        // Go's float printing.
        ("{{ range .Floats }}{{ . }} {{ end }}", "1 0.5 1.234567e+06 1e+21 1e-05 NaN +Inf -Inf 100000 1.23456789e+08 0.0001 -0 0.30000000000000004 "),
        ("{{ .F }} {{ 1.5e300 }} {{ 3.0e-300 }}", "1.5 1.5e+300 3e-300"),
        // time.Time and time.Duration.
        ("{{ .T }}", "2024-03-05 14:07:09.5 +0000 UTC"),
        ("{{ .T2 }}", "2024-03-05 16:07:09.5 +0200 +0200"),
        ("{{ .T.Unix }} {{ .T.UnixMilli }}", "1709647629 1709647629500"),
        ("{{ .T.Format \"2006-01-02T15:04:05Z07:00\" }}", "2024-03-05T14:07:09Z"),
        ("{{ .T2.Format \"2006-01-02T15:04:05.000-07:00\" }}", "2024-03-05T16:07:09.500+02:00"),
        ("{{ .T.Format \"Mon Jan _2 3:04PM 2006 .000 MST\" }}", "Tue Mar  5 2:07PM 2024 .500 UTC"),
        ("{{ .T.Format \"Monday, 02-January-06 15:04:05.999 -0700\" }}", "Tuesday, 05-March-24 14:07:09.5 +0000"),
        ("{{ .T2.UTC.Format \"15:04 MST\" }}", "14:07 UTC"),
        ("{{ .D }} {{ .Dms }} {{ .D.Seconds }} {{ printf \"%d\" .Dms }}", "1h2m3.5s 1.5ms 3723.5 1500000"),
        ("{{ (.T.Add .D).Format \"15:04:05\" }}", "15:09:13"),
    ];
    let d = data();
    let f = Funcs::new();
    for (text, want) in cases {
        match render(text, &d, &f) {
            Ok(got) => assert_eq!(&got, want, "template {text:?}"),
            Err(e) => panic!("template {text:?} failed: {e}"),
        }
    }
}

#[test]
fn printf_verbs() {
    let cases: &[(&str, &str)] = &[
        (
            "{{ printf \"%d|%5d|%-5d|%05d|%x|%X|%o|%b|%c|%q|%U|%#x\" 42 42 42 42 255 255 8 5 65 65 65 255 }}",
            "42|   42|42   |00042|ff|FF|10|101|A|'A'|U+0041|0xff",
        ),
        ("{{ printf \"%+d|% d|%05d|%.3d\" 5 5 -42 7 }}", "+5| 5|-0042|007"),
        (
            "{{ printf \"%s|%10s|%-10s|%.2s|%q|%x|%X\" \"go\" \"go\" \"go\" \"golang\" \"a\\\"b\" \"hi\" \"hi\" }}",
            "go|        go|go        |go|\"a\\\"b\"|6869|6869",
        ),
        (
            "{{ printf \"%f|%.2f|%8.3f|%-8.1f|%e|%.3e|%g|%G|%v\" 3.14159 3.14159 3.14159 2.5 1234.5678 1234.5678 0.000012345 1e-7 100000000.0 }}",
            "3.141590|3.14|   3.142|2.5     |1.234568e+03|1.235e+03|1.2345e-05|1E-07|1e+08",
        ),
        ("{{ printf \"%.4g|%.4g|%.4g|%.4g|%.3g\" 1234567.0 0.12 1.0 1e21 100.0 }}", "1.235e+06|0.12|1|1e+21|100"),
        ("{{ printf \"%t|%v|%5.1f%%|%+.1f|%08.3f|%+08.2f\" true false 99.5 2.0 3.14159 -1.5 }}", "true|false| 99.5%|+2.0|0003.142|-0001.50"),
        ("{{ printf \"%6.2f|%-6v|%6v\" 1.0 1.5 \"ab\" }}", "  1.00|1.5   |    ab"),
        ("{{ printf \"%f %v %5.1f\" .Inf .NaN .Inf }}", "+Inf NaN  +Inf"),
        // Go's wrong-type, missing and extra forms.
        ("{{ printf \"%d\" \"x\" }}", "%!d(string=x)"),
        ("{{ printf \"%s\" 5 }}", "%!s(int=5)"),
        ("{{ printf \"%d\" 1.5 }}", "%!d(float64=1.5)"),
        ("{{ printf \"%d %d\" 1 }}", "1 %!d(MISSING)"),
        ("{{ printf \"%d\" 1 2 }}", "1%!(EXTRA int=2)"),
        ("{{ printf \"%d\" .Missing }}", "%!d(<nil>)"),
        ("{{ printf \"%v|%s|%d\" .L .S .L }}", "[1 2 3]|map[instance:h:9100 job:node]|[1 2 3]"),
        ("{{ printf \"%T %T %T %T\" 1 1.5 \"s\" .L }}", "int float64 string []interface {}"),
        ("{{ printf \"100%%\" }}", "100%"),
        ("{{ printf \"%s\" .T }}", "2024-03-05 14:07:09.5 +0000 UTC"),
        ("{{ printf \"%*d|%-*d|\" 4 7 3 7 }}", "   7|7  |"),
    ];
    let mut d = match data() {
        Value::Map(m) => m,
        _ => unreachable!(),
    };
    d.insert("Inf".into(), Value::Float(f64::INFINITY));
    d.insert("NaN".into(), Value::Float(f64::NAN));
    let d = Value::Map(d);
    let f = Funcs::new();
    for (text, want) in cases {
        match render(text, &d, &f) {
            Ok(got) => assert_eq!(&got, want, "template {text:?}"),
            Err(e) => panic!("template {text:?} failed: {e}"),
        }
    }
}

#[test]
fn errors() {
    let cases: &[(&str, &str)] = &[
        // Parse errors.
        ("{{ foo }}", "template: t:1: function \"foo\" not defined"),
        ("{{", "template: t:1: unclosed action"),
        ("{{ .A", "template: t:1: unclosed action"),
        ("a\n{{ .A\n\n", "template: t:4: unclosed action started at t:2"),
        ("{{ \u{a0} }}", "template: t:1: unrecognized character in action: U+00A0"),
        ("{{ \"abc }}", "template: t:1: unterminated quoted string"),
        ("{{/* x }}", "template: t:1: unclosed comment"),
        ("{{ $x }}", "template: t:1: undefined variable \"$x\""),
        ("{{ end }}", "template: t:1: unexpected {{end}}"),
        ("{{ else }}", "template: t:1: unexpected {{else}}"),
        ("x\n{{ if 1 }}x", "template: t:2: unexpected EOF"),
        ("{{ break }}", "template: t:1: {{break}} outside {{range}}"),
        ("{{ if }}{{ end }}", "template: t:1: missing value for if"),
        ("{{ 1 | 2 }}", "template: t:1: non executable command in pipeline stage 2"),
        ("{{ .A ) }}", "template: t:1: unexpected right paren U+0029 ')'"),
        ("{{ (1 }}", "template: t:1: unclosed left paren"),
        ("{{ 3x }}", "template: t:1: bad number syntax: \"3x\""),
        ("{{ 99999999999999999999 }}", "template: t:1: integer overflow: \"99999999999999999999\""),
        ("{{ \"a\".B }}", "template: t:1: unexpected . after term \"\\\"a\\\"\""),
        ("{{ define \"a\" }}x{{ end }}{{ define \"a\" }}y{{ end }}", "template: t:1: template: multiple definition of template \"a\""),
        ("{{ template .A }}", "template: t:1: unexpected \".A\" in template clause"),
        // Execution errors, with Go's position and context.
        ("{{ template \"nope\" }}", "template: t:1:12: executing \"t\" at <{{template \"nope\"}}>: template \"nope\" not defined"),
        ("{{ len 1 2 }}", "template: t:1:3: executing \"t\" at <len>: wrong number of args for len: want 1 got 2"),
        ("{{ index }}", "template: t:1:3: executing \"t\" at <index>: wrong number of args for index: want at least 1 got 0"),
        ("{{ len 3 }}", "template: t:1:3: executing \"t\" at <len>: error calling len: len of type int"),
        ("{{ .A.B }}", "template: t:1:5: executing \"t\" at <.A.B>: can't evaluate field B in type string"),
        ("x\n  {{ index .L 5 }}", "template: t:2:5: executing \"t\" at <index>: error calling index: index out of range: 5"),
        ("{{ eq 1 1.0 }}", "template: t:1:3: executing \"t\" at <eq>: error calling eq: incompatible types for comparison"),
        ("{{ lt .L 1 }}", "template: t:1:3: executing \"t\" at <lt>: error calling lt: invalid type for comparison"),
        ("{{ nil }}", "template: t:1:3: executing \"t\" at <nil>: nil is not a command"),
        ("{{ .A 1 }}", "template: t:1:3: executing \"t\" at <.A>: A is not a method but has arguments"),
        ("{{ $x := 1 }}{{ $x 2 }}", "template: t:1:16: executing \"t\" at <$x>: can't give argument to non-function $x"),
        ("{{ range .A }}{{ end }}", "template: t:1:9: executing \"t\" at <.A>: range can't iterate over a"),
        ("{{ range $i, $e := 3 }}{{ end }}", "template: t:1:19: executing \"t\" at <3>: can't use 3 to iterate over more than one variable"),
        ("{{ define \"r\" }}{{ template \"r\" }}{{ end }}{{ template \"r\" }}", "template: t:1:28: executing \"r\" at <{{template \"r\"}}>: exceeded maximum template depth (1000)"),
        ("{{ printf 1 }}", "template: t:1:3: executing \"t\" at <printf>: wrong type for value; expected string; got int"),
    ];
    let d = data();
    let f = Funcs::new();
    for (text, want) in cases {
        match render(text, &d, &f) {
            Ok(got) => panic!("template {text:?} rendered {got:?}, want error {want:?}"),
            Err(e) => assert_eq!(&e, want, "template {text:?}"),
        }
    }
}

#[test]
fn template_sets() {
    let f = Funcs::new();
    let mut t = Template::parse(
        "base",
        "{{ define \"a\" }}x{{ end }}{{ define \"e\" }}{{ end }}",
        &f,
    )
    .unwrap();
    assert!(t.has("a"));
    assert!(!t.has("e"), "an empty define is not a usable template");
    assert!(!t.has("base"), "a file of only defines has an empty body");
    // A later definition replaces an earlier one...
    t.add("user", "{{ define \"a\" }}y{{ end }}", &f).unwrap();
    assert_eq!(t.execute("a", &Value::Nil, &f).unwrap(), "y");
    // ...but an empty one does not.
    t.add("user2", "{{ define \"a\" }}  {{ end }}", &f).unwrap();
    assert_eq!(t.execute("a", &Value::Nil, &f).unwrap(), "y");
    assert_eq!(
        t.execute("zz", &Value::Nil, &f).unwrap_err().0,
        "template: no template \"zz\" associated with template \"base\""
    );
    // Errors name the file a define came from.
    t.add("file.tmpl", "\n{{ define \"bad\" }}{{ .X.Y }}{{ end }}", &f)
        .unwrap();
    assert_eq!(
        t.execute("bad", &Value::from("s"), &f).unwrap_err().0,
        "template: file.tmpl:2:23: executing \"bad\" at <.X.Y>: can't evaluate field X in type string"
    );
    // missingkey options.
    let mut t = Template::parse("m", "{{ .S.x }}", &f).unwrap();
    let d = data();
    assert_eq!(t.execute("m", &d, &f).unwrap(), "");
    t.option("missingkey=default").unwrap();
    assert_eq!(t.execute("m", &d, &f).unwrap(), "<no value>");
    t.option("missingkey=error").unwrap();
    assert_eq!(
        t.execute("m", &d, &f).unwrap_err().0,
        "template: m:1:5: executing \"m\" at <.S.x>: map has no entry for key \"x\""
    );
    // User functions shadow nothing they don't name, and are checked at parse.
    let mut fs = Funcs::new();
    fs.insert(
        "double",
        Arc::new(|a: &[Value]| match a {
            [Value::Int(i)] => Ok(Value::Int(i * 2)),
            _ => Err("want one int".to_string()),
        }),
    );
    assert_eq!(render("{{ 21 | double }}", &Value::Nil, &fs).unwrap(), "42");
    assert_eq!(
        render("{{ double \"x\" }}", &Value::Nil, &fs).unwrap_err(),
        "template: t:1:3: executing \"t\" at <double>: error calling double: want one int"
    );
}

fn prom_ctx(samples: Vec<QuerySample>) -> PromContext {
    PromContext {
        query: Arc::new(move |_q: &str| Ok(samples.clone())),
        external_url: "http://testhost:9090/path/prefix".into(),
        eval_time: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
    }
}

fn sample(labels: &[(&str, &str)], value: f64) -> QuerySample {
    QuerySample {
        labels: smap(labels),
        value,
    }
}

#[test]
fn prometheus_functions() {
    let fl = |v: &[f64]| Value::List(v.iter().map(|f| Value::Float(*f)).collect());
    // (template, dot, want): expected values from Prometheus's
    // template_test.go and prometheus/common's humanize tests.
    let cases: Vec<(&str, Value, &str)> = vec![
        ("{{ range . }}{{ humanize . }}:{{ end }}", fl(&[0.0, 1.0, 1234567.0, 0.12]), "0:1:1.235M:120m:"),
        ("{{ range . }}{{ humanize . }}:{{ end }}", fl(&[-1500.0, 1e-9, 2.5e25, 999.95]), "-1.5k:1n:25Y:1000:"),
        ("{{ range . }}{{ humanize1024 . }}:{{ end }}", fl(&[0.0, 1.0, 1048576.0, 0.12, 1536.0]), "0:1:1Mi:0.12:1.5ki:"),
        (
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            fl(&[0.0, 1.0, 60.0, 3600.0, 86400.0, 86400.0 + 3600.0, -(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0), 899.99]),
            "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:",
        ),
        (
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            fl(&[0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345]),
            "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:",
        ),
        (
            "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{ humanizeTimestamp . }}:{{ end }}",
            fl(&[f64::INFINITY, f64::NEG_INFINITY, f64::NAN]),
            "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:",
        ),
        ("{{ humanizeDuration \"3600\" }} {{ humanizeDuration 1234567 }} {{ humanizeDuration \".12345\" }}", Value::Nil, "1h 0m 0s 14d 6h 56m 7s 123.5ms"),
        ("{{ humanize \"1234567\" }} {{ humanize1024 \"1048576\" }}", Value::Nil, "1.235M 1Mi"),
        (
            "{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:{{ 0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}",
            Value::Nil,
            "-22.22%:0%:12.35%:123.5%",
        ),
        ("{{ 1435065584.128 | humanizeTimestamp }}", Value::Nil, "2015-06-23 13:19:44.128 +0000 UTC"),
        ("{{ \"1435065584.128\" | humanizeTimestamp }}", Value::Nil, "2015-06-23 13:19:44.128 +0000 UTC"),
        ("{{ humanizeTimestamp 0 }}|{{ humanizeTimestamp -1 }}|{{ humanizeTimestamp 1234567 }}", Value::Nil, "1970-01-01 00:00:00 +0000 UTC|1969-12-31 23:59:59 +0000 UTC|1970-01-15 06:56:07 +0000 UTC"),
        ("{{ humanizeTimestamp \"+Inf\" }}", Value::Nil, "+Inf"),
        ("{{ toTime 1435065584.128 }}", Value::Nil, "2015-06-23 13:19:44.128 +0000 UTC"),
        ("{{ (toTime 1435065584).Format \"2006-01-02\" }}", Value::Nil, "2015-06-23"),
        ("{{ toDuration 90 }} {{ toDuration 0.25 }}", Value::Nil, "1m30s 250ms"),
        ("{{ parseDuration \"1h30m\" }} {{ parseDuration \"-5m\" }} {{ parseDuration \"1d\" }} {{ parseDuration \"100ms\" }}", Value::Nil, "5400 -300 86400 0.1"),
        ("{{ now }}", Value::Nil, "1.7040672e+09"),
        ("{{ \"aa bb CC\" | title }}", Value::Nil, "Aa Bb CC"),
        ("{{ \"aa bb CC\" | toUpper }}", Value::Nil, "AA BB CC"),
        ("{{ \"aA bB CC\" | toLower }}", Value::Nil, "aa bb cc"),
        ("{{ match \"a+\" \"aa\" }} {{ match \"a+\" \"b\" }}", Value::Nil, "true false"),
        ("{{ reReplaceAll \"(a)b\" \"x$1\" \"ab\" }}", Value::Nil, "xa"),
        ("{{ reReplaceAll \"localhost:(.*)\" \"my.domain:$1\" \"localhost:3000\" }}", Value::Nil, "my.domain:3000"),
        ("{{ graphLink \"up\" }}", Value::Nil, "/graph?g0.expr=up&g0.tab=0"),
        ("{{ tableLink \"rate(x[5m]) > 1\" }}", Value::Nil, "/graph?g0.expr=rate%28x%5B5m%5D%29+%3E+1&g0.tab=1"),
        ("{{ pathPrefix }}", Value::Nil, "/path/prefix"),
        ("{{ externalURL }}", Value::Nil, "http://testhost:9090/path/prefix"),
        ("{{ define \"x\" }}{{ .arg0 }} {{ .arg1 }}{{ end }}{{ template \"x\" (args 1 \"2\") }}", Value::Nil, "1 2"),
        ("{{ \"<b>\" | safeHtml }}", Value::Nil, "<b>"),
        (
            "{{ stripPort \"example.com:9090\" }} {{ stripPort \"[::1]:80\" }} {{ stripPort \"example.com\" }}",
            Value::Nil,
            "example.com ::1 example.com",
        ),
        (
            "{{ stripDomain \"foo.example.com:9090\" }} {{ stripDomain \"foo.example.com\" }} {{ stripDomain \"192.168.0.1:9090\" }} {{ stripDomain \"[2001:db8::1]:80\" }}",
            Value::Nil,
            "foo:9090 foo 192.168.0.1:9090 [2001:db8::1]:80",
        ),
    ];
    let f = prometheus_funcs(prom_ctx(vec![]));
    for (text, dot, want) in &cases {
        match render(text, dot, &f) {
            Ok(got) => assert_eq!(&got, want, "template {text:?}"),
            Err(e) => panic!("template {text:?} failed: {e}"),
        }
    }
}

#[test]
fn prometheus_queries() {
    let metric = vec![
        sample(&[("__name__", "metric"), ("instance", "b")], 21.0),
        sample(&[("__name__", "metric"), ("instance", "a")], 11.0),
    ];
    let cases: Vec<(&str, Vec<QuerySample>, &str)> = vec![
        ("{{ query \"1.5\" | first | value }}", vec![sample(&[], 1.5)], "1.5"),
        ("{{ query \"metric\" | first | label \"instance\" }}", metric.clone(), "b"),
        ("{{ query \"metric\" | first | label \"foo\" }}", metric.clone(), ""),
        ("{{ $x := query \"metric\" | first }}{{ $x.Labels.foo }}", metric.clone(), ""),
        (
            "{{ range query \"metric\" | sortByLabel \"instance\" }}{{ .Labels.instance }}:{{ .Value }}: {{ end }}",
            metric.clone(),
            "a:11: b:21: ",
        ),
        ("{{ with query \"up\" }}{{ . | first | value | humanize }}{{ end }}", vec![sample(&[], 1234567.0)], "1.235M"),
        ("{{ with query \"up\" }}yes{{ else }}no data{{ end }}", vec![], "no data"),
        ("{{ query \"x\" | first | strvalue }}", vec![sample(&[("__value__", "str")], 0.0)], "str"),
        ("{{ len (query \"metric\") }}", metric.clone(), "2"),
    ];
    for (text, result, want) in cases {
        let f = prometheus_funcs(prom_ctx(result));
        match render(text, &Value::Nil, &f) {
            Ok(got) => assert_eq!(got, want, "template {text:?}"),
            Err(e) => panic!("template {text:?} failed: {e}"),
        }
    }
    // Errors as Prometheus reports them.
    let f = prometheus_funcs(prom_ctx(vec![]));
    let t = Template::parse("test", "{{ query \"missing\" | first }}", &f).unwrap();
    assert_eq!(
        t.execute("test", &Value::Nil, &f).unwrap_err().0,
        "template: test:1:21: executing \"test\" at <first>: error calling first: first() called on vector with no elements"
    );
    let t = Template::parse("test", "{{ (query \"missing\").banana }}", &f).unwrap();
    assert_eq!(
        t.execute("test", &Value::Nil, &f).unwrap_err().0,
        "template: test:1:10: executing \"test\" at <\"missing\">: can't evaluate field banana in type []interface {}"
    );
    assert_eq!(
        render("{{ humanize \"one\" }}", &Value::Nil, &f).unwrap_err(),
        "template: t:1:3: executing \"t\" at <humanize>: error calling humanize: strconv.ParseFloat: parsing \"one\": invalid syntax"
    );
    assert_eq!(
        render("{{ parseDuration \"1.5h\" }}", &Value::Nil, &f).unwrap_err(),
        "template: t:1:3: executing \"t\" at <parseDuration>: error calling parseDuration: not a valid duration string: \"1.5h\""
    );
    assert_eq!(
        render("{{ toUpper 1 }}", &Value::Nil, &f).unwrap_err(),
        "template: t:1:3: executing \"t\" at <toUpper>: wrong type for value; expected string; got int"
    );
    let failing = PromContext {
        query: Arc::new(|q: &str| Err(format!("parse error in {q}"))),
        ..prom_ctx(vec![])
    };
    let f = prometheus_funcs(failing);
    assert_eq!(
        render("{{ query \"up{\" }}", &Value::Nil, &f).unwrap_err(),
        "template: t:1:3: executing \"t\" at <query>: error calling query: parse error in up{"
    );
}

#[test]
fn prometheus_alert_fields() {
    let f = prometheus_funcs(prom_ctx(vec![]));
    let data = prometheus_alert_data(
        &smap(&[("instance", "host:9100"), ("job", "node")]),
        &smap(&[("cluster", "eu1")]),
        "http://prom:9090",
        0.5,
    );
    let cases: &[(&str, &str)] = &[
        ("{{ $labels.instance }} is {{ $value }}", "host:9100 is 0.5"),
        ("{{ $labels.missing }}|{{ .Labels.missing }}", "|"),
        (
            "{{ $externalLabels.cluster }} {{ $externalURL }}",
            "eu1 http://prom:9090",
        ),
        (
            "{{ printf \"%.2f\" $value }} {{ $value | humanizePercentage }}",
            "0.50 50%",
        ),
        ("{{ $labels.instance | stripPort }}", "host"),
        (
            "{{ range $k, $v := $labels }}{{ $k }}={{ $v }} {{ end }}",
            "instance=host:9100 job=node ",
        ),
    ];
    for (text, want) in cases {
        match expand_alert_field("R", text, &data, &f) {
            Ok(got) => assert_eq!(&got, want, "template {text:?}"),
            Err(e) => panic!("template {text:?} failed: {e}"),
        }
    }
    assert_eq!(
        expand_alert_field("R", "{{ foo }}", &data, &f)
            .unwrap_err()
            .0,
        "error parsing template __alert_R: template: __alert_R:1: function \"foo\" not defined"
    );
    let col = ALERT_TEMPLATE_PRELUDE.len() + 3;
    assert_eq!(
        expand_alert_field("R", "{{ .Nope }}", &data, &f).unwrap_err().0,
        format!("error executing template __alert_R: template: __alert_R:1:{col}: executing \"__alert_R\" at <.Nope>: can't evaluate field Nope in type struct {{ Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {{}} }}")
    );
}

/// Two firing alerts of one group, as Alertmanager would assemble them.
fn am_data() -> AmData {
    let a1 = AmAlert {
        status: "firing".into(),
        labels: smap(&[
            ("alertname", "TestAlert"),
            ("cluster", "cluster1"),
            ("instance", "host1"),
            ("severity", "warning"),
        ]),
        annotations: smap(&[("summary", "Disk full"), ("description", "d1")]),
        starts_at: utc(2024, 3, 5, 14, 0, 0),
        ends_at: gotime::zero_time(),
        generator_url: "http://prom/graph?g0.expr=up".into(),
        fingerprint: "aaa".into(),
    };
    let a2 = AmAlert {
        labels: smap(&[
            ("alertname", "TestAlert"),
            ("cluster", "cluster1"),
            ("instance", "host2"),
            ("severity", "critical"),
        ]),
        annotations: smap(&[("summary", "Disk full")]),
        fingerprint: "bbb".into(),
        ..a1.clone()
    };
    AmData::from_alerts(
        "team-x",
        smap(&[("alertname", "TestAlert")]),
        vec![a1, a2],
        "http://am:9093",
    )
}

const LIST: &str = "Labels:
 - alertname = TestAlert
 - cluster = cluster1
 - instance = host1
 - severity = warning
Annotations:
 - description = d1
 - summary = Disk full
Source: http://prom/graph?g0.expr=up
Labels:
 - alertname = TestAlert
 - cluster = cluster1
 - instance = host2
 - severity = critical
Annotations:
 - summary = Disk full
Source: http://prom/graph?g0.expr=up
";

#[test]
fn alertmanager_default_templates() {
    let t = default_alertmanager_template();
    let f = alertmanager_funcs();
    let data = am_data();
    let dot = data.to_value();
    let subject = "[FIRING:2] TestAlert (cluster1)";
    let url = "http://am:9093/#/alerts?receiver=team-x";
    let cases: Vec<(&str, String)> = vec![
        ("__subject", subject.into()),
        ("slack.default.title", subject.into()),
        ("email.default.subject", subject.into()),
        ("pagerduty.default.description", subject.into()),
        ("slack.default.username", "Alertmanager".into()),
        ("slack.default.titlelink", url.into()),
        ("slack.default.fallback", format!("{subject} | {url}")),
        ("slack.default.color", "danger".into()),
        ("slack.default.text", "".into()),
        (
            "wechat.default.message",
            format!("{subject}\nDisk full\nAlerts Firing:\n{LIST}\n\nAlertmanagerUrl:\n{url}"),
        ),
        (
            "opsgenie.default.description",
            format!("Disk full\nAlerts Firing:\n{LIST}\n"),
        ),
        (
            "pushover.default.message",
            format!("Disk full\n\nAlerts Firing:\n{LIST}\n\n\n"),
        ),
        ("jira.default.priority", "High".into()),
    ];
    for (name, want) in &cases {
        match t.execute(name, &dot, &f) {
            Ok(got) => assert_eq!(&got, want, "template {name}"),
            Err(e) => panic!("template {name} failed: {e}"),
        }
    }
    let firing = Value::List(data.alerts.iter().map(AmAlert::to_value).collect());
    assert_eq!(t.execute("__text_alert_list", &firing, &f).unwrap(), LIST);
    assert!(t.has("email.default.html"));
    let html = t.execute("email.default.html", &dot, &f).unwrap();
    assert!(
        html.contains(&format!("<title>{subject}</title>")),
        "{html}"
    );
    assert!(
        html.contains("2 alerts for \n                alertname=TestAlert"),
        "{html}"
    );
    assert!(html.contains("[2] Firing"));
    assert!(html.contains("instance = host2<br"));
    assert!(!html.contains("Resolved"));

    // Once resolved: no count in the subject, "good" colour.
    let mut resolved = data.clone();
    for a in &mut resolved.alerts {
        a.status = "resolved".into();
    }
    let resolved = AmData::from_alerts(
        "team-x",
        resolved.group_labels,
        resolved.alerts,
        "http://am:9093",
    );
    let dot = resolved.to_value();
    assert_eq!(
        t.execute("__subject", &dot, &f).unwrap(),
        "[RESOLVED] TestAlert (cluster1)"
    );
    assert_eq!(t.execute("slack.default.color", &dot, &f).unwrap(), "good");
    assert_eq!(
        t.execute("wechat.default.message", &dot, &f).unwrap(),
        format!("[RESOLVED] TestAlert (cluster1)\nDisk full\n\nAlerts Resolved:\n{LIST}\nAlertmanagerUrl:\n{url}")
    );
    t.execute("email.default.html", &dot, &f).unwrap();
}

#[test]
fn html_output_escapes_what_actions_print() {
    // As Alertmanager's email bodies go through html/template: values are
    // escaped in text and quoted attributes (with `+` as &#43;), called
    // templates too; safeHtml and the html escaper are printed as they are;
    // literal template text never is. A missing key prints nothing, as
    // html/template's escapers skip nil.
    let f = super::alertmanager::alertmanager_funcs();
    let mut m = BTreeMap::new();
    m.insert(
        "A".to_string(),
        Value::Str(r#"<b>"x" & 'y' + z</b>"#.into()),
    );
    let dot = Value::Map(m);
    let text = concat!(
        r#"{{ define "inner" }}<i>{{ . }}</i>{{ end }}"#,
        r#"<p title="{{ .A }}">{{ .A }}</p>|{{ template "inner" .A }}|"#,
        r#"{{ .A | safeHtml }}|{{ safeHtml .A }}|{{ .A | html }}|{{ .Missing }}"#,
    );
    let t = Template::parse("t", text, &f).unwrap();
    let esc = "&lt;b&gt;&#34;x&#34; &amp; &#39;y&#39; &#43; z&lt;/b&gt;";
    assert_eq!(
        t.execute_html("t", &dot, &f).unwrap(),
        format!(
            r#"<p title="{esc}">{esc}</p>|<i>{esc}</i>|<b>"x" & 'y' + z</b>|<b>"x" & 'y' + z</b>|&lt;b&gt;&#34;x&#34; &amp; &#39;y&#39; + z&lt;/b&gt;|"#
        )
    );
    // The same template as text is not escaped.
    assert!(t
        .execute("t", &dot, &f)
        .unwrap()
        .starts_with(r#"<p title="<b>"x" & 'y' + z</b>">"#));
}

#[test]
fn alertmanager_model_and_funcs() {
    let f = alertmanager_funcs();
    let dot = am_data().to_value();
    let cases: &[(&str, &str)] = &[
        ("{{ .CommonLabels }}", "alertname=TestAlert, cluster=cluster1"),
        ("{{ .CommonLabels.Names }} {{ .CommonLabels.Values }}", "[alertname cluster] [TestAlert cluster1]"),
        ("{{ .CommonLabels.alertname }}|{{ .CommonLabels.nope }}|{{ index .CommonLabels \"cluster\" }}", "TestAlert||cluster1"),
        ("{{ range $k, $v := .CommonLabels }}{{ $k }}={{ $v }};{{ end }}", "alertname=TestAlert;cluster=cluster1;"),
        ("{{ (index .Alerts 0).Labels.SortedPairs }}", "alertname=TestAlert, cluster=cluster1, instance=host1, severity=warning"),
        ("{{ range (index .Alerts 1).Labels.SortedPairs }}{{ . }}{{ end }}", "{alertname TestAlert}{cluster cluster1}{instance host2}{severity critical}"),
        ("{{ (.CommonLabels.Remove (stringSlice \"cluster\")).Names | join \",\" }}", "alertname"),
        ("{{ len .Alerts }} {{ len .Alerts.Firing }} {{ len .Alerts.Resolved }}", "2 2 0"),
        ("{{ range .Alerts }}{{ .Fingerprint }}{{ end }}", "aaabbb"),
        ("{{ (index .Alerts 0).StartsAt }}", "2024-03-05 14:00:00 +0000 UTC"),
        ("{{ (index .Alerts 0).EndsAt }}", "0001-01-01 00:00:00 +0000 UTC"),
        ("{{ (index .Alerts 0).StartsAt | date \"2006-01-02 15:04\" }}", "2024-03-05 14:00"),
        ("{{ ((index .Alerts 0).StartsAt | tz \"UTC\").Format \"15:04 MST\" }}", "14:00 UTC"),
        ("{{ .Receiver }} {{ .Status }} {{ .ExternalURL }}", "team-x firing http://am:9093"),
        ("{{ \"hello wORLD\" | title }} {{ trimSpace \"  x \" }}", "Hello World x"),
        ("{{ urlUnescape \"a%20b+c\" }} {{ safeUrl \"http://x\" }}", "a b c http://x"),
        ("{{ humanizeDuration 3661 }}", "1h 1m 1s"),
        ("{{ .GroupLabels | toJson }}", "{\"alertname\":\"TestAlert\"}"),
        ("{{ toJson (stringSlice \"a<b\" \"c\") }}", "[\"a\\u003cb\",\"c\"]"),
        ("{{ (index .Alerts.Firing 1).Annotations | toJson }}", "{\"summary\":\"Disk full\"}"),
        ("{{ match \"^Test\" .CommonLabels.alertname }}", "true"),
    ];
    for (text, want) in cases {
        match render(text, &dot, &f) {
            Ok(got) => assert_eq!(&got, want, "template {text:?}"),
            Err(e) => panic!("template {text:?} failed: {e}"),
        }
    }
    // SortedPairs puts alertname first even though "a" sorts before it.
    let d = AmData::from_alerts(
        "r",
        BTreeMap::new(),
        vec![AmAlert {
            status: "firing".into(),
            labels: smap(&[("z", "2"), ("alertname", "X"), ("a", "1")]),
            annotations: BTreeMap::new(),
            starts_at: utc(2024, 1, 1, 0, 0, 0),
            ends_at: gotime::zero_time(),
            generator_url: String::new(),
            fingerprint: String::new(),
        }],
        "",
    );
    assert_eq!(
        render(
            "{{ .CommonLabels.SortedPairs.Names | join \" \" }}",
            &d.to_value(),
            &f
        )
        .unwrap(),
        "alertname a z"
    );
    // Receiver names are regexp-quoted, as Alertmanager does.
    assert_eq!(
        AmData::from_alerts("a.b", BTreeMap::new(), vec![], "").receiver,
        "a\\.b"
    );
    // Method errors carry Go's context.
    assert_eq!(
        render("{{ .CommonLabels.Remove 1 }}", &dot, &f).unwrap_err(),
        "template: t:1:16: executing \"t\" at <.CommonLabels.Remove>: wrong type for value; expected []string; got int"
    );
}

/// Deep nesting overflowed the stack of `check rules` and of the server
/// loading the rule: refused with Go's message, at any depth.
#[test]
fn deep_nesting_is_refused_not_fatal() {
    let funcs = prometheus_funcs(prom_ctx(vec![]));
    for text in [
        format!("{{{{ {}1{} }}}}", "(".repeat(20_000), ")".repeat(20_000)),
        format!(
            "{}x{}",
            "{{ if 1 }}".repeat(20_000),
            "{{ end }}".repeat(20_000)
        ),
        format!(
            "{{{{ if 0 }}}}{}{{{{ end }}}}",
            "{{ else if 0 }}".repeat(20_000)
        ),
    ] {
        let e = render(&text, &data(), &funcs).unwrap_err();
        assert!(e.contains("max expression depth exceeded"), "{e}");
    }
    // Within the limit: evaluated.
    let ok = format!("{}x{}", "{{ if 1 }}".repeat(50), "{{ end }}".repeat(50));
    assert_eq!(render(&ok, &data(), &funcs).unwrap(), "x");
    let ok = format!("{{{{ {}1{} }}}}", "(".repeat(50), ")".repeat(50));
    assert_eq!(render(&ok, &data(), &funcs).unwrap(), "1");
}
