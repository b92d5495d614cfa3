//! A YAML document as a tree of [`Node`]s that remember their source line.
//!
//! The config decoder needs the line of every key and value so that each
//! error can say `file:line`; general-purpose YAML-to-struct libraries drop
//! positions once a value is built. This module turns the event stream of
//! `yaml-rust2` into a small tree with lines, resolves aliases by copying the
//! anchored node, and decodes `!!binary` scalars (Prometheus fixtures use them
//! to smuggle invalid UTF-8 into label names).
//!
//! Copying anchored nodes is what makes "billion laughs" files dangerous:
//! nine levels of ten aliases each ask for 10⁹ nodes from a few hundred
//! bytes. The builder counts what aliases expand to and refuses the
//! document past a budget proportional to its own size (as Go's yaml
//! refuses "excessive aliasing"), and refuses nesting deeper than
//! [`MAX_NESTING`], so every reader of YAML — config, rules,
//! alertmanager.yml, file_sd files — stays within bounded memory and
//! stack.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// One YAML node with the 1-based line it starts on.
#[derive(Clone, Debug)]
pub struct Node {
    pub line: usize,
    pub kind: Kind,
}

/// The shape of a node. Scalars keep their text; typing (int, bool,
/// duration...) is the decoder's job because the expected type depends on
/// the key, as in Go's yaml unmarshalling.
#[derive(Clone, Debug)]
pub enum Kind {
    /// `~`, `null`, an empty value, or `!!null`.
    Null,
    Scalar {
        text: String,
        /// Raw bytes of a `!!binary` scalar that are not valid UTF-8;
        /// `text` then holds a lossy rendering.
        invalid_utf8: Option<Vec<u8>>,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// What the node is, in the words of Go's yaml errors (`!!seq`...), so
    /// that a type mismatch reads like Prometheus's.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "!!null",
            Kind::Scalar { .. } => "!!str",
            Kind::Seq(_) => "!!seq",
            Kind::Map(_) => "!!map",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    /// The scalar text, or `None` for anything else (including null).
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }
}

/// A problem found while building the tree that does not stop the parse.
#[derive(Debug)]
pub struct TreeIssue {
    pub line: usize,
    pub message: String,
}

/// Deepest nesting of sequences and mappings accepted. The decoders walk
/// the tree recursively; no configuration needs more than a dozen levels.
pub const MAX_NESTING: usize = 256;

/// Nodes that aliases may add beyond the document's own: at least this
/// many, else [`ALIAS_FACTOR`] times the nodes written out in the file.
const ALIAS_BUDGET_MIN: usize = 100_000;
const ALIAS_FACTOR: usize = 10;

/// Parses `text` into its first document's root node. `Ok(None)` is an empty
/// file. Syntax errors, excessive aliasing and excessive nesting are fatal
/// and carry their line.
pub fn parse(text: &str) -> Result<(Option<Node>, Vec<TreeIssue>), TreeIssue> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| TreeIssue {
        line: e.marker().line(),
        message: format!("YAML syntax error: {}", e.info()),
    })?;
    if let Some(fatal) = builder.fatal {
        return Err(fatal);
    }
    Ok((builder.root, builder.issues))
}

/// Nodes of a parsed tree that must not be shown as written: secrets
/// (marked by the decoders as they read them, so the typed reading
/// decides, not the key's spelling or the line's layout) and URLs whose
/// query string may carry tokens. Nodes are known by address: the tree is
/// not moved between decoding and [`render`].
#[derive(Debug, Default)]
pub struct Hidden {
    secrets: std::collections::HashSet<usize>,
    urls: std::collections::HashSet<usize>,
}

impl Hidden {
    /// Shows `n` (every scalar under it) as `<secret>`.
    pub fn secret(&mut self, n: &Node) {
        self.secrets.insert(n as *const Node as usize);
    }

    /// Shows the URL `n` with its query values and password hidden.
    pub fn url(&mut self, n: &Node) {
        self.urls.insert(n as *const Node as usize);
    }
}

/// What Prometheus and Alertmanager print for a secret.
pub const SECRET: &str = "<secret>";

/// The document `root` as YAML text with what `hidden` marks replaced:
/// secrets by `<secret>`, the query values of marked URLs by `xxxxx`. The
/// password of any URL written with one (`https://user:pass@host`) is
/// shown as `xxxxx`, as Go's `url.Redacted` does. Comments and layout are
/// not kept; what the configuration says is.
pub fn render(root: &Node, hidden: &Hidden) -> String {
    let doc = to_yaml(root, hidden, false);
    let mut out = String::new();
    if yaml_rust2::YamlEmitter::new(&mut out).dump(&doc).is_err() {
        return String::new();
    }
    let body = out.strip_prefix("---\n").unwrap_or(&out);
    let body = if body == "---" { "" } else { body };
    format!("{body}\n")
}

