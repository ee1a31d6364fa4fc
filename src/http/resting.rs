//! The async side's Unix connection, which can rest unwatched between two reads of a busy
//! stream (see [`super::BUSY_READ_SPACING`]).
//!
//! A tokio socket stays registered with the runtime's epoll, and a busy log stream then wakes
//! the runtime's thread for every line the engine writes, even while the reader pauses: about
//! 640 wake-ups per MiB of 1 KiB lines, as many as an unpaced reader's reads. This connection
//! leaves the epoll set for its pause (one `epoll_ctl` each way), so that a pause costs nothing
//! however much the engine writes meanwhile; the read after it takes all of that at once.
//!
//! The pause is timed by a timerfd of the connection's own, not by tokio's timer: tokio's
//! wheel counts whole milliseconds, so a 0.5 ms pause lasted 1 to 2 ms, long enough for the
//! engine to fill the socket's buffer and stop writing. That halved a fast log's throughput
//! (Rust API 65 MiB/s against 125 unpaced, 1 KiB lines, 2026-12-02).

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A non-blocking Unix stream, watched by the runtime except while it rests.
pub(crate) struct RestingUnix {
    watched: Option<AsyncFd<UnixStream>>,
    /// The stream while it rests (not registered).
    resting: Option<UnixStream>,
    /// Times the pauses; made at the first one.
    timer: Option<AsyncFd<OwnedFd>>,
}

impl RestingUnix {
    pub(crate) async fn connect(path: &std::path::Path) -> io::Result<Self> {
        let stream = tokio::net::UnixStream::connect(path).await?.into_std()?;
        Ok(RestingUnix { watched: Some(watch(stream)?), resting: None, timer: None })
    }

    /// Leaves the epoll set for `pause`; the next read or write joins it again.
    pub(crate) async fn rest(&mut self, pause: Duration) -> io::Result<()> {
        if pause.is_zero() {
            return Ok(());
        }
        if let Some(watched) = self.watched.take() {
            self.resting = Some(watched.into_inner());
        }
        let timer = match self.timer.take() {
            Some(timer) => timer,
            None => new_timer()?,
        };
        let slept = sleep(&timer, pause).await;
        self.timer = Some(timer);
        slept
    }

    /// The stream, watched again if it was resting; and whether it just was (its readiness
    /// then is unknown, so a read is tried before waiting for an event).
    fn watched(&mut self) -> io::Result<(&AsyncFd<UnixStream>, bool)> {
        let woke = match self.resting.take() {
            Some(stream) => {
                self.watched = Some(watch(stream)?);
                true
            }
            None => false,
        };
        match &self.watched {
            Some(watched) => Ok((watched, woke)),
            None => Err(io::Error::new(io::ErrorKind::NotConnected, "the connection was dropped")),
        }
    }
}

/// A one-shot monotonic timerfd, registered with the runtime.
fn new_timer() -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: plain system call; a descriptor it returns is owned by nobody else.
    let fd = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and is owned here alone; the AsyncFd owns it from now on,
    // and it stays open and the same until the AsyncFd is dropped.
    unsafe { AsyncFd::register(OwnedFd::from_raw_fd(fd)) }.map_err(io::Error::from)
}

/// Waits `pause` (not zero: a zero time disarms a timerfd) on `timer`.
async fn sleep(timer: &AsyncFd<OwnedFd>, pause: Duration) -> io::Result<()> {
    let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    let value = libc::timespec { tv_sec: pause.as_secs() as libc::time_t, tv_nsec: pause.subsec_nanos() as libc::c_long };
    let spec = libc::itimerspec { it_interval: zero, it_value: value };
    // SAFETY: a valid timerfd and a valid itimerspec; the old value is not asked for.
    if unsafe { libc::timerfd_settime(timer.as_raw_fd(), 0, &spec, std::ptr::null_mut()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    loop {
        let mut guard = timer.readable().await?;
        let mut expirations = [0u8; 8];
        // SAFETY: reads at most 8 bytes into an 8-byte buffer.
        let read = guard.try_io(|fd| match unsafe { libc::read(fd.as_raw_fd(), expirations.as_mut_ptr().cast(), 8) } {
            n if n < 0 => Err(io::Error::last_os_error()),
            _ => Ok(()),
        });
        match read {
            Ok(result) => return result,
            Err(_would_block) => continue,
        }
    }
}

/// Registers `stream` with the runtime (called from a task of it, which has a reactor).
fn watch(stream: UnixStream) -> io::Result<AsyncFd<UnixStream>> {
    // SAFETY: the AsyncFd owns the stream, whose descriptor stays open and the same until the
    // AsyncFd is dropped or gives the stream back (`into_inner`).
    unsafe { AsyncFd::register(stream) }.map_err(io::Error::from)
}

impl AsyncRead for RestingUnix {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let (watched, woke) = self.get_mut().watched()?;
        if woke {
            // What arrived during the rest is read without waiting for the runtime's event.
            match watched.get_ref().read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        loop {
            let mut guard = ready!(watched.poll_read_ready(cx))?;
            match guard.try_io(|s| s.get_ref().read(buf.initialize_unfilled())) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for RestingUnix {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let (watched, _) = self.get_mut().watched()?;
        loop {
            let mut guard = ready!(watched.poll_write_ready(cx))?;
            match guard.try_io(|s| s.get_ref().write(data)) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let stream = this.watched.as_ref().map(AsyncFd::get_ref).or(this.resting.as_ref());
        Poll::Ready(stream.map_or(Ok(()), |s| s.shutdown(std::net::Shutdown::Write)))
    }
}
