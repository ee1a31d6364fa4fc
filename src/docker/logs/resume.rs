//! Recovering the end of a log that the engine cut short.
//!
//! Docker 20.10 (seen with 20.10.24) sometimes ends a follow stream cleanly, with the proper
//! chunked terminator, before the last lines of a container that has just exited: the stream
//! stops when the engine sees the container stop, racing with the log driver's last writes.
//! Nothing on the wire tells such an end from a complete one (docs/reliability.md has a
//! reproduction with the docker CLI alone). So every log is followed with timestamps, and at
//! a clean end the engine is asked once more for the end of the log (`tail`) from shortly
//! before the last frame delivered (`since`); the frames already delivered are skipped and the
//! rest is delivered. When the container has exited, that second answer is read from the log
//! file to its end, so it is complete; if it still brought new frames, another pass confirms it.
//!
//! Which frames to skip is decided by position, and checked by timestamp: the second answer
//! lists, in log order, every frame with a timestamp at or after `since`; those delivered
//! already are the first of them, with the timestamps they were delivered with. An answer that
//! does not begin with them (the `tail` was too short) is abandoned and asked again without
//! `tail`. Frames of stdout and stderr can be a little out of timestamp order in the log (two
//! copiers stamp and then write), hence the margin before the last timestamp instead of the
//! timestamp itself.
//!
//! Podman stamps its log lines to the second only (while it filters `since` to the
//! nanosecond): many lines then share one timestamp, and a frame can no longer be placed by
//! it. For such a log a pass asks from exactly the newest delivered second, without `tail`:
//! the answer then begins with every frame of that second, and those delivered are skipped by
//! position.

use std::collections::VecDeque;

pub(crate) use crate::docker::stamps::parse_stamp;

/// How far before the newest delivered timestamp the next pass starts. Larger than the few
/// microseconds by which stdout and stderr frames can be out of order in the log; small enough
/// that the second answer carries little of a fast writer's log.
const MARGIN_NANOS: i64 = 10_000_000;

/// Lines of the log's end a pass asks for beyond those it expects to skip: room for the lines
/// the engine cut off (up to a few hundred in the load test). `since` alone makes the engine
/// decode its whole log file from the start to find where to begin (json-file keeps no index),
/// which for a large log costs as much as reading it again; `tail` makes it read only the end.
const TAIL_HEADROOM: usize = 1024;

/// Passes after the first, at most. A pass that brings nothing new ends the stream; this only
/// bounds an engine that keeps answering with more.
const MAX_REPLAYS: u32 = 64;

/// The longest timestamp prefix: `2006-01-02T15:04:05.000000000+07:00` and its space.
pub(crate) const MAX_STAMP: usize = 36;

/// What the request of a pass after the first asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Query {
    /// Nanoseconds since the epoch; `None`: from the start of the log.
    since: Option<i64>,
    /// Only the log's last lines.
    tail: Option<usize>,
}

impl Query {
    /// The query parameters (`&since=...&tail=...`) to append to the logs request.
    pub(crate) fn parameters(&self) -> String {
        let mut text = String::new();
        if let Some(since) = self.since {
            text.push_str(&format!("&since={}.{:09}", since / 1_000_000_000, since % 1_000_000_000));
        }
        if let Some(tail) = self.tail {
            text.push_str(&format!("&tail={tail}"));
        }
        text
    }
}

/// What to do with a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Deliver,
    /// An earlier pass delivered it.
    Skip,
    /// The answer does not begin with the frames delivered already: it started too late in
    /// the log (too few `tail` lines). The pass must be asked again without `tail`.
    Misaligned,
}

/// Tracks the frames delivered so far and decides about further passes.
#[derive(Debug, Default)]
pub(crate) struct Resume {
    newest: Option<i64>,
    /// Timestamps of the frames delivered, in order, within the margin of the newest one (and a
    /// few older ones, out of order, that are filtered when used).
    recent: VecDeque<i64>,
    /// The timestamps the current pass's answer must begin with: frames delivered already.
    expect: VecDeque<i64>,
    /// The query of the current pass (`None` for the first).
    current: Option<Query>,
    /// Passes after the first so far.
    replays: u32,
    /// Whether the current pass delivered any frame.
    fresh: bool,
    /// Whether a timestamp with a fraction of a second was seen: a log stamped to the
    /// nanosecond, not Podman's whole seconds.
    fine: bool,
}