fn to_yaml(n: &Node, hidden: &Hidden, secret: bool) -> yaml_rust2::Yaml {
    use yaml_rust2::Yaml;
    let addr = n as *const Node as usize;
    let secret = secret || hidden.secrets.contains(&addr);
    match &n.kind {
        Kind::Null => Yaml::Null,
        Kind::Scalar { .. } if secret => Yaml::String(SECRET.to_string()),
        Kind::Scalar { text, .. } => {
            if hidden.urls.contains(&addr) {
                return Yaml::String(redact_url(text, true));
            }
            let text = redact_url(text, false);
            // Plain numbers and booleans stay plain (quoted, `1000` would
            // no longer load into an integer field), when they print back
            // as written.
            match Yaml::from_str(&text) {
                Yaml::Integer(i) if i.to_string() == text => Yaml::Integer(i),
                Yaml::Real(r) => Yaml::Real(r),
                Yaml::Boolean(b) if b.to_string() == text => Yaml::Boolean(b),
                _ => Yaml::String(text),
            }
        }
        Kind::Seq(items) => Yaml::Array(items.iter().map(|i| to_yaml(i, hidden, secret)).collect()),
        Kind::Map(entries) => {
            let mut h = yaml_rust2::yaml::Hash::new();
            for (k, v) in entries {
                h.insert(to_yaml(k, hidden, false), to_yaml(v, hidden, secret));
            }
            Yaml::Hash(h)
        }
    }
}

/// `s` with the password of its user info replaced by `xxxxx` (Go's
/// `url.Redacted`) and, with `query`, every query value too. Text that is
/// not a `scheme://…` URL comes back unchanged.
pub fn redact_url(s: &str, query: bool) -> String {
    let Some((scheme, rest)) = s.split_once("://") else {
        return s.to_string();
    };
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return s.to_string();
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:xxxxx@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, q)) if query => {
            let (q, fragment) = match q.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (q, None),
            };
            let q: Vec<String> = q
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) => format!("{k}=xxxxx"),
                    None => kv.to_string(),
                })
                .collect();
            let mut t = format!("{path}?{}", q.join("&"));
            if let Some(f) = fragment {
                t.push('#');
                t.push_str(f);
            }
            t
        }
        _ => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// Nodes in `n`'s tree, itself included.
fn size(n: &Node) -> usize {
    1 + match &n.kind {
        Kind::Seq(items) => items.iter().map(size).sum(),
        Kind::Map(entries) => entries.iter().map(|(k, v)| size(k) + size(v)).sum(),
        _ => 0,
    }
}

enum Open {
    Seq(Node),
    /// A mapping under construction and the key waiting for its value.
    Map(Node, Option<Node>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<(Open, usize)>,
    /// Anchored nodes by id, with their size in nodes.
    anchors: HashMap<usize, (Node, usize)>,
    root: Option<Node>,
    issues: Vec<TreeIssue>,
    /// Nodes the document writes out itself.
    own_nodes: usize,
    /// Nodes added by resolving aliases.
    alias_nodes: usize,
    /// Excessive aliasing or nesting: the rest of the events are ignored
    /// and the parse fails with this.
    fatal: Option<TreeIssue>,
}

impl Builder {
    fn push_value(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some((Open::Seq(seq), _)) => {
                if let Kind::Seq(items) = &mut seq.kind {
                    items.push(node);
                }
            }
            Some((Open::Map(map, pending), _)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => {
                    if let Kind::Map(entries) = &mut map.kind {
                        entries.push((key, node));
                    }
                }
            },
        }
    }

