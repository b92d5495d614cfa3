//! Decoding a remote-write request body into an append batch.
//!
//! Both protocol versions arrive on the same path; the `Content-Type` picks
//! the message ([`pharos_agent::remote::version_from_content_type`]). The body
//! is snappy *block* format (not framed), as the specification requires.
//! Series with invalid label sets are left out of the batch and reported, so
//! the valid rest of a request is still stored. Exemplars of valid series
//! come out beside the batch, for the exemplar store once the samples are
//! stored (a series may carry exemplars without samples, as in Prometheus,
//! if it already exists).

use pharos_agent::remote::proto::{self, v2};
use pharos_agent::remote::Version;
use prost::Message;

use crate::storage::exemplars::Exemplar;
use crate::storage::{Labels, LabelsError, SeriesSamples};

/// Largest decompressed body accepted. Prometheus senders cut requests at a
/// few MiB; anything far beyond that is a mistake or an attack, and the
/// decoded message needs several times this in memory.
pub const MAX_DECODED_BYTES: usize = 64 << 20;

/// Why a body could not be decoded at all (nothing of it is stored).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unsupported Content-Encoding {0:?}: remote write bodies must be snappy-compressed")]
    Encoding(String),
    #[error("snappy decompression failed: {0}")]
    Snappy(String),
    #[error("decompressed body would be {0} bytes, more than the limit of {MAX_DECODED_BYTES}")]
    TooLarge(usize),
    #[error("protobuf decoding failed: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("remote write 2.0: {0}")]
    Symbols(String),
    /// A body whose every field is unknown to the announced version — in
    /// practice the other version's message: protobuf skips unknown
    /// fields, so it would decode as an empty request and be acknowledged
    /// with nothing stored.
    #[error("the body holds none of the fields of a remote write {} request; was it a {} request sent with the wrong Content-Type?", .0.name(), .0.other().name())]
    WrongVersion(Version),
}

/// A decoded request: the valid series, and what was left out.
#[derive(Debug, Default)]
pub struct Decoded {
    pub batch: Vec<SeriesSamples>,
    /// Samples in the batch.
    pub samples: usize,
    /// Series refused for their labels, with the first reason.
    pub invalid_series: usize,
    pub invalid_example: Option<String>,
    /// Native histogram samples, which pharos does not store yet.
    pub histograms: usize,
    /// Exemplars of valid series, with the series' labels. Remote write
    /// always carries their timestamp.
    pub exemplars: Vec<(Labels, Exemplar)>,
    /// Exemplars left out: invalid labels, or their series was refused.
    pub invalid_exemplars: usize,
}

impl Decoded {
    /// Keeps an exemplar given as label pairs (in any order, as senders
    /// need not sort them); invalid ones are counted.
    fn exemplar<'a>(
        &mut self,
        series: &Labels,
        pairs: impl Iterator<Item = (&'a str, &'a str)>,
        value: f64,
        timestamp_ms: i64,
    ) {
        let mut pairs: Vec<(&str, &str)> = pairs.collect();
        pairs.sort_unstable();
        match Labels::from_sorted_any(pairs) {
            Ok(labels) => self.exemplars.push((
                series.clone(),
                Exemplar {
                    labels,
                    value,
                    timestamp_ms,
                    has_timestamp: true,
                },
            )),
            Err(_) => self.invalid_exemplars += 1,
        }
    }

    /// Keeps the samples of a series whose labels are valid (v1 and v2).
    fn series(&mut self, labels: Labels, samples: impl Iterator<Item = (i64, f64)>) {
        let samples = samples_of(samples);
        if !samples.is_empty() {
            self.samples += samples.len();
            self.batch.push(SeriesSamples { labels, samples });
        }
    }

    fn refuse(&mut self, labels_text: String, err: LabelsError) {
        self.invalid_series += 1;
        if self.invalid_example.is_none() {
            self.invalid_example = Some(format!("{err} in series {labels_text}"));
        }
    }
}

