//! Time as the core sees it: Unix seconds passed in by the host (the core has no clock), and
//! their RFC 3339 form used in Atom.
//!
//! [`Timestamp::to_rfc3339`] always writes UTC with a `Z` and whole seconds;
//! [`Timestamp::parse_rfc3339`] accepts any RFC 3339 `date-time`: a numeric offset or `Z`
//! (also lowercase `t`/`z`), and an optional fraction, which is truncated (toward the past) to
//! whole seconds. The calendar is the proleptic Gregorian one, computed here without a date
//! library.
//!
//! ```
//! use wikisync_core::time::Timestamp;
//! let t = Timestamp::parse_rfc3339("2026-11-21T11:00:00.75+01:00").unwrap();
//! assert_eq!(t, Timestamp(1_795_255_200));
//! assert_eq!(t.to_rfc3339(), "2026-11-21T10:00:00Z");
//! ```

use serde::{Deserialize, Serialize};

/// A point in time as whole Unix seconds (UTC). The core never reads a clock: hosts pass `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

/// Seconds per day.
const DAY: i64 = 86_400;
/// Earliest timestamp that formats as a four-digit year (0000-01-01T00:00:00Z).
const MIN_RFC3339: i64 = -62_167_219_200;
/// Latest timestamp that formats as a four-digit year (9999-12-31T23:59:59Z).
const MAX_RFC3339: i64 = 253_402_300_799;

impl Timestamp {
    /// This timestamp `seconds` later (saturating).
    pub fn plus_seconds(self, seconds: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(seconds))
    }

    /// Formats as RFC 3339 UTC with whole seconds, e.g. `2026-11-21T10:00:00Z`.
    ///
    /// Years outside 0000–9999 cannot be written in RFC 3339; such timestamps are clamped to
    /// the nearest representable second (documented in `docs/protocol.md`).
    pub fn to_rfc3339(self) -> String {
        let secs = self.0.clamp(MIN_RFC3339, MAX_RFC3339);
        let days = secs.div_euclid(DAY);
        let rem = secs.rem_euclid(DAY);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        )
    }

    /// Parses an RFC 3339 `date-time` (section 5.6), converting its offset to UTC and
    /// truncating a fraction of a second.
    pub fn parse_rfc3339(text: &str) -> Result<Timestamp, TimestampError> {
        let b = text.as_bytes();
        // YYYY-MM-DDTHH:MM:SS is 19 bytes, then optional fraction, then the offset.
        if b.len() < 20 {
            return Err(TimestampError::Syntax);
        }
        let year = digits(&b[0..4])?;
        expect(b[4], b'-')?;
        let month = digits(&b[5..7])?;
        expect(b[7], b'-')?;
        let day = digits(&b[8..10])?;
        if !matches!(b[10], b'T' | b't') {
            return Err(TimestampError::Syntax);
        }
        let hour = digits(&b[11..13])?;
        expect(b[13], b':')?;
        let minute = digits(&b[14..16])?;
        expect(b[16], b':')?;
        let second = digits(&b[17..19])?;
        let mut i = 19;
        if b[i] == b'.' {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return Err(TimestampError::Syntax);
            }
        }
        let offset = match b.get(i..) {
            Some([b'Z' | b'z']) => 0,
            Some([sign @ (b'+' | b'-'), h1, h2, b':', m1, m2]) => {
                let oh = digits(&[*h1, *h2])?;
                let om = digits(&[*m1, *m2])?;
                if oh > 23 || om > 59 {
                    return Err(TimestampError::OutOfRange);
                }
                let off = oh * 3600 + om * 60;
                if *sign == b'-' { -off } else { off }
            }
            _ => return Err(TimestampError::Syntax),
        };
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return Err(TimestampError::OutOfRange);
        }
        // A leap second (:60) is read as the following second, like most Unix clocks.
        let days = days_from_civil(year, month, day);
        let secs = days * DAY + hour * 3600 + minute * 60 + second - offset;
        Ok(Timestamp(secs))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Why [`Timestamp::parse_rfc3339`] refused a text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// The text is not shaped like an RFC 3339 `date-time` (e.g. a missing offset, a space
    /// instead of `T`, a two-digit year).
    #[error("not an RFC 3339 date-time (expected e.g. 2026-11-21T10:00:00Z)")]
    Syntax,
    /// The text is shaped right but a field is out of range (month 13, February 30, hour 24,
    /// an offset beyond ±23:59).
    #[error("a field of the RFC 3339 date-time is out of range")]
    OutOfRange,
}

