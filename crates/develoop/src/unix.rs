//! The system calls the interfaces wait with, behind safe functions: a channel that wakes a
//! thread from its poll, `poll` itself, and a terminal's cbreak mode. One of the crate's
//! few modules with `unsafe` (with capture's redirections, the terminal's signal handler,
//! the runner's abort and its `time.sleep`).
#![allow(unsafe_code)]

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Wakes a thread that polls: `nudge` from anywhere makes `fd` readable until `drain`.
pub struct WakeChannel {
    reader: UnixStream,
    writer: UnixStream,
}

impl WakeChannel {
    /// A connected non-blocking pair: nudges never block, drains never wait.
    pub fn new() -> std::io::Result<WakeChannel> {
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        Ok(WakeChannel { reader, writer })
    }

    /// What a poll waits on.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.reader.as_fd()
    }

    pub fn nudge(&self) {
        // Full means a wake-up is pending already: that is all a nudge asks for.
        let _ = (&self.writer).write(b"!");
    }

    /// Forgets the nudges so far.
    pub fn drain(&self) {
        let mut buffer = [0u8; 64];
        while matches!((&self.reader).read(&mut buffer), Ok(n) if n > 0) {}
    }
}

/// Waits until one of `fds` is readable (or hung up), `timeout` at most (`None`: no
/// limit). Returns which are; all false on timeout; `Interrupted` when a signal came.
pub fn poll_readable(
    fds: &[BorrowedFd<'_>],
    timeout: Option<Duration>,
) -> std::io::Result<Vec<bool>> {
    let mut polled: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let timeout = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as libc::c_int);
    // SAFETY: the pointer and length describe `polled`, alive for the call; every fd is
    // borrowed, so open.
    let n = unsafe { libc::poll(polled.as_mut_ptr(), polled.len() as libc::nfds_t, timeout) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(polled.iter().map(|fd| fd.revents != 0).collect())
}

/// A terminal in cbreak mode (keys without Enter, no echo) while this lives; its mode
/// before is put back on drop.
pub struct Cbreak<'a> {
    fd: BorrowedFd<'a>,
    saved: libc::termios,
}

impl<'a> Cbreak<'a> {
    /// `None` when `fd` is not a terminal.
    pub fn enter(fd: BorrowedFd<'a>) -> Option<Cbreak<'a>> {
        // SAFETY: termios is plain data, and tcgetattr fills it or fails.
        let mut mode: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: a borrowed, so open, fd and a local struct.
        if unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut mode) } != 0 {
            return None;
        }
        let saved = mode;
        mode.c_lflag &= !(libc::ICANON | libc::ECHO);
        mode.c_cc[libc::VMIN] = 1;
        mode.c_cc[libc::VTIME] = 0;
        // SAFETY: as above. Failing leaves the mode as it was: keys then need Enter.
        unsafe { libc::tcsetattr(fd.as_raw_fd(), libc::TCSADRAIN, &mode) };
        Some(Cbreak { fd, saved })
    }
}

impl Drop for Cbreak<'_> {
    fn drop(&mut self) {
        // SAFETY: the mode read from this same fd, still open (borrowed).
        unsafe { libc::tcsetattr(self.fd.as_raw_fd(), libc::TCSADRAIN, &self.saved) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(channel: &WakeChannel) -> bool {
        poll_readable(&[channel.fd()], Some(Duration::ZERO)).unwrap()[0]
    }

    #[test]
    fn a_nudge_wakes_the_poll_until_drained() {
        let channel = WakeChannel::new().unwrap();
        assert!(!readable(&channel));
        channel.nudge();
        assert!(readable(&channel));
        channel.drain();
        assert!(!readable(&channel));
    }

    #[test]
    fn nudges_never_block_when_nobody_drains() {
        let channel = WakeChannel::new().unwrap();
        // Far more than a socket buffer holds: the excess is dropped, not waited on.
        for _ in 0..1_000_000 {
            channel.nudge();
        }
        assert!(readable(&channel));
        channel.drain();
        assert!(!readable(&channel));
    }

    #[test]
    fn poll_says_which_fd_is_readable_and_times_out() {
        let (first, second) = (WakeChannel::new().unwrap(), WakeChannel::new().unwrap());
        let started = std::time::Instant::now();
        let none = poll_readable(&[first.fd(), second.fd()], Some(Duration::from_millis(50)));
        assert_eq!(none.unwrap(), [false, false]);
        assert!(started.elapsed() >= Duration::from_millis(50));
        second.nudge();
        let some = poll_readable(&[first.fd(), second.fd()], None);
        assert_eq!(some.unwrap(), [false, true]);
    }

    #[test]
    fn cbreak_needs_a_terminal() {
        let (reader, _writer) = std::io::pipe().unwrap();
        assert!(Cbreak::enter(reader.as_fd()).is_none());
    }
}
