//! The engine's timestamps: RFC 3339 with nanoseconds, as `docker logs -t` prints them and as
//! an inspect gives a container's start and finish.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses the engine's log timestamp (RFC 3339 with nanoseconds, as `docker logs -t` prints it:
/// `2026-11-28T00:01:54.580180206Z`, or with a `+hh:mm` offset) into nanoseconds since the Unix
/// epoch. `None` when it is not one.
pub(crate) fn parse_stamp(text: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(text).ok()?;
    let num = |s: &str| -> Option<i64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (date, time) = text.split_once('T')?;
    let mut date_parts = date.splitn(3, '-');
    let (year, month, day) = (num(date_parts.next()?)?, num(date_parts.next()?)?, num(date_parts.next()?)?);
    // Four digits, as RFC 3339 has them: no arithmetic below can overflow then.
    if year > 9999 {
        return None;
    }
    let zone_at = time.find(['Z', '+', '-'])?;
    let (clock, zone) = time.split_at(zone_at);
    let offset_seconds = match zone {
        "Z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (h, m) = zone.get(1..)?.split_once(':')?;
            sign * (num(h)? * 3600 + num(m)? * 60)
        }
    };
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut hms_parts = hms.splitn(3, ':');
    let (h, m, s) = (num(hms_parts.next()?)?, num(hms_parts.next()?)?, num(hms_parts.next()?)?);
    if fraction.len() > 9 || !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let nanos = if fraction.is_empty() { 0 } else { num(fraction)? * 10_i64.pow(9 - fraction.len() as u32) };
    let seconds = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s - offset_seconds;
    seconds.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A container's start or finish time from an inspect: `None` for the engine's zero time
/// (`0001-01-01T00:00:00Z`, "never"), for a time before the epoch and for one that does not parse.
pub(crate) fn parse_time(text: Option<&str>) -> Option<SystemTime> {
    let nanos = parse_stamp(text?.as_bytes())?;
    let nanos = u64::try_from(nanos).ok().filter(|n| *n > 0)?;
    UNIX_EPOCH.checked_add(Duration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_timestamps_parse_to_unix_nanoseconds() {
        // date -u -d 2026-11-28T00:01:54Z +%s → 1795824114
        assert_eq!(parse_stamp(b"2026-11-28T00:01:54.580180206Z"), Some(1_795_824_114_580_180_206));
        assert_eq!(parse_stamp(b"1970-01-01T00:00:00.000000000Z"), Some(0));
        assert_eq!(parse_stamp(b"2026-11-28T01:01:54.5+01:00"), Some(1_795_824_114_500_000_000));
        assert_eq!(parse_stamp(b"2026-11-27T23:01:54Z-01:00"), None);
        assert_eq!(parse_stamp(b"2026-11-27T23:01:54-01:00"), Some(1_795_824_114_000_000_000));
        assert_eq!(parse_stamp(b"2000-02-29T00:00:00Z"), Some(951_782_400_000_000_000));
        for bad in [&b""[..], b"hello", b"2026-13-01T00:00:00Z", b"2026-11-28T00:01:54.1234567890Z", b"\xff"] {
            assert_eq!(parse_stamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn inspect_times_are_none_when_never_set() {
        assert_eq!(parse_time(Some("0001-01-01T00:00:00Z")), None);
        assert_eq!(parse_time(None), None);
        assert_eq!(parse_time(Some("garbage")), None);
        assert_eq!(parse_time(Some("99999999999999999-01-01T00:00:00Z")), None, "no overflow on a hostile year");
        let t = parse_time(Some("2026-11-28T00:01:54.580180206Z")).unwrap();
        assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().as_nanos(), 1_795_824_114_580_180_206);
    }
}