/// What to do at the clean end of a pass.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NextPass {
    /// The log is complete.
    Complete,
    /// Ask again.
    Replay(Query),
}

impl Resume {
    /// A frame stamped `nanos` arrived.
    pub(crate) fn frame(&mut self, nanos: i64) -> Verdict {
        if let Some(&want) = self.expect.front() {
            if want != nanos {
                return Verdict::Misaligned;
            }
            self.expect.pop_front();
            return Verdict::Skip;
        }
        self.fresh = true;
        self.fine |= nanos % 1_000_000_000 != 0;
        let newest = self.newest.map_or(nanos, |n| n.max(nanos));
        self.newest = Some(newest);
        self.recent.push_back(nanos);
        let oldest_kept = newest.saturating_sub(self.margin());
        while self.recent.front().is_some_and(|&t| t < oldest_kept) {
            self.recent.pop_front();
        }
        Verdict::Deliver
    }

    /// Called at the clean end of a pass.
    pub(crate) fn next_pass(&mut self) -> NextPass {
        if let Some(Query { since, tail: Some(_) }) = self.current {
            if !self.expect.is_empty() {
                // The end of the log had fewer frames than were delivered from it: look at the
                // whole log instead.
                return self.start(Query { since, tail: None });
            }
        }
        let first_pass_ended = self.current.is_none();
        if !(first_pass_ended || self.fresh) || self.replays >= MAX_REPLAYS {
            return NextPass::Complete;
        }
        self.replays += 1;
        match self.newest {
            None => self.start(Query { since: None, tail: None }),
            Some(newest) => {
                let since = newest.saturating_sub(self.margin()).max(0);
                let expected = self.recent.iter().filter(|&&t| t >= since).count();
                // With whole-second stamps, a `tail` could begin inside the run of frames that
                // share the newest second, where no timestamp tells the position.
                let tail = self.fine.then_some(expected + TAIL_HEADROOM);
                self.start(Query { since: Some(since), tail })
            }
        }
    }

    /// How far before the newest timestamp a pass starts: none for whole-second stamps, whose
    /// second holds every frame stamped with it.
    fn margin(&self) -> i64 {
        if self.fine {
            MARGIN_NANOS
        } else {
            0
        }
    }

    /// After [`Verdict::Misaligned`]: the query to ask again with (without `tail`); `None` when
    /// the whole log does not begin with what was delivered either (it changed: rotated away).
    pub(crate) fn realign(&mut self) -> Option<Query> {
        match self.current.clone() {
            Some(Query { since, tail: Some(_) }) => match self.start(Query { since, tail: None }) {
                NextPass::Replay(query) => Some(query),
                NextPass::Complete => None,
            },
            _ => None,
        }
    }