    fn scalar(
        &mut self,
        value: String,
        style: TScalarStyle,
        tag: Option<Tag>,
        line: usize,
    ) -> Node {
        let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
        let tag = tag
            .as_deref()
            .map(|t| t.trim_start_matches("tag:yaml.org,2002:"));
        let plain = style == TScalarStyle::Plain;
        let kind = match tag {
            Some("null") => Kind::Null,
            Some("binary") => match decode_base64(&value) {
                Some(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => Kind::Scalar {
                        text,
                        invalid_utf8: None,
                    },
                    Err(e) => Kind::Scalar {
                        text: String::from_utf8_lossy(e.as_bytes()).into_owned(),
                        invalid_utf8: Some(e.into_bytes()),
                    },
                },
                None => {
                    self.issues.push(TreeIssue {
                        line,
                        message: "!!binary value contains invalid base64 data".into(),
                    });
                    Kind::Scalar {
                        text: String::new(),
                        invalid_utf8: None,
                    }
                }
            },
            None if plain && matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL") => {
                Kind::Null
            }
            _ => Kind::Scalar {
                text: value,
                invalid_utf8: None,
            },
        };
        Node { line, kind }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.fatal.is_some() {
            return;
        }
        let line = mark.line();
        if matches!(ev, Event::SequenceStart(..) | Event::MappingStart(..))
            && self.stack.len() >= MAX_NESTING
        {
            self.fatal = Some(TreeIssue {
                line,
                message: format!(
                    "YAML nested too deeply: more than {MAX_NESTING} levels of sequences and mappings"
                ),
            });
            return;
        }
        match ev {
            Event::Scalar(value, style, anchor, tag) => {
                self.own_nodes += 1;
                let node = self.scalar(value, style, tag, line);
                if anchor > 0 {
                    self.anchors.insert(anchor, (node.clone(), 1));
                }
                self.push_value(node);
            }
            Event::Alias(id) => {
                let Some((node, n)) = self.anchors.get(&id) else {
                    self.push_value(Node {
                        line,
                        kind: Kind::Null,
                    });
                    return;
                };
                // Checked before copying: the copy is what costs memory.
                let budget = ALIAS_BUDGET_MIN.max(ALIAS_FACTOR * self.own_nodes);
                self.alias_nodes += n;
                if self.alias_nodes > budget {
                    self.fatal = Some(TreeIssue {
                        line,
                        message: format!(
                            "document contains excessive aliasing: aliases expand to more than {budget} nodes"
                        ),
                    });
                    return;
                }
                let node = node.clone();
                self.push_value(node);
            }
            Event::SequenceStart(anchor, _) => self.stack.push((
                Open::Seq(Node {
                    line,
                    kind: Kind::Seq(Vec::new()),
                }),
                anchor,
            )),
            Event::MappingStart(anchor, _) => self.stack.push((
                Open::Map(
                    Node {
                        line,
                        kind: Kind::Map(Vec::new()),
                    },
                    None,
                ),
                anchor,
            )),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((open, anchor)) = self.stack.pop() {
                    self.own_nodes += 1;
                    let node = match open {
                        Open::Seq(n) => n,
                        Open::Map(mut n, _) => {
                            merge_keys(&mut n);
                            n
                        }
                    };
                    if anchor > 0 {
                        let n = size(&node);
                        self.anchors.insert(anchor, (node.clone(), n));
                    }
                    self.push_value(node);
                }
            }
            _ => {}
        }
    }
}

/// Resolves YAML merge keys (`<<: *anchor`, `<<: [*a, *b]`): the merged
/// mappings' entries are added unless the mapping sets the key itself, as
/// Go's yaml does. Rule files written with anchors use them.
fn merge_keys(map: &mut Node) {
    let Kind::Map(entries) = &mut map.kind else {
        return;
    };
    if !entries.iter().any(|(k, _)| k.as_str() == Some("<<")) {
        return;
    }
    let (merges, mut own): (Vec<_>, Vec<_>) = std::mem::take(entries)
        .into_iter()
        .partition(|(k, _)| k.as_str() == Some("<<"));
    let mut sources = Vec::new();
    for (_, v) in merges {
        match v.kind {
            Kind::Seq(items) => sources.extend(items),
            _ => sources.push(v),
        }
    }
    for src in sources {
        if let Kind::Map(src_entries) = src.kind {
            for (k, v) in src_entries {
                let present = own.iter().any(|(o, _)| o.as_str() == k.as_str());
                if !present {
                    own.push((k, v));
                }
            }
        }
    }
    *entries = own;
}

