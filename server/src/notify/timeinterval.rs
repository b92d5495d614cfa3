//! Alertmanager's time intervals: the specs under `time_intervals:` (and the
//! deprecated `mute_time_intervals:`) that routes name in their
//! `mute_time_intervals` and `active_time_intervals`.
//!
//! A [`TimeInterval`] is one spec: times of day, weekdays, days of the month,
//! months and years, each a list of ranges, read in one [`Location`]. An
//! instant is in the spec when every non-empty list has a range holding it;
//! a named interval is a list of specs and holds the instant when any spec
//! does ([`any_contains`]). The `parse_*` functions take the strings the
//! config reader has already pulled out of its YAML tree, so that reader
//! keeps file:line context and these stay free of YAML; their error texts
//! are Alertmanager's.
//!
//! There is no time zone database on the machines pharos runs on, so
//! [`Location`] covers UTC, the host's `Local` zone, the fixed-offset IANA
//! zones `Etc/GMT±N`, and (a pharos extension) numeric offsets such as
//! `+05:30`. Other IANA names are refused with a message saying so.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Timelike, Utc};

/// TimeInterval is one `time_intervals` spec. An empty list matches every
/// instant, as Alertmanager treats an omitted field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimeInterval {
    /// Minutes of the day, each `[start, end)`.
    pub times: Vec<TimeRange>,
    /// Inclusive weekday ranges, 0 = Sunday … 6 = Saturday (Go's
    /// `time.Weekday`).
    pub weekdays: Vec<(u32, u32)>,
    /// Inclusive day-of-month ranges; negative days count from the month's
    /// end (-1 is its last day).
    pub days_of_month: Vec<(i32, i32)>,
    /// Inclusive month ranges, 1 = January.
    pub months: Vec<(u32, u32)>,
    /// Inclusive year ranges.
    pub years: Vec<(i32, i32)>,
    /// The zone the other fields are read in.
    pub location: Location,
}

/// TimeRange is `[start_minute, end_minute)` within a 1440-minute day; an
/// end of 1440 ("24:00") runs to midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start_minute: u32,
    pub end_minute: u32,
}

/// Location is the zone a time interval is evaluated in.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Location {
    /// UTC, Alertmanager's default when `location` is not given.
    #[default]
    Utc,
    /// The host's zone, as Go's `time.Local` (chrono reads `TZ` and
    /// `/etc/localtime`).
    Local,
    /// A zone with one constant offset; `name` is how it was written.
    Fixed { name: String, offset: FixedOffset },
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Utc => f.write_str("UTC"),
            Location::Local => f.write_str("Local"),
            Location::Fixed { name, .. } => f.write_str(name),
        }
    }
}

impl TimeInterval {
    /// contains is Alertmanager's `ContainsTime`: true when `t`, read in the
    /// interval's location, satisfies every non-empty field.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        let civil = match &self.location {
            Location::Utc => Civil::of(&t),
            Location::Local => Civil::of(&t.with_timezone(&chrono::Local)),
            Location::Fixed { offset, .. } => Civil::of(&t.with_timezone(offset)),
        };
        self.contains_civil(&civil)
    }

    fn contains_civil(&self, c: &Civil) -> bool {
        fn field<R>(ranges: &[R], hit: impl Fn(&R) -> bool) -> bool {
            ranges.is_empty() || ranges.iter().any(hit)
        }
        field(&self.times, |r| {
            r.start_minute <= c.minute_of_day && c.minute_of_day < r.end_minute
        }) && field(&self.days_of_month, |&(begin, end)| {
            day_in_range(c.day, c.days_in_month, begin, end)
        }) && field(&self.months, |&(b, e)| b <= c.month && c.month <= e)
            && field(&self.weekdays, |&(b, e)| b <= c.weekday && c.weekday <= e)
            && field(&self.years, |&(b, e)| b <= c.year && c.year <= e)
    }
}