    /// Sets the current pass up: the frames its answer must begin with are those delivered
    /// with a timestamp at or after its `since`.
    fn start(&mut self, query: Query) -> NextPass {
        self.fresh = false;
        self.expect = match query.since {
            Some(since) => self.recent.iter().copied().filter(|&t| t >= since).collect(),
            None => VecDeque::new(),
        };
        self.current = Some(query.clone());
        NextPass::Replay(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(resume: &mut Resume) -> Query {
        match resume.next_pass() {
            NextPass::Replay(query) => query,
            NextPass::Complete => panic!("a replay is due"),
        }
    }

    #[test]
    fn a_complete_first_pass_is_confirmed_by_one_replay_that_skips_what_was_delivered() {
        let mut resume = Resume::default();
        let base = 1_795_824_114_000_000_000;
        for t in [base, base + 5_000_000, base + 20_000_000, base + 25_000_000] {
            assert_eq!(resume.frame(t), Verdict::Deliver);
        }
        // since = newest - 10 ms = base + 15 ms: the last two frames are in the window.
        assert_eq!(query(&mut resume).parameters(), "&since=1795824114.015000000&tail=1026");
        assert_eq!(resume.frame(base + 20_000_000), Verdict::Skip);
        assert_eq!(resume.frame(base + 25_000_000), Verdict::Skip);
        assert_eq!(resume.next_pass(), NextPass::Complete, "the replay brought nothing new");
    }

    #[test]
    fn frames_missing_from_a_cut_pass_are_delivered_and_confirmed() {
        let mut resume = Resume::default();
        let base = 1_000_000_000_000;
        assert_eq!(resume.frame(base), Verdict::Deliver);
        query(&mut resume);
        assert_eq!(resume.frame(base), Verdict::Skip, "delivered by the first pass");
        assert_eq!(resume.frame(base), Verdict::Deliver, "same timestamp, a frame the first pass lacked");
        assert_eq!(resume.frame(base + 1), Verdict::Deliver);
        query(&mut resume); // new frames: confirm once more
        for t in [base, base, base + 1] {
            assert_eq!(resume.frame(t), Verdict::Skip);
        }
        assert_eq!(resume.next_pass(), NextPass::Complete);
    }

    #[test]
    fn an_answer_that_starts_too_late_is_asked_again_without_tail() {
        let mut resume = Resume::default();
        let base = 7_000_000_000;
        for t in [base, base + 1, base + 2] {
            resume.frame(t);
        }
        let first = query(&mut resume);
        assert!(first.tail.is_some());
        // The tail began after the frames delivered.
        assert_eq!(resume.frame(base + 2), Verdict::Misaligned);
        let again = resume.realign().expect("asked again");
        assert_eq!(again, Query { since: first.since, tail: None });
        for t in [base, base + 1, base + 2] {
            assert_eq!(resume.frame(t), Verdict::Skip);
        }
        assert_eq!(resume.frame(base + 3), Verdict::Deliver);
        // Misaligned again without tail: the log changed; nothing more to ask.
        query(&mut resume);
        assert_eq!(resume.frame(base + 9), Verdict::Misaligned);
        assert!(resume.realign().is_some(), "the tail pass may be asked again");
        assert_eq!(resume.frame(base + 9), Verdict::Misaligned);
        assert_eq!(resume.realign(), None);
    }

    #[test]
    fn an_answer_shorter_than_what_was_delivered_is_asked_again_without_tail() {
        let mut resume = Resume::default();
        resume.frame(5);
        resume.frame(6);
        let first = query(&mut resume);
        assert_eq!(resume.frame(5), Verdict::Skip);
        assert_eq!(resume.next_pass(), NextPass::Replay(Query { since: first.since, tail: None }));
    }

    #[test]
    fn a_log_stamped_to_the_second_is_asked_from_that_second_without_tail() {
        let mut resume = Resume::default();
        let second = 1_795_824_114_000_000_000;
        for t in [second - 1_000_000_000, second, second, second] {
            assert_eq!(resume.frame(t), Verdict::Deliver);
        }
        let replay = query(&mut resume);
        assert_eq!(replay.parameters(), "&since=1795824114.000000000", "exactly the newest second, no tail");
        for _ in 0..3 {
            assert_eq!(resume.frame(second), Verdict::Skip, "the three frames of that second, by position");
        }
        assert_eq!(resume.frame(second), Verdict::Deliver, "a fourth of the same second is new");
        assert_eq!(resume.frame(second + 1_000_000_000), Verdict::Deliver);
    }

    #[test]
    fn an_empty_first_pass_is_replayed_from_the_start() {
        let mut resume = Resume::default();
        assert_eq!(resume.next_pass(), NextPass::Replay(Query { since: None, tail: None }));
        assert_eq!(resume.next_pass(), NextPass::Complete);
    }

    #[test]
    fn out_of_order_frames_within_the_margin_are_expected_in_their_order() {
        let mut resume = Resume::default();
        let base = 5_000_000_000;
        for t in [base + 9_000_000, base, base + 12_000_000] {
            assert_eq!(resume.frame(t), Verdict::Deliver);
        }
        // since = base + 2 ms: the frame at base (delivered second) is before it and is not in
        // the engine's answer; the other two are, in log order.
        query(&mut resume);
        assert_eq!(resume.frame(base + 9_000_000), Verdict::Skip);
        assert_eq!(resume.frame(base + 12_000_000), Verdict::Skip);
        assert_eq!(resume.frame(base + 12_000_000), Verdict::Deliver);
    }
}