/// Standard base64 (whitespace ignored, padding optional), as Go's yaml
/// decodes `!!binary`. `None` on any other character.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut padding = false;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding = true;
                continue;
            }
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        if padding {
            // Data after padding.
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_and_rejects() {
        assert_eq!(decode_base64("/w==").unwrap(), vec![0xff]);
        assert_eq!(decode_base64("aGk=").unwrap(), b"hi".to_vec());
        assert!(decode_base64("/w==$1").is_none());
    }

    #[test]
    fn merge_keys_add_entries_the_mapping_lacks() {
        let (root, _) = parse("a: &x\n  k: 1\n  j: 2\nb:\n  <<: *x\n  k: 3\n").unwrap();
        let Kind::Map(entries) = &root.unwrap().kind else {
            panic!("not a map")
        };
        let Kind::Map(b) = &entries[1].1.kind else {
            panic!("not a map")
        };
        let pairs: Vec<_> = b
            .iter()
            .map(|(k, v)| (k.as_str().unwrap(), v.as_str().unwrap()))
            .collect();
        assert_eq!(pairs, vec![("k", "3"), ("j", "2")]);
    }

    /// Nine levels of nine aliases: 9⁹ nodes if copied out.
    fn billion_laughs(root_key: &str) -> String {
        let mut s = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
        let mut prev = "a";
        for n in names {
            let refs = vec![format!("*{prev}"); 9].join(",");
            s.push_str(&format!("{n}: &{n} [{refs}]\n"));
            prev = n;
        }
        s.push_str(&format!("{root_key}: *i\n"));
        s
    }

    #[test]
    fn alias_bomb_is_refused_with_its_line() {
        let e = parse(&billion_laughs("scrape_configs")).unwrap_err();
        assert!(e.message.contains("excessive aliasing"), "{}", e.message);
        assert!((1..=10).contains(&e.line), "line {}", e.line);
    }

    #[test]
    fn aliases_within_budget_resolve() {
        // A block shared by many entries, as configs share TLS settings.
        let mut s = String::from("base: &t {ca_file: x, insecure_skip_verify: true}\njobs:\n");
        for i in 0..2000 {
            s.push_str(&format!("  - {{name: j{i}, tls: *t}}\n"));
        }
        let (root, _) = parse(&s).unwrap();
        let Kind::Map(entries) = &root.unwrap().kind else {
            panic!("not a map")
        };
        let Kind::Seq(jobs) = &entries[1].1.kind else {
            panic!("not a seq")
        };
        assert_eq!(jobs.len(), 2000);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        // The YAML parser's own recursion limit or ours, whichever is
        // lower: an error with a line either way, never a stack overflow.
        let e = parse(&deep).unwrap_err();
        assert!(
            e.message.contains("nested too deeply") || e.message.contains("recursion limit"),
            "{}",
            e.message
        );
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn marked_secrets_are_hidden_in_any_style() {
        let text = "a: {basic_auth: {username: u, password: p1}}\nb:\n  password: p2\n  limit: 1000\n  ok: true\nc: [x, y]\nu: https://me:pw@host/x?token=t&q=1\n";
        let (root, _) = parse(text).unwrap();
        let root = root.unwrap();
        let mut hidden = Hidden::default();
        let Kind::Map(top) = &root.kind else { panic!() };
        let Kind::Map(a) = &top[0].1.kind else {
            panic!()
        };
        let Kind::Map(ba) = &a[0].1.kind else {
            panic!()
        };
        hidden.secret(&ba[1].1);
        let Kind::Map(b) = &top[1].1.kind else {
            panic!()
        };
        hidden.secret(&b[0].1);
        hidden.secret(&top[2].1);
        let shown = render(&root, &hidden);
        assert!(!shown.contains("p1") && !shown.contains("p2"), "{shown}");
        assert_eq!(shown.matches(SECRET).count(), 4, "{shown}");
        assert!(shown.contains("username: u"), "{shown}");
        assert!(
            shown.contains("limit: 1000") && shown.contains("ok: true"),
            "{shown}"
        );
        // A password in a URL is hidden wherever it is; the query only
        // where the decoder marked the URL.
        assert!(
            shown.contains("https://me:xxxxx@host/x?token=t&q=1"),
            "{shown}"
        );
        hidden.url(&top[3].1);
        assert!(render(&root, &hidden).contains("https://me:xxxxx@host/x?token=xxxxx&q=xxxxx"));
        // What is shown loads again, with the same structure.
        let (again, _) = parse(&shown).unwrap();
        assert!(matches!(again.unwrap().kind, Kind::Map(ref m) if m.len() == 4));
    }

    #[test]
    fn lines_are_recorded() {
        let (root, _) = parse("a: 1\nb:\n  - x\n  - y\n").unwrap();
        let root = root.unwrap();
        let Kind::Map(entries) = &root.kind else {
            panic!("not a map")
        };
        assert_eq!(entries[0].0.line, 1);
        assert_eq!(entries[1].0.line, 2);
        let Kind::Seq(items) = &entries[1].1.kind else {
            panic!("not a seq")
        };
        assert_eq!(items[1].line, 4);
    }
}