fn expect(got: u8, want: u8) -> Result<(), TimestampError> {
    if got == want {
        Ok(())
    } else {
        Err(TimestampError::Syntax)
    }
}

fn digits(b: &[u8]) -> Result<i64, TimestampError> {
    let mut n = 0i64;
    for &c in b {
        if !c.is_ascii_digit() {
            return Err(TimestampError::Syntax);
        }
        n = n * 10 + i64::from(c - b'0');
    }
    Ok(n)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date. Works in 400-year eras (146,097 days)
/// counted from March 1st, so that the leap day ends the year.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let shifted_month = (month + 9) % 12; // March = 0 … February = 11
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Inverse of [`days_from_civil`]: (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values_format() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_234_567_890, "2009-02-13T23:31:30Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (-2_208_988_800, "1900-01-01T00:00:00Z"),
            (4_107_542_400, "2100-03-01T00:00:00Z"),
            (MIN_RFC3339, "0000-01-01T00:00:00Z"),
            (MAX_RFC3339, "9999-12-31T23:59:59Z"),
        ];
        for (secs, text) in cases {
            assert_eq!(Timestamp(secs).to_rfc3339(), text, "{secs}");
            assert_eq!(
                Timestamp::parse_rfc3339(text),
                Ok(Timestamp(secs)),
                "{text}"
            );
        }
    }

    #[test]
    fn out_of_range_years_are_clamped() {
        assert_eq!(Timestamp(i64::MAX).to_rfc3339(), "9999-12-31T23:59:59Z");
        assert_eq!(Timestamp(i64::MIN).to_rfc3339(), "0000-01-01T00:00:00Z");
    }

    #[test]
    fn offsets_and_fractions() {
        let utc = Timestamp::parse_rfc3339("2026-11-21T10:00:00Z");
        for text in [
            "2026-11-21T11:00:00+01:00",
            "2026-11-21T05:30:00-04:30",
            "2026-11-21t10:00:00z",
            "2026-11-21T10:00:00.999999999Z",
            "2026-11-21T10:00:00.0+00:00",
            "2026-11-21T10:00:00-00:00",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(text), utc, "{text}");
        }
        // Truncation is toward the past, also before 1970.
        assert_eq!(
            Timestamp::parse_rfc3339("1969-12-31T23:59:59.5Z"),
            Ok(Timestamp(-1))
        );
    }

    #[test]
    fn refused_texts() {
        for text in [
            "",
            "2026-11-21",
            "2026-11-21 10:00:00Z",
            "2026-11-21T10:00:00",
            "2026-11-21T10:00:00+0100",
            "2026-11-21T10:00:00.Z",
            "26-11-21T10:00:00Z",
            "2026-11-21T10:00:00Zjunk",
            "２026-11-21T10:00:00Z",
        ] {
            assert_eq!(
                Timestamp::parse_rfc3339(text),
                Err(TimestampError::Syntax),
                "{text}"
            );
        }
        for text in [
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:60:00Z",
            "2026-01-01T00:00:00+24:00",
            "2026-00-10T00:00:00Z",
        ] {
            assert_eq!(
                Timestamp::parse_rfc3339(text),
                Err(TimestampError::OutOfRange),
                "{text}"
            );
        }
        assert!(Timestamp::parse_rfc3339("2024-02-29T00:00:00Z").is_ok());
    }

    proptest! {
        #[test]
        fn round_trip(secs in MIN_RFC3339..=MAX_RFC3339) {
            let text = Timestamp(secs).to_rfc3339();
            prop_assert_eq!(text.len(), 20);
            prop_assert_eq!(Timestamp::parse_rfc3339(&text), Ok(Timestamp(secs)));
        }

        #[test]
        fn days_round_trip(days in -800_000i64..3_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert!((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m));
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
