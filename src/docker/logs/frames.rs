//! The body of a logs answer, decoded without I/O: transfer coding, the engine's 8-byte frame
//! headers, the timestamp in front of each frame, and the skipping of frames that an earlier
//! pass delivered (see [`super::resume`]). Payload bytes are copied once, straight into the
//! reader's buffer. The blocking reader and the async stream both feed it.

use super::resume::{parse_stamp, NextPass, Query, Resume, Verdict, MAX_STAMP};
use crate::http::codec::{BodyDecoder, BodyKind, Step};
use crate::error::{Error, ErrorKind, Result};
use crate::model::LogSource;

/// Where the decoder is inside the frame layer.
#[derive(Debug)]
enum Frame {
    /// Reading a frame header (stream byte, 3 zero bytes, big-endian payload length).
    Header { have: [u8; 8], len: usize },
    /// Reading the timestamp and its space at the start of a frame's payload.
    Stamp { have: [u8; MAX_STAMP], len: usize, left: usize, source: LogSource },
    /// Inside a frame's payload; `deliver` is false for a frame an earlier pass delivered.
    Payload { left: usize, deliver: bool, source: LogSource },
    /// The stream of a container with a TTY: raw bytes, no frames, no timestamps.
    Raw,
}

const NEW_HEADER: Frame = Frame::Header { have: [0; 8], len: 0 };

#[derive(Debug)]
pub(crate) struct LogDecoder {
    body: BodyDecoder,
    frame: Frame,
    /// `None` for a TTY container, whose stream cannot be cut into frames to resume at.
    resume: Option<Resume>,
    /// The current answer does not begin with the frames delivered already (see
    /// [`Verdict::Misaligned`]); nothing more is decoded from it.
    misaligned: bool,
    /// Where the bytes of the last decode came from.
    source: LogSource,
}

impl LogDecoder {
    /// A decoder for the answer to a logs request of a container with or without a TTY (then
    /// the stream is raw), with or without repair (then the request asks for timestamps).
    pub(crate) fn new(body: BodyKind, tty: bool, repair: bool) -> Self {
        LogDecoder {
            body: BodyDecoder::new(body),
            frame: if tty { Frame::Raw } else { NEW_HEADER },
            resume: (repair && !tty).then(Resume::default),
            misaligned: false,
            source: LogSource::Stdout,
        }
    }

    /// Whether requests for this stream ask for timestamps.
    pub(crate) fn wants_timestamps(&self) -> bool {
        self.resume.is_some()
    }

    /// Where the bytes of the last [`LogDecoder::decode`] came from (with `typed`, all of them;
    /// a TTY's output is stdout).
    pub(crate) fn source(&self) -> LogSource {
        self.source
    }

    /// Decodes from `input` (the unread bytes) into `out`; returns (bytes of `input` consumed,
    /// bytes written to `out`). Stops when `out` is full, the input is used up, or the body
    /// is complete; with `typed`, also before a frame of the other stream than the bytes
    /// written so far.
    pub(crate) fn decode(&mut self, input: &[u8], out: &mut [u8], typed: bool) -> Result<(usize, usize)> {
        let (mut used, mut written) = (0, 0);
        let mut written_from = None;
        while written < out.len() && !self.misaligned {
            match self.body.step(&input[used..])? {
                Step::Done | Step::NeedMore => break,
                Step::Framing(n) => used += n,
                Step::Data(n) => {
                    let (taken, produced) = self.frames(&input[used..used + n], &mut out[written..], typed, &mut written_from)?;
                    self.body.advance(taken);
                    used += taken;
                    written += produced;
                    if taken == 0 {
                        break;
                    }
                }
            }
        }
        if let Some(source) = written_from {
            self.source = source;
        }
        Ok((used, written))
    }

    /// Whether the current answer's body is complete.
    pub(crate) fn body_done(&self) -> bool {
        self.body.is_done()
    }

    /// The connection closed: the end of a body delimited so, else an error.
    pub(crate) fn at_eof(&mut self) -> Result<()> {
        self.body.at_eof()
    }

    /// Whether the decoder stands between two frames, where an answer may be abandoned without
    /// losing part of a frame (a swarm task's followed log, closed once the task has ended).
    pub(crate) fn between_frames(&self) -> bool {
        matches!(self.frame, Frame::Raw | Frame::Header { len: 0, .. })
    }