/// day_in_range resolves negative days against this month's length and
/// clamps to the month, as Alertmanager does: `1:31` in February ends on the
/// 28th or 29th, and a range starting past the month's end (`30:31` in
/// February) holds no day at all rather than spilling into March.
fn day_in_range(day: i32, days_in_month: i32, begin: i32, end: i32) -> bool {
    let resolve = |d: i32| if d < 0 { days_in_month + d + 1 } else { d };
    let (begin, end) = (resolve(begin), resolve(end));
    if begin > days_in_month {
        return false;
    }
    let clamp = |d: i32| d.clamp(-days_in_month, days_in_month);
    day >= clamp(begin) && day <= clamp(end)
}

/// any_contains is a named interval's test: true when any of its specs
/// contains `t` (false for an empty list).
pub fn any_contains(intervals: &[TimeInterval], t: DateTime<Utc>) -> bool {
    intervals.iter().any(|i| i.contains(t))
}

/// Civil is an instant's calendar fields in the interval's zone.
struct Civil {
    minute_of_day: u32,
    day: i32,
    days_in_month: i32,
    month: u32,
    weekday: u32,
    year: i32,
}

impl Civil {
    fn of<Tz: TimeZone>(t: &DateTime<Tz>) -> Civil {
        Civil {
            minute_of_day: t.hour() * 60 + t.minute(),
            day: t.day() as i32,
            days_in_month: days_in_month(t.year(), t.month()),
            month: t.month(),
            weekday: t.weekday().num_days_from_sunday(),
            year: t.year(),
        }
    }
}

fn days_in_month(year: i32, month: u32) -> i32 {
    let first = NaiveDate::from_ymd_opt(year, month, 1);
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    match (first, next) {
        (Some(a), Some(b)) => (b - a).num_days() as i32,
        // Only at the edge of chrono's year range; no month is shorter.
        _ => 28,
    }
}

/// parse_time_range reads a `times` entry's `start_time` and `end_time`
/// ("HH:MM", with "24:00" allowed).
pub fn parse_time_range(start: &str, end: &str) -> Result<TimeRange, String> {
    if start.is_empty() || end.is_empty() {
        return Err("both start and end times must be provided".to_string());
    }
    let (start_minute, end_minute) = (parse_time(start)?, parse_time(end)?);
    if start_minute >= end_minute {
        return Err("start time cannot be equal or greater than end time".to_string());
    }
    Ok(TimeRange {
        start_minute,
        end_minute,
    })
}

/// parse_time reads "HH:MM" from 00:00 to 23:59, or "24:00", as minutes.
fn parse_time(s: &str) -> Result<u32, String> {
    let invalid = || format!("couldn't parse timestamp {s}, invalid format");
    if s == "24:00" {
        return Ok(24 * 60);
    }
    let b = s.as_bytes();
    let digits =
        b.len() == 5 && b[2] == b':' && [0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit());
    if !digits {
        return Err(invalid());
    }
    let num = |i: usize| u32::from(b[i] - b'0') * 10 + u32::from(b[i + 1] - b'0');
    let (hours, minutes) = (num(0), num(3));
    if hours > 23 || minutes > 59 {
        return Err(invalid());
    }
    Ok(hours * 60 + minutes)
}

/// split_range cuts "a:b" into its ends, or gives "a" as both ends.
fn split_range(s: &str) -> Result<(&str, &str), String> {
    let mut parts = s.split(':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(a), None, _) => Ok((a, a)),
        (Some(a), Some(b), None) => Ok((a, b)),
        _ => Err(format!("couldn't parse range {s}, invalid format")),
    }
}

