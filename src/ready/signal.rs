//! The descriptor of a readiness handle: an eventfd, readable while there may be something to
//! take.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::error::{Error, ErrorKind, Result};

/// An eventfd (non-blocking, close-on-exec). The producer raises it when it makes something
/// available to a consumer that found nothing; the consumer clears it when it finds nothing,
/// under the same lock as the producer's change, so no raise is lost between the two.
pub(crate) struct Signal {
    fd: OwnedFd,
}

impl Signal {
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: eventfd takes no pointer; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            let e = std::io::Error::last_os_error();
            return Err(Error::new(ErrorKind::Internal, format!("cannot create an eventfd: {e}")).with_source(e));
        }
        // SAFETY: a descriptor just created and owned by nobody else.
        Ok(Signal { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    /// Makes the descriptor readable. The counter cannot overflow in practice (one raise per
    /// empty-to-not-empty change); a full counter is readable anyway, so EAGAIN is ignored.
    pub(crate) fn raise(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to a descriptor this signal owns.
        let _ = unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Makes the descriptor not readable (until the next raise).
    pub(crate) fn clear(&self) {
        let mut count: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64; non-blocking, so EAGAIN (already clear) is fine.
        let _ = unsafe { libc::read(self.fd.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Blocks until the descriptor is readable: the blocking reads of a readiness handle.
    pub(crate) fn wait(&self) {
        let mut poll = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one live pollfd. EINTR and the like only mean "look again", which the caller does.
        let _ = unsafe { libc::poll(&mut poll, 1, -1) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(signal: &Signal) -> bool {
        let mut poll = libc::pollfd { fd: signal.raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one live pollfd, no wait.
        unsafe { libc::poll(&mut poll, 1, 0) == 1 }
    }

    #[test]
    fn a_signal_is_readable_from_its_raise_to_its_clear() {
        let signal = Signal::new().unwrap();
        assert!(!readable(&signal));
        signal.raise();
        signal.raise();
        assert!(readable(&signal));
        signal.clear();
        assert!(!readable(&signal));
        signal.clear();
        assert!(!readable(&signal));
    }
}