    /// At the complete end of an answer (or [`LogDecoder::between_frames`], of an abandoned
    /// one): whether the log is complete or another pass is due.
    pub(crate) fn finish_pass(&mut self) -> Result<NextPass> {
        if !self.between_frames() {
            return Err(bad_stream("the engine's log stream ended inside a frame"));
        }
        Ok(match &mut self.resume {
            Some(resume) => resume.next_pass(),
            None => NextPass::Complete,
        })
    }

    /// Whether the current answer must be abandoned and the pass asked again with
    /// [`LogDecoder::realign`].
    pub(crate) fn misaligned(&self) -> bool {
        self.misaligned
    }

    /// After [`LogDecoder::misaligned`]: the query of the pass to ask for on a new connection, or
    /// an error when the log no longer begins with what was delivered.
    pub(crate) fn realign(&mut self) -> Result<Query> {
        self.misaligned = false;
        self.resume
            .as_mut()
            .and_then(Resume::realign)
            .ok_or_else(|| bad_stream("the container's log changed while it was read again: its end cannot be told"))
    }

    /// The answer to the request of the next pass begins.
    pub(crate) fn begin_pass(&mut self, body: BodyKind) {
        self.body = BodyDecoder::new(body);
        if !matches!(self.frame, Frame::Raw) {
            self.frame = NEW_HEADER;
        }
    }

    /// Runs body bytes through the frame layer; returns (bytes taken, payload bytes written).
    /// `written_from` is where the bytes written by this decode came from; with `typed`, a
    /// payload from elsewhere waits for the next decode.
    fn frames(&mut self, data: &[u8], out: &mut [u8], typed: bool, written_from: &mut Option<LogSource>) -> Result<(usize, usize)> {
        let (mut i, mut n) = (0, 0);
        while i < data.len() {
            match &mut self.frame {
                Frame::Raw => {
                    let k = (data.len() - i).min(out.len() - n);
                    if k == 0 {
                        break;
                    }
                    out[n..n + k].copy_from_slice(&data[i..i + k]);
                    i += k;
                    n += k;
                    *written_from = Some(LogSource::Stdout);
                }
                Frame::Header { have, len } => {
                    let k = (8 - *len).min(data.len() - i);
                    have[*len..*len + k].copy_from_slice(&data[i..i + k]);
                    *len += k;
                    i += k;
                    if *len == 8 {
                        let size = u32::from_be_bytes([have[4], have[5], have[6], have[7]]) as usize;
                        // The stream byte: 2 is stderr; 1 stdout (0, stdin, is never logged).
                        let source = if have[0] == 2 { LogSource::Stderr } else { LogSource::Stdout };
                        self.frame = match size {
                            0 => NEW_HEADER,
                            _ if self.resume.is_some() => Frame::Stamp { have: [0; MAX_STAMP], len: 0, left: size, source },
                            _ => Frame::Payload { left: size, deliver: true, source },
                        };
                    }
                }
                Frame::Stamp { have, len, left, source } => {
                    let avail = (data.len() - i).min(*left);
                    let space = data[i..i + avail].iter().position(|&b| b == b' ');
                    let k = space.unwrap_or(avail);
                    if *len + k > MAX_STAMP {
                        return Err(bad_stream("a log frame does not start with a timestamp"));
                    }
                    have[*len..*len + k].copy_from_slice(&data[i..i + k]);
                    *len += k;
                    let taken = space.map_or(k, |s| s + 1);
                    i += taken;
                    *left -= taken;
                    if space.is_some() {
                        let stamp = parse_stamp(&have[..*len])
                            .ok_or_else(|| bad_stream("a log frame does not start with a timestamp"))?;
                        let verdict = self.resume.as_mut().map_or(Verdict::Deliver, |r| r.frame(stamp));
                        if verdict == Verdict::Misaligned {
                            self.misaligned = true;
                            return Ok((i, n));
                        }
                        let (left, deliver, source) = (*left, verdict == Verdict::Deliver, *source);
                        self.frame = if left == 0 { NEW_HEADER } else { Frame::Payload { left, deliver, source } };
                    } else if *left == 0 {
                        return Err(bad_stream("a log frame does not start with a timestamp"));
                    }
                }
                Frame::Payload { left, deliver, source } => {
                    let mut k = (*left).min(data.len() - i);
                    if *deliver {
                        if typed && written_from.is_some_and(|from| from != *source) {
                            break;
                        }
                        k = k.min(out.len() - n);
                        if k == 0 {
                            break;
                        }
                        out[n..n + k].copy_from_slice(&data[i..i + k]);
                        n += k;
                        *written_from = Some(*source);
                    }
                    i += k;
                    *left -= k;
                    if *left == 0 {
                        self.frame = NEW_HEADER;
                    }
                }
            }
        }
        Ok((i, n))
    }
}