/// atoi is Go's `strconv.Atoi`, with its error texts.
fn atoi(s: &str) -> Result<i32, String> {
    use std::num::IntErrorKind;
    match s.parse::<i32>() {
        Ok(n) => Ok(n),
        Err(e)
            if matches!(
                e.kind(),
                IntErrorKind::PosOverflow | IntErrorKind::NegOverflow
            ) =>
        {
            Err(format!("strconv.Atoi: parsing {s:?}: value out of range"))
        }
        Err(_) => Err(format!("strconv.Atoi: parsing {s:?}: invalid syntax")),
    }
}

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// parse_weekday_range reads `monday:wednesday` or `saturday`; names are
/// case-insensitive and, as in Alertmanager, numbers are not accepted.
pub fn parse_weekday_range(s: &str) -> Result<(u32, u32), String> {
    let lower = s.to_lowercase();
    let (a, b) = split_range(&lower)?;
    let day = |name: &str| {
        WEEKDAYS
            .iter()
            .position(|&d| d == name)
            .map(|i| i as u32)
            .ok_or_else(|| format!("{name} is not a valid weekday"))
    };
    let (begin, end) = (day(a)?, day(b)?);
    if begin > end {
        // Alertmanager's words, though it means the start is after the end.
        return Err("start day cannot be before end day".to_string());
    }
    Ok((begin, end))
}

/// parse_day_of_month_range reads `1:5`, `-3:-1` or `15`. Days are 1…31 or
/// -31…-1; a negative start needs a negative end, and ranges that are
/// empty in every month (checked against a 28-day month) are refused.
pub fn parse_day_of_month_range(s: &str) -> Result<(i32, i32), String> {
    let lower = s.to_lowercase();
    let (a, b) = split_range(&lower)?;
    let (begin, end) = (atoi(a)?, atoi(b)?);
    for d in [begin, end] {
        if d == 0 || !(-31..=31).contains(&d) {
            return Err(format!("{d} is not a valid day of the month: out of range"));
        }
    }
    // A mixed `-5:10` would be empty in long months but not in short ones.
    if begin < 0 && end > 0 {
        return Err("end day must be negative if start day is negative".to_string());
    }
    let shortest = |d: i32| if d < 0 { 28 + d } else { d };
    if shortest(begin) > shortest(end) {
        return Err(format!("end day {end} is always before start day {begin}"));
    }
    Ok((begin, end))
}

/// parse_month_range reads `1:3`, `may:august` or `december`: names are
/// case-insensitive, numbers are 1…12.
pub fn parse_month_range(s: &str) -> Result<(u32, u32), String> {
    let lower = s.to_lowercase();
    let (a, b) = split_range(&lower)?;
    let month = |m: &str| -> Result<u32, String> {
        if let Some(i) = MONTHS.iter().position(|&name| name == m) {
            return Ok(i as u32 + 1);
        }
        let n = atoi(m).map_err(|_| format!("{m} is not a valid month"))?;
        // Alertmanager takes any number here and the month then never
        // matches; refusing it catches the typo at load time instead.
        u32::try_from(n)
            .ok()
            .filter(|n| (1..=12).contains(n))
            .ok_or_else(|| format!("{m} is not a valid month: out of range"))
    };
    let (begin, end) = (month(a)?, month(b)?);
    if begin > end {
        let name = |m: u32| MONTHS[m as usize - 1];
        return Err(format!(
            "end month {} is before start month {}",
            name(end),
            name(begin)
        ));
    }
    Ok((begin, end))
}

/// parse_year_range reads `2020:2022` or `2030`.
pub fn parse_year_range(s: &str) -> Result<(i32, i32), String> {
    let (a, b) = split_range(s)?;
    let (begin, end) = (atoi(a)?, atoi(b)?);
    if begin > end {
        return Err(format!("end year {end} is before start year {begin}"));
    }
    Ok((begin, end))
}

