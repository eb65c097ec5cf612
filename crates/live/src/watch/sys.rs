//! The two system calls std does not offer: sleeping on several descriptors at once, and
//! keeping signals away from a thread.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, BorrowedFd};

/// Sleeps until one of `fds` is readable, or for `timeout_ms` (-1: no limit). A wait that
/// is interrupted or fails just returns: the caller looks at everything after it anyway.
pub(super) fn wait_readable(fds: &[BorrowedFd<'_>], timeout_ms: i32) {
    let mut fds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `fds` is a valid array of that many pollfd, whose descriptors are borrowed
    // (open) for the whole call.
    unsafe {
        libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms);
    }
}

/// Signals are Python's (Ctrl-C must interrupt the main thread's sleep): this thread, and
/// the notify threads it starts, never take them.
pub(super) fn block_signals() {
    // SAFETY: plain libc calls on a local signal set, for the calling thread only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        for synchronous in [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL] {
            libc::sigdelset(&mut set, synchronous);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}