fn bad_stream(message: &str) -> Error {
    Error::new(ErrorKind::Engine, message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(stream: u8, stamp: &str, payload: &[u8]) -> Vec<u8> {
        let mut body = format!("{stamp} ").into_bytes();
        body.extend_from_slice(payload);
        let mut f = vec![stream, 0, 0, 0];
        f.extend_from_slice(&(body.len() as u32).to_be_bytes());
        f.extend_from_slice(&body);
        f
    }

    fn chunked(frames: &[u8], chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in frames.chunks(chunk) {
            out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    }

    /// Decodes `input` fed `feed` bytes at a time into an `out_size` buffer.
    fn decode_all(decoder: &mut LogDecoder, input: &[u8], feed: usize, out_size: usize) -> Result<Vec<u8>> {
        let (mut unread, mut fed, mut payload) = (Vec::new(), 0, Vec::new());
        let mut out = vec![0; out_size];
        loop {
            let (used, n) = decoder.decode(&unread, &mut out, false)?;
            unread.drain(..used);
            payload.extend_from_slice(&out[..n]);
            if decoder.body_done() {
                return Ok(payload);
            }
            if n == 0 {
                if fed == input.len() {
                    decoder.at_eof()?;
                    return Ok(payload);
                }
                let next = (fed + feed).min(input.len());
                unread.extend_from_slice(&input[fed..next]);
                fed = next;
            }
        }
    }

    #[test]
    fn frames_lose_headers_and_timestamps_whatever_the_boundaries() {
        let mut frames = frame(1, "2026-11-28T00:01:54.580180206Z", b"a\n");
        frames.extend(frame(2, "2026-11-28T00:01:54.581003430Z", b"b\n"));
        frames.extend(frame(1, "2026-11-28T00:01:54.620110995Z", b"no newline"));
        frames.extend(frame(1, "2026-11-28T00:01:54.620110995Z", b""));
        for chunk in [1, 3, 7, 64] {
            for feed in [1, 2, 5, 1000] {
                for out in [1, 2, 4096] {
                    let mut decoder = LogDecoder::new(BodyKind::Chunked, false, true);
                    let got = decode_all(&mut decoder, &chunked(&frames, chunk), feed, out).unwrap();
                    assert_eq!(got, b"a\nb\nno newline", "chunk {chunk} feed {feed} out {out}");
                    assert!(matches!(decoder.finish_pass().unwrap(), NextPass::Replay(_)));
                }
            }
        }
    }

    #[test]
    fn a_replay_delivers_only_what_the_first_pass_missed() {
        let all = [
            frame(1, "2026-11-28T00:01:54.000000001Z", b"one\n"),
            frame(2, "2026-11-28T00:01:54.000000002Z", b"two\n"),
            frame(1, "2026-11-28T00:01:54.000000002Z", b"three\n"),
            frame(1, "2026-11-28T00:01:54.000000003Z", b"four\n"),
        ];
        let mut decoder = LogDecoder::new(BodyKind::Chunked, false, true);
        // The engine cut the first pass after "two".
        let first = decode_all(&mut decoder, &chunked(&all[..2].concat(), 5), 3, 8).unwrap();
        assert_eq!(first, b"one\ntwo\n");
        let NextPass::Replay(query) = decoder.finish_pass().unwrap() else { panic!("a replay is due") };
        assert_eq!(query.parameters(), "&since=1795824113.990000002&tail=1026");
        decoder.begin_pass(BodyKind::Chunked);
        let second = decode_all(&mut decoder, &chunked(&all.concat(), 9), 4, 8).unwrap();
        assert_eq!(second, b"three\nfour\n");
        assert!(matches!(decoder.finish_pass().unwrap(), NextPass::Replay(_)));
        decoder.begin_pass(BodyKind::Chunked);
        assert_eq!(decode_all(&mut decoder, &chunked(&all.concat(), 9), 4, 8).unwrap(), b"");
        assert_eq!(decoder.finish_pass().unwrap(), NextPass::Complete);
    }

    #[test]
    fn an_answer_that_starts_after_the_delivered_frames_is_abandoned_and_asked_again() {
        let all = [
            frame(1, "2026-11-28T00:01:54.000000001Z", b"one\n"),
            frame(1, "2026-11-28T00:01:54.000000002Z", b"two\n"),
            frame(1, "2026-11-28T00:01:54.000000003Z", b"three\n"),
        ];
        let mut decoder = LogDecoder::new(BodyKind::Chunked, false, true);
        assert_eq!(decode_all(&mut decoder, &chunked(&all[..2].concat(), 64), 64, 64).unwrap(), b"one\ntwo\n");
        assert!(matches!(decoder.finish_pass().unwrap(), NextPass::Replay(_)));
        // The tail answer holds only "three": it does not begin with what was delivered.
        decoder.begin_pass(BodyKind::Chunked);
        let mut out = [0u8; 64];
        let (_, n) = decoder.decode(&chunked(&all[2], 64), &mut out, false).unwrap();
        assert_eq!(n, 0, "nothing of a misaligned answer is delivered");
        assert!(decoder.misaligned());
        assert_eq!(decoder.realign().unwrap().parameters(), "&since=1795824113.990000002");
        decoder.begin_pass(BodyKind::Chunked);
        assert_eq!(decode_all(&mut decoder, &chunked(&all.concat(), 64), 64, 64).unwrap(), b"three\n");
    }

    #[test]
    fn typed_decodes_stop_where_the_stream_changes() {
        let mut frames = frame(1, "2026-11-28T00:01:54.000000001Z", b"out1\n");
        frames.extend(frame(1, "2026-11-28T00:01:54.000000002Z", b"out2\n"));
        frames.extend(frame(2, "2026-11-28T00:01:54.000000003Z", b"err\n"));
        frames.extend(frame(1, "2026-11-28T00:01:54.000000004Z", b"out3\n"));
        let input = chunked(&frames, 1000);
        let mut decoder = LogDecoder::new(BodyKind::Chunked, false, true);
        let (mut used, mut got) = (0, Vec::new());
        let mut out = [0u8; 64];
        loop {
            let (u, n) = decoder.decode(&input[used..], &mut out, true).unwrap();
            used += u;
            if n == 0 {
                break;
            }
            got.push((decoder.source(), String::from_utf8_lossy(&out[..n]).into_owned()));
        }
        assert_eq!(
            got,
            [
                (LogSource::Stdout, "out1\nout2\n".to_owned()),
                (LogSource::Stderr, "err\n".to_owned()),
                (LogSource::Stdout, "out3\n".to_owned())
            ]
        );
        let mut merged = LogDecoder::new(BodyKind::Chunked, false, true);
        let (_, n) = merged.decode(&input, &mut out, false).unwrap();
        assert_eq!(&out[..n], b"out1\nout2\nerr\nout3\n");
    }

    #[test]
    fn tty_streams_pass_through_and_need_no_replay() {
        let mut decoder = LogDecoder::new(BodyKind::Chunked, true, true);
        let raw = b"\x01\x00\x00\x00raw tty bytes";
        assert_eq!(decode_all(&mut decoder, &chunked(raw, 4), 3, 5).unwrap(), raw);
        assert_eq!(decoder.finish_pass().unwrap(), NextPass::Complete);
    }

    #[test]
    fn malformed_streams_are_errors() {
        let mut no_stamp = vec![1, 0, 0, 0, 0, 0, 0, 3];
        no_stamp.extend_from_slice(b"abc");
        let mut decoder = LogDecoder::new(BodyKind::Chunked, false, true);
        assert!(decode_all(&mut decoder, &chunked(&no_stamp, 100), 100, 100).is_err());

        let long = frame(1, &"9".repeat(100), b"x");
        let mut decoder = LogDecoder::new(BodyKind::Chunked, false, true);
        assert!(decode_all(&mut decoder, &chunked(&long, 100), 100, 100).is_err());

        let cut = &frame(1, "2026-11-28T00:01:54.000000001Z", b"payload")[..20];
        let mut decoder = LogDecoder::new(BodyKind::Chunked, false, true);
        decode_all(&mut decoder, &chunked(cut, 100), 100, 100).unwrap();
        assert!(decoder.finish_pass().is_err(), "ended inside a frame");

        let mut decoder = LogDecoder::new(BodyKind::Chunked, false, true);
        let err = decode_all(&mut decoder, b"5\r\nab", 100, 100).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection, "a cut answer is a broken connection");
    }
}