/// Decompresses and decodes a body. `content_encoding` is the request's
/// header (missing means snappy, as Prometheus assumes).
pub fn decode(
    body: &[u8],
    version: Version,
    content_encoding: Option<&str>,
) -> Result<Decoded, DecodeError> {
    if let Some(enc) = content_encoding {
        if !enc.eq_ignore_ascii_case("snappy") {
            return Err(DecodeError::Encoding(enc.to_string()));
        }
    }
    let len = snap::raw::decompress_len(body).map_err(|e| DecodeError::Snappy(e.to_string()))?;
    if len > MAX_DECODED_BYTES {
        return Err(DecodeError::TooLarge(len));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| DecodeError::Snappy(e.to_string()))?;
    // Decoding from `Bytes` lets label strings slice the buffer.
    let raw = bytes::Bytes::from(raw);
    let nonempty = !raw.is_empty();
    match version {
        Version::V1 => {
            let req = proto::WriteRequest::decode(raw)?;
            if nonempty && req.timeseries.is_empty() && req.metadata.is_empty() {
                return Err(DecodeError::WrongVersion(Version::V1));
            }
            Ok(from_v1(req))
        }
        Version::V2 => {
            let req = v2::Request::decode(raw)?;
            if nonempty && req.symbols.is_empty() && req.timeseries.is_empty() {
                return Err(DecodeError::WrongVersion(Version::V2));
            }
            from_v2(req)
        }
    }
}

fn samples_of<'a>(it: impl Iterator<Item = (i64, f64)> + 'a) -> Vec<(i64, f64)> {
    it.collect()
}

/// Prometheus's text form of labels as sent, for error messages.
fn labels_text<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let inner: Vec<String> = pairs.map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// A label string as `&str`, if it is valid UTF-8.
fn text(b: &bytes::Bytes) -> Option<&str> {
    std::str::from_utf8(b).ok()
}

fn from_v1(req: proto::WriteRequest) -> Decoded {
    let mut out = Decoded::default();
    for ts in req.timeseries {
        out.histograms += ts.histograms.len();
        if ts.samples.is_empty() && ts.exemplars.is_empty() {
            continue;
        }
        if !ts
            .labels
            .iter()
            .all(|l| text(&l.name).is_some() && text(&l.value).is_some())
        {
            let lossy = ts.labels.iter().map(|l| {
                (
                    String::from_utf8_lossy(&l.name).into_owned(),
                    String::from_utf8_lossy(&l.value).into_owned(),
                )
            });
            let shown: Vec<(String, String)> = lossy.collect();
            if !ts.samples.is_empty() {
                out.refuse(
                    labels_text(shown.iter().map(|(n, v)| (n.as_str(), v.as_str()))),
                    LabelsError::InvalidUtf8,
                );
            }
            out.invalid_exemplars += ts.exemplars.len();
            continue;
        }
        let pairs = ts
            .labels
            .iter()
            .map(|l| (text(&l.name).unwrap_or(""), text(&l.value).unwrap_or("")));
        match Labels::from_sorted(pairs.clone()) {
            Ok(labels) => {
                for e in &ts.exemplars {
                    if e.labels
                        .iter()
                        .all(|l| text(&l.name).is_some() && text(&l.value).is_some())
                    {
                        let pairs = e
                            .labels
                            .iter()
                            .map(|l| (text(&l.name).unwrap_or(""), text(&l.value).unwrap_or("")));
                        out.exemplar(&labels, pairs, e.value, e.timestamp);
                    } else {
                        out.invalid_exemplars += 1;
                    }
                }
                out.series(labels, ts.samples.iter().map(|s| (s.timestamp, s.value)));
            }
            Err(e) => {
                out.invalid_exemplars += ts.exemplars.len();
                if !ts.samples.is_empty() {
                    out.refuse(labels_text(pairs), e);
                }
            }
        }
    }
    out
}

