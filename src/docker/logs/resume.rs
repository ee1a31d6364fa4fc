//! Recovering the end of a log that the engine cut short.
//!
//! Docker 20.10 (seen with 20.10.24) sometimes ends a follow stream cleanly, with the proper
//! chunked terminator, before the last lines of a container that has just exited: the stream
//! stops when the engine sees the container stop, racing with the log driver's last writes.
//! Nothing on the wire tells such an end from a complete one (docs/reliability.md has a
//! reproduction with the docker CLI alone). So every log is followed with timestamps, and at
//! a clean end the engine is asked once more for what it has from shortly before the last
//! frame delivered (`since`); the frames already delivered are skipped and the rest is
//! delivered. When the container has exited, that second answer is read from the log file to
//! its end, so it is complete; if it still brought new frames, another pass confirms it.
//!
//! Which frames to skip is decided by position, not by comparing timestamps: the second answer
//! lists, in log order, every frame with a timestamp at or after `since`; those delivered
//! already are the first of them, as many as were delivered with such timestamps. Frames of
//! stdout and stderr can be a little out of timestamp order in the log (two copiers stamp and
//! then write), hence the margin before the last timestamp instead of the timestamp itself.

use std::collections::VecDeque;

/// How far before the newest delivered timestamp the next pass starts. Larger than the few
/// microseconds by which stdout and stderr frames can be out of order in the log; small enough
/// that the second answer re-reads little of a fast writer's log (a container that wrote 256
/// MiB of short lines in two seconds: about 1 MiB).
const MARGIN_NANOS: i64 = 10_000_000;

/// Passes after the first, at most. A pass that brings nothing new ends the stream; this only
/// bounds an engine that keeps answering with more.
const MAX_REPLAYS: u32 = 64;

/// The longest timestamp prefix: `2006-01-02T15:04:05.000000000+07:00` and its space.
pub(crate) const MAX_STAMP: usize = 36;

/// Tracks the frames delivered so far and decides about further passes.
#[derive(Debug, Default)]
pub(crate) struct Resume {
    newest: Option<i64>,
    /// Timestamps of the frames delivered within the margin of the newest one (and a few older
    /// ones, out of order, that are filtered when counting).
    recent: VecDeque<i64>,
    /// Frames of the current pass still to skip: delivered by an earlier pass.
    skip: usize,
    /// Passes after the first so far.
    replays: u32,
    /// Whether the current pass delivered any frame.
    fresh: bool,
}

/// What to do at the clean end of a pass.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NextPass {
    /// The log is complete.
    Complete,
    /// Ask again for the frames from this time on (`since`, in the API's `seconds.nanoseconds`
    /// form); `None`: from the start.
    Replay(Option<String>),
}

impl Resume {
    /// A frame stamped `nanos` arrived: whether to deliver it (false: an earlier pass did).
    pub(crate) fn frame(&mut self, nanos: i64) -> bool {
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        self.fresh = true;
        let newest = self.newest.map_or(nanos, |n| n.max(nanos));
        self.newest = Some(newest);
        self.recent.push_back(nanos);
        let oldest_kept = newest.saturating_sub(MARGIN_NANOS);
        while self.recent.front().is_some_and(|&t| t < oldest_kept) {
            self.recent.pop_front();
        }
        true
    }

    /// Called at the clean end of a pass.
    pub(crate) fn next_pass(&mut self) -> NextPass {
        let first_pass_ended = self.replays == 0;
        if !(first_pass_ended || self.fresh) || self.replays >= MAX_REPLAYS {
            return NextPass::Complete;
        }
        self.replays += 1;
        self.fresh = false;
        match self.newest {
            None => {
                self.skip = 0;
                NextPass::Replay(None)
            }
            Some(newest) => {
                let since = newest.saturating_sub(MARGIN_NANOS).max(0);
                self.skip = self.recent.iter().filter(|&&t| t >= since).count();
                NextPass::Replay(Some(format!("{}.{:09}", since / 1_000_000_000, since % 1_000_000_000)))
            }
        }
    }
}

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
    fn a_complete_first_pass_is_confirmed_by_one_replay_that_skips_what_was_delivered() {
        let mut resume = Resume::default();
        let base = 1_795_824_114_000_000_000;
        for t in [base, base + 5_000_000, base + 20_000_000, base + 25_000_000] {
            assert!(resume.frame(t));
        }
        // since = newest - 10 ms = base + 15 ms: the last two frames are in the window.
        assert_eq!(resume.next_pass(), NextPass::Replay(Some("1795824114.015000000".into())));
        assert!(!resume.frame(base + 20_000_000));
        assert!(!resume.frame(base + 25_000_000));
        assert_eq!(resume.next_pass(), NextPass::Complete, "the replay brought nothing new");
    }

    #[test]
    fn frames_missing_from_a_cut_pass_are_delivered_and_confirmed() {
        let mut resume = Resume::default();
        let base = 1_000_000_000_000;
        assert!(resume.frame(base));
        assert!(matches!(resume.next_pass(), NextPass::Replay(Some(_))));
        assert!(!resume.frame(base), "delivered by the first pass");
        assert!(resume.frame(base), "same timestamp, but a frame the first pass lacked");
        assert!(resume.frame(base + 1));
        assert!(matches!(resume.next_pass(), NextPass::Replay(Some(_))), "new frames: confirm once more");
        assert!(!resume.frame(base));
        assert!(!resume.frame(base));
        assert!(!resume.frame(base + 1));
        assert_eq!(resume.next_pass(), NextPass::Complete);
    }

    #[test]
    fn an_empty_first_pass_is_replayed_from_the_start() {
        let mut resume = Resume::default();
        assert_eq!(resume.next_pass(), NextPass::Replay(None));
        assert_eq!(resume.next_pass(), NextPass::Complete);
    }

    #[test]
    fn out_of_order_frames_within_the_margin_are_counted() {
        let mut resume = Resume::default();
        let base = 5_000_000_000;
        for t in [base + 9_000_000, base, base + 12_000_000] {
            assert!(resume.frame(t));
        }
        // since = base + 2 ms: the frame at base (delivered second) is before it and is not in
        // the engine's answer; the other two are.
        assert!(matches!(resume.next_pass(), NextPass::Replay(Some(_))));
        assert!(!resume.frame(base + 9_000_000));
        assert!(!resume.frame(base + 12_000_000));
        assert!(resume.frame(base + 12_000_000));
    }
}