/// parse_location reads a `location`: "" or `UTC`, `Local`, a UTC alias
/// (`Etc/UTC`, `GMT`, …), `Etc/GMT+N` / `Etc/GMT-N` (POSIX signs: `Etc/GMT-2`
/// is two hours *ahead* of UTC), or a numeric offset `+HH:MM` / `-HHMM`.
pub fn parse_location(s: &str) -> Result<Location, String> {
    const UTC_ALIASES: [&str; 14] = [
        "Etc/UTC",
        "Etc/UCT",
        "Etc/GMT",
        "Etc/GMT0",
        "Etc/GMT+0",
        "Etc/GMT-0",
        "Etc/Greenwich",
        "Etc/Universal",
        "Etc/Zulu",
        "GMT",
        "UCT",
        "Universal",
        "Zulu",
        "Greenwich",
    ];
    let fixed = |seconds: i32| {
        FixedOffset::east_opt(seconds).map(|offset| Location::Fixed {
            name: s.to_string(),
            offset,
        })
    };
    // Go's time.LoadLocation("") is UTC too.
    if s.is_empty() || s == "UTC" {
        return Ok(Location::Utc);
    }
    if s == "Local" {
        return Ok(Location::Local);
    }
    if UTC_ALIASES.contains(&s) {
        return Ok(fixed(0).expect("BUG: zero offset out of range"));
    }
    if let Some(rest) = s.strip_prefix("Etc/GMT") {
        // The zones that exist: Etc/GMT-14 … Etc/GMT+12, whole hours.
        let hours = match rest.split_at_checked(1) {
            Some(("+", n)) if is_small_number(n) => {
                n.parse::<i32>().ok().filter(|h| *h <= 12).map(|h| -h)
            }
            Some(("-", n)) if is_small_number(n) => n.parse::<i32>().ok().filter(|h| *h <= 14),
            _ => None,
        };
        if let Some(loc) = hours.and_then(|h| fixed(h * 3600)) {
            return Ok(loc);
        }
    }
    if let Some(seconds) = numeric_offset(s) {
        if let Some(loc) = fixed(seconds) {
            return Ok(loc);
        }
    }
    Err(format!(
        "unknown time zone {s}: IANA time zone names are not supported yet \
         (pharos has no time zone database); use UTC, Local, Etc/GMT±N or an \
         offset such as +05:30"
    ))
}

/// One or two digits without a leading zero, as the `Etc/GMT±N` zone names
/// are spelled (`Etc/GMT+0` is among the UTC aliases).
fn is_small_number(s: &str) -> bool {
    (1..=2).contains(&s.len()) && !s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit())
}