fn from_v2(req: v2::Request) -> Result<Decoded, DecodeError> {
    if req.symbols.first().is_some_and(|s| !s.is_empty()) {
        return Err(DecodeError::Symbols(
            "the first entry of the symbols table must be the empty string".into(),
        ));
    }
    let symbols: Vec<&str> = req
        .symbols
        .iter()
        .map(|b| std::str::from_utf8(b))
        .collect::<Result<_, _>>()
        .map_err(|_| DecodeError::Symbols("the symbols table holds invalid UTF-8".into()))?;
    let sym = |r: u32| -> Result<&str, DecodeError> {
        symbols.get(r as usize).copied().ok_or_else(|| {
            DecodeError::Symbols(format!(
                "symbol reference {r} is outside the symbols table of {} entries",
                req.symbols.len()
            ))
        })
    };
    // Name/value pairs of symbol references (a series' or an exemplar's).
    let refs = |r: &[u32], odd: &str| -> Result<Vec<(&str, &str)>, DecodeError> {
        if !r.len().is_multiple_of(2) {
            return Err(DecodeError::Symbols(odd.into()));
        }
        r.chunks_exact(2)
            .map(|p| Ok((sym(p[0])?, sym(p[1])?)))
            .collect()
    };
    let mut out = Decoded::default();
    for ts in &req.timeseries {
        out.histograms += ts.histograms.len();
        let pairs = refs(&ts.labels_refs, "labels_refs has an odd number of entries")?;
        if ts.samples.is_empty() && ts.exemplars.is_empty() {
            continue;
        }
        match Labels::from_sorted(pairs.iter().copied()) {
            Ok(labels) => {
                for e in &ts.exemplars {
                    let pairs = refs(
                        &e.labels_refs,
                        "an exemplar's labels_refs has an odd number of entries",
                    )?;
                    out.exemplar(&labels, pairs.into_iter(), e.value, e.timestamp);
                }
                out.series(labels, ts.samples.iter().map(|s| (s.timestamp, s.value)));
            }
            Err(e) => {
                out.invalid_exemplars += ts.exemplars.len();
                if !ts.samples.is_empty() {
                    out.refuse(labels_text(pairs.into_iter()), e);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snappy(b: &[u8]) -> Vec<u8> {
        snap::raw::Encoder::new().compress_vec(b).unwrap()
    }

    fn label(n: &str, v: &str) -> proto::Label {
        proto::Label::new(n, v)
    }

    #[test]
    fn v1_valid_and_invalid_series() {
        let req = proto::WriteRequest {
            timeseries: vec![
                proto::TimeSeries {
                    labels: vec![label("__name__", "up"), label("job", "a")],
                    samples: vec![proto::Sample {
                        value: 1.0,
                        timestamp: 5,
                    }],
                    ..Default::default()
                },
                proto::TimeSeries {
                    labels: vec![label("job", "a"), label("__name__", "up")],
                    samples: vec![proto::Sample {
                        value: 1.0,
                        timestamp: 5,
                    }],
                    ..Default::default()
                },
            ],
            metadata: vec![],
        };
        let d = decode(&snappy(&req.encode_to_vec()), Version::V1, None).unwrap();
        assert_eq!(d.batch.len(), 1);
        assert_eq!(d.samples, 1);
        assert_eq!(d.invalid_series, 1);
        assert!(d.invalid_example.unwrap().contains("not sorted"));
    }

    #[test]
    fn v2_symbols() {
        let req = v2::Request {
            symbols: vec![
                "".into(),
                "__name__".into(),
                "up".into(),
                "job".into(),
                "x".into(),
            ],
            timeseries: vec![v2::TimeSeries {
                labels_refs: vec![1, 2, 3, 4],
                samples: vec![v2::Sample {
                    value: 2.0,
                    timestamp: 7,
                    start_timestamp: 0,
                }],
                ..Default::default()
            }],
        };
        let d = decode(&snappy(&req.encode_to_vec()), Version::V2, Some("snappy")).unwrap();
        assert_eq!(d.batch[0].labels.get("job"), Some("x"));
        assert_eq!(d.batch[0].samples, vec![(7, 2.0)]);

        let mut bad = req.clone();
        bad.timeseries[0].labels_refs = vec![1, 9];
        assert!(matches!(
            decode(&snappy(&bad.encode_to_vec()), Version::V2, None),
            Err(DecodeError::Symbols(_))
        ));
    }

    proptest::proptest! {
        /// Arbitrary bytes, raw or inside valid snappy, never panic the
        /// decoder, for either protocol version.
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            for v in [Version::V1, Version::V2] {
                let _ = decode(&body, v, None);
                let _ = decode(&snappy(&body), v, None);
            }
        }
    }

    #[test]
    fn invalid_utf8_refuses_the_series_only() {
        let mut bad = label("job", "x");
        bad.value = bytes::Bytes::from_static(b"\xff\xfe");
        let req = proto::WriteRequest {
            timeseries: vec![
                proto::TimeSeries {
                    labels: vec![label("__name__", "up"), bad],
                    samples: vec![proto::Sample {
                        value: 1.0,
                        timestamp: 5,
                    }],
                    ..Default::default()
                },
                proto::TimeSeries {
                    labels: vec![label("__name__", "up")],
                    samples: vec![proto::Sample {
                        value: 1.0,
                        timestamp: 5,
                    }],
                    ..Default::default()
                },
            ],
            metadata: vec![],
        };
        let d = decode(&snappy(&req.encode_to_vec()), Version::V1, None).unwrap();
        assert_eq!((d.batch.len(), d.invalid_series), (1, 1));
        assert!(d.invalid_example.unwrap().contains("not valid UTF-8"));
        let v2req = v2::Request {
            symbols: vec!["".into(), bytes::Bytes::from_static(b"\xff")],
            timeseries: vec![],
        };
        assert!(matches!(
            decode(&snappy(&v2req.encode_to_vec()), Version::V2, None),
            Err(DecodeError::Symbols(_))
        ));
    }

    #[test]
    fn exemplars_of_valid_series_come_out_sorted() {
        let req = proto::WriteRequest {
            timeseries: vec![
                proto::TimeSeries {
                    labels: vec![label("__name__", "rq_total")],
                    samples: vec![proto::Sample {
                        value: 3.0,
                        timestamp: 5,
                    }],
                    exemplars: vec![proto::Exemplar {
                        labels: vec![label("trace_id", "abc"), label("span_id", "s")],
                        value: 1.5,
                        timestamp: 4,
                    }],
                    ..Default::default()
                },
                // Exemplars only: kept for a series that may exist.
                proto::TimeSeries {
                    labels: vec![label("__name__", "other_total")],
                    exemplars: vec![proto::Exemplar {
                        labels: vec![],
                        value: 2.0,
                        timestamp: 6,
                    }],
                    ..Default::default()
                },
                // A refused series takes its exemplars along.
                proto::TimeSeries {
                    labels: vec![label("job", "a"), label("__name__", "x")],
                    samples: vec![proto::Sample {
                        value: 1.0,
                        timestamp: 5,
                    }],
                    exemplars: vec![proto::Exemplar {
                        labels: vec![label("t", "1")],
                        value: 1.0,
                        timestamp: 5,
                    }],
                    ..Default::default()
                },
            ],
            metadata: vec![],
        };
        let d = decode(&snappy(&req.encode_to_vec()), Version::V1, None).unwrap();
        assert_eq!((d.batch.len(), d.invalid_series), (1, 1));
        assert_eq!((d.exemplars.len(), d.invalid_exemplars), (2, 1));
        let (series, e) = &d.exemplars[0];
        assert_eq!(series.metric_name(), "rq_total");
        let labels: Vec<_> = e.labels.iter().collect();
        assert_eq!(labels, vec![("span_id", "s"), ("trace_id", "abc")]);
        assert_eq!((e.value, e.timestamp_ms, e.has_timestamp), (1.5, 4, true));
        assert_eq!(d.exemplars[1].0.metric_name(), "other_total");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(matches!(
            decode(b"\xff\xff\xff", Version::V1, None),
            Err(DecodeError::Snappy(_))
        ));
        assert!(matches!(
            decode(&snappy(b"\xff\xff\xff\xff"), Version::V1, None),
            Err(DecodeError::Protobuf(_))
        ));
        assert!(matches!(
            decode(b"", Version::V1, Some("gzip")),
            Err(DecodeError::Encoding(_))
        ));
    }
}