/// numeric_offset reads `+HH:MM` or `+HHMM` (or `-`) as seconds east of
/// UTC, with hours up to 23 and minutes up to 59.
fn numeric_offset(s: &str) -> Option<i32> {
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = &s[1..];
    let (h, m) = match rest.len() {
        5 if rest.as_bytes()[2] == b':' => (&rest[..2], &rest[3..]),
        4 => (&rest[..2], &rest[2..]),
        _ => return None,
    };
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || !digits(m) {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 23 && m <= 59).then_some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn check<T: PartialEq + std::fmt::Debug>(
        what: &str,
        parse: impl Fn(&str) -> Result<T, String>,
        good: &[(&str, T)],
        bad: &[(&str, &str)],
    ) {
        for (input, want) in good {
            assert_eq!(
                parse(input).as_ref(),
                Ok(want),
                "{what} {input:?} should parse"
            );
        }
        for &(input, want) in bad {
            match parse(input) {
                Ok(got) => panic!("{what} {input:?} parsed as {got:?}, want error {want:?}"),
                Err(e) => assert_eq!(e, want, "{what} {input:?}"),
            }
        }
    }

    #[test]
    fn time_ranges() {
        let good: &[(&str, &str, (u32, u32))] = &[
            ("00:00", "24:00", (0, 1440)),
            ("09:00", "17:30", (540, 1050)),
            ("23:59", "24:00", (1439, 1440)),
            ("00:00", "00:01", (0, 1)),
        ];
        for &(start, end, (s, e)) in good {
            let want = TimeRange {
                start_minute: s,
                end_minute: e,
            };
            assert_eq!(parse_time_range(start, end), Ok(want), "{start}-{end}");
        }
        let bad: &[(&str, &str, &str)] = &[
            ("", "10:00", "both start and end times must be provided"),
            ("10:00", "", "both start and end times must be provided"),
            (
                "10:00",
                "10:00",
                "start time cannot be equal or greater than end time",
            ),
            (
                "17:00",
                "09:00",
                "start time cannot be equal or greater than end time",
            ),
            (
                "24:00",
                "24:00",
                "start time cannot be equal or greater than end time",
            ),
            (
                "9:00",
                "10:00",
                "couldn't parse timestamp 9:00, invalid format",
            ),
            (
                "09:00",
                "24:01",
                "couldn't parse timestamp 24:01, invalid format",
            ),
            (
                "25:00",
                "26:00",
                "couldn't parse timestamp 25:00, invalid format",
            ),
            (
                "09:60",
                "10:00",
                "couldn't parse timestamp 09:60, invalid format",
            ),
            (
                "09:00:00",
                "10:00",
                "couldn't parse timestamp 09:00:00, invalid format",
            ),
            (
                "+9:00",
                "10:00",
                "couldn't parse timestamp +9:00, invalid format",
            ),
        ];
        for &(start, end, want) in bad {
            assert_eq!(
                parse_time_range(start, end),
                Err(want.to_string()),
                "{start}-{end}"
            );
        }
    }

    #[test]
    fn weekday_ranges() {
        check(
            "weekday",
            parse_weekday_range,
            &[
                ("monday:wednesday", (1, 3)),
                ("saturday", (6, 6)),
                ("Sunday", (0, 0)),
                ("MONDAY:Friday", (1, 5)),
                ("sunday:saturday", (0, 6)),
            ],
            &[
                ("friday:monday", "start day cannot be before end day"),
                ("saturday:sunday", "start day cannot be before end day"),
                ("funday", "funday is not a valid weekday"),
                ("1", "1 is not a valid weekday"),
                ("monday:", " is not a valid weekday"),
                ("mon:fri", "mon is not a valid weekday"),
                (
                    "monday:tuesday:friday",
                    "couldn't parse range monday:tuesday:friday, invalid format",
                ),
            ],
        );
    }

    #[test]
    fn day_of_month_ranges() {
        check(
            "day of month",
            parse_day_of_month_range,
            &[
                ("1:5", (1, 5)),
                ("-3:-1", (-3, -1)),
                ("15", (15, 15)),
                ("1:31", (1, 31)),
                ("-31:-1", (-31, -1)),
                ("20:-1", (20, -1)),
            ],
            &[
                ("0", "0 is not a valid day of the month: out of range"),
                ("1:32", "32 is not a valid day of the month: out of range"),
                (
                    "-32:-1",
                    "-32 is not a valid day of the month: out of range",
                ),
                ("-5:10", "end day must be negative if start day is negative"),
                ("10:5", "end day 5 is always before start day 10"),
                ("-1:-3", "end day -3 is always before start day -1"),
                ("28:-2", "end day -2 is always before start day 28"),
                ("first", "strconv.Atoi: parsing \"first\": invalid syntax"),
                ("1:", "strconv.Atoi: parsing \"\": invalid syntax"),
                (
                    "99999999999",
                    "strconv.Atoi: parsing \"99999999999\": value out of range",
                ),
            ],
        );
    }

    #[test]
    fn month_ranges() {
        check(
            "month",
            parse_month_range,
            &[
                ("1:3", (1, 3)),
                ("may:august", (5, 8)),
                ("December", (12, 12)),
                ("january:6", (1, 6)),
                ("12", (12, 12)),
            ],
            &[
                ("august:may", "end month may is before start month august"),
                ("3:1", "end month january is before start month march"),
                ("smarch", "smarch is not a valid month"),
                ("13", "13 is not a valid month: out of range"),
                ("0:3", "0 is not a valid month: out of range"),
                ("1:2:3", "couldn't parse range 1:2:3, invalid format"),
            ],
        );
    }

    #[test]
    fn year_ranges() {
        check(
            "year",
            parse_year_range,
            &[("2020:2022", (2020, 2022)), ("2030", (2030, 2030))],
            &[
                ("2022:2020", "end year 2020 is before start year 2022"),
                ("twenty", "strconv.Atoi: parsing \"twenty\": invalid syntax"),
            ],
        );
    }

    #[test]
    fn locations() {
        let fixed = |name: &str, seconds: i32| Location::Fixed {
            name: name.to_string(),
            offset: FixedOffset::east_opt(seconds).unwrap(),
        };
        check(
            "location",
            parse_location,
            &[
                ("", Location::Utc),
                ("UTC", Location::Utc),
                ("Local", Location::Local),
                ("Etc/UTC", fixed("Etc/UTC", 0)),
                ("GMT", fixed("GMT", 0)),
                ("Etc/GMT-2", fixed("Etc/GMT-2", 2 * 3600)),
                ("Etc/GMT+5", fixed("Etc/GMT+5", -5 * 3600)),
                ("Etc/GMT-14", fixed("Etc/GMT-14", 14 * 3600)),
                ("+05:30", fixed("+05:30", 5 * 3600 + 30 * 60)),
                ("-0800", fixed("-0800", -8 * 3600)),
            ],
            &[],
        );
        for bad in [
            "Europe/Berlin",
            "utc",
            "Etc/GMT+05",
            "Etc/GMT+13",
            "Etc/GMT-15",
            "+24:00",
            "+5:30",
            "Mars/Olympus",
        ] {
            let e = parse_location(bad).unwrap_err();
            assert!(
                e.starts_with(&format!(
                    "unknown time zone {bad}: IANA time zone names are not supported yet"
                )),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            parse_location("Etc/GMT-2").unwrap().to_string(),
            "Etc/GMT-2"
        );
        assert_eq!(Location::default().to_string(), "UTC");
    }

    #[test]
    fn contains_table() {
        let times = |ranges: &[(&str, &str)]| -> Vec<TimeRange> {
            ranges
                .iter()
                .map(|(s, e)| parse_time_range(s, e).unwrap())
                .collect()
        };
        let weekdays = |specs: &[&str]| {
            specs
                .iter()
                .map(|s| parse_weekday_range(s).unwrap())
                .collect()
        };
        let days = |specs: &[&str]| {
            specs
                .iter()
                .map(|s| parse_day_of_month_range(s).unwrap())
                .collect()
        };
        let months = |specs: &[&str]| {
            specs
                .iter()
                .map(|s| parse_month_range(s).unwrap())
                .collect()
        };
        let years = |specs: &[&str]| specs.iter().map(|s| parse_year_range(s).unwrap()).collect();

        let workdays = TimeInterval {
            weekdays: weekdays(&["monday:friday"]),
            ..Default::default()
        };
        let office_hours = TimeInterval {
            times: times(&[("09:00", "17:00")]),
            ..Default::default()
        };
        let evening = TimeInterval {
            times: times(&[("17:00", "24:00")]),
            ..Default::default()
        };
        let until_2359 = TimeInterval {
            times: times(&[("00:00", "23:59")]),
            ..Default::default()
        };
        let last_day = TimeInterval {
            days_of_month: days(&["-1"]),
            ..Default::default()
        };
        let last_three = TimeInterval {
            days_of_month: days(&["-3:-1"]),
            ..Default::default()
        };
        let whole_month = TimeInterval {
            days_of_month: days(&["1:31"]),
            ..Default::default()
        };
        let thirtieth_on = TimeInterval {
            days_of_month: days(&["30:31"]),
            ..Default::default()
        };
        let start_and_end = TimeInterval {
            days_of_month: days(&["1:5", "-3:-1"]),
            ..Default::default()
        };
        let summer = TimeInterval {
            months: months(&["may:august"]),
            ..Default::default()
        };
        let early_twenties = TimeInterval {
            years: years(&["2020:2022"]),
            ..Default::default()
        };
        let office = TimeInterval {
            times: times(&[("09:00", "17:00")]),
            weekdays: weekdays(&["monday:friday"]),
            ..Default::default()
        };
        let sydney_ish_saturday = TimeInterval {
            weekdays: weekdays(&["saturday"]),
            location: parse_location("Etc/GMT-10").unwrap(),
            ..Default::default()
        };
        let india_morning = TimeInterval {
            times: times(&[("09:00", "10:00")]),
            location: parse_location("+05:30").unwrap(),
            ..Default::default()
        };
        let everything = TimeInterval::default();

        let cases: &[(&str, &TimeInterval, DateTime<Utc>, bool)] = &[
            // Weekday boundaries (2024-01-01 is a Monday).
            (
                "workdays sun 23:59",
                &workdays,
                at(2023, 12, 31, 23, 59),
                false,
            ),
            ("workdays mon 00:00", &workdays, at(2024, 1, 1, 0, 0), true),
            (
                "workdays fri 23:59",
                &workdays,
                at(2024, 1, 5, 23, 59),
                true,
            ),
            ("workdays sat 00:00", &workdays, at(2024, 1, 6, 0, 0), false),
            // Times are [start, end).
            ("office 08:59", &office_hours, at(2024, 1, 1, 8, 59), false),
            ("office 09:00", &office_hours, at(2024, 1, 1, 9, 0), true),
            ("office 16:59", &office_hours, at(2024, 1, 1, 16, 59), true),
            ("office 17:00", &office_hours, at(2024, 1, 1, 17, 0), false),
            ("evening 23:59", &evening, at(2024, 1, 1, 23, 59), true),
            ("evening midnight", &evening, at(2024, 1, 2, 0, 0), false),
            (
                "until 23:59 at 23:58",
                &until_2359,
                at(2024, 1, 1, 23, 58),
                true,
            ),
            (
                "until 23:59 at 23:59",
                &until_2359,
                at(2024, 1, 1, 23, 59),
                false,
            ),
            // Negative days in February, leap and not.
            (
                "last day 2024-02-29",
                &last_day,
                at(2024, 2, 29, 12, 0),
                true,
            ),
            (
                "last day 2024-02-28",
                &last_day,
                at(2024, 2, 28, 12, 0),
                false,
            ),
            (
                "last day 2023-02-28",
                &last_day,
                at(2023, 2, 28, 12, 0),
                true,
            ),
            (
                "last day 2023-02-27",
                &last_day,
                at(2023, 2, 27, 12, 0),
                false,
            ),
            (
                "last day 2024-01-31",
                &last_day,
                at(2024, 1, 31, 0, 0),
                true,
            ),
            (
                "last three 2024-02-27",
                &last_three,
                at(2024, 2, 27, 0, 0),
                true,
            ),
            (
                "last three 2024-02-26",
                &last_three,
                at(2024, 2, 26, 23, 59),
                false,
            ),
            (
                "last three 2023-02-26",
                &last_three,
                at(2023, 2, 26, 0, 0),
                true,
            ),
            (
                "last three 2023-02-25",
                &last_three,
                at(2023, 2, 25, 23, 59),
                false,
            ),
            // Clamping to the month.
            (
                "1:31 on 2023-02-28",
                &whole_month,
                at(2023, 2, 28, 0, 0),
                true,
            ),
            (
                "30:31 on 2024-02-29",
                &thirtieth_on,
                at(2024, 2, 29, 0, 0),
                false,
            ),
            (
                "30:31 on 2024-03-01",
                &thirtieth_on,
                at(2024, 3, 1, 0, 0),
                false,
            ),
            (
                "30:31 on 2024-03-30",
                &thirtieth_on,
                at(2024, 3, 30, 0, 0),
                true,
            ),
            (
                "start or end, 5th",
                &start_and_end,
                at(2024, 4, 5, 0, 0),
                true,
            ),
            (
                "start or end, 6th",
                &start_and_end,
                at(2024, 4, 6, 0, 0),
                false,
            ),
            (
                "start or end, 28th of 30",
                &start_and_end,
                at(2024, 4, 28, 0, 0),
                true,
            ),
            (
                "start or end, 27th of 30",
                &start_and_end,
                at(2024, 4, 27, 0, 0),
                false,
            ),
            // Months and years are inclusive.
            ("summer apr 30", &summer, at(2024, 4, 30, 23, 59), false),
            ("summer may 1", &summer, at(2024, 5, 1, 0, 0), true),
            ("summer aug 31", &summer, at(2024, 8, 31, 23, 59), true),
            ("summer sep 1", &summer, at(2024, 9, 1, 0, 0), false),
            (
                "years 2019",
                &early_twenties,
                at(2019, 12, 31, 23, 59),
                false,
            ),
            ("years 2020", &early_twenties, at(2020, 1, 1, 0, 0), true),
            (
                "years 2022",
                &early_twenties,
                at(2022, 12, 31, 23, 59),
                true,
            ),
            ("years 2023", &early_twenties, at(2023, 1, 1, 0, 0), false),
            // Every field must match.
            ("office mon 10:00", &office, at(2024, 1, 1, 10, 0), true),
            ("office sat 10:00", &office, at(2024, 1, 6, 10, 0), false),
            ("office mon 18:00", &office, at(2024, 1, 1, 18, 0), false),
            // Fields are read in the interval's location.
            (
                "UTC+10 fri 13:59 UTC",
                &sydney_ish_saturday,
                at(2024, 1, 5, 13, 59),
                false,
            ),
            (
                "UTC+10 fri 14:00 UTC",
                &sydney_ish_saturday,
                at(2024, 1, 5, 14, 0),
                true,
            ),
            (
                "UTC+10 sat 13:59 UTC",
                &sydney_ish_saturday,
                at(2024, 1, 6, 13, 59),
                true,
            ),
            (
                "UTC+10 sat 14:00 UTC",
                &sydney_ish_saturday,
                at(2024, 1, 6, 14, 0),
                false,
            ),
            (
                "+05:30 03:29 UTC",
                &india_morning,
                at(2024, 1, 1, 3, 29),
                false,
            ),
            (
                "+05:30 03:30 UTC",
                &india_morning,
                at(2024, 1, 1, 3, 30),
                true,
            ),
            (
                "+05:30 04:29 UTC",
                &india_morning,
                at(2024, 1, 1, 4, 29),
                true,
            ),
            (
                "+05:30 04:30 UTC",
                &india_morning,
                at(2024, 1, 1, 4, 30),
                false,
            ),
            // No fields: always.
            ("empty", &everything, at(1999, 12, 31, 23, 59), true),
        ];
        for (name, interval, t, want) in cases {
            assert_eq!(interval.contains(*t), *want, "{name} ({t})");
        }
    }

    #[test]
    fn named_set_is_any_of_its_specs() {
        let weekend = TimeInterval {
            // Not "saturday:sunday": the week runs Sunday to Saturday.
            weekdays: vec![
                parse_weekday_range("saturday").unwrap(),
                parse_weekday_range("sunday").unwrap(),
            ],
            ..Default::default()
        };
        let nights = TimeInterval {
            times: vec![
                parse_time_range("00:00", "08:00").unwrap(),
                parse_time_range("20:00", "24:00").unwrap(),
            ],
            ..Default::default()
        };
        let offhours = [weekend, nights];
        assert!(
            any_contains(&offhours, at(2024, 1, 6, 12, 0)),
            "saturday noon"
        );
        assert!(
            any_contains(&offhours, at(2024, 1, 1, 21, 0)),
            "monday night"
        );
        assert!(
            !any_contains(&offhours, at(2024, 1, 1, 12, 0)),
            "monday noon"
        );
        assert!(!any_contains(&[], at(2024, 1, 1, 12, 0)), "no specs");
    }
}
