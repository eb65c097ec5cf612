//! Capturing a run's output at the file-descriptor level, so that what bypasses
//! `sys.stdout` (C extensions, `os.system`, subprocesses) is captured too.
//!
//! File descriptors 1 and 2 are pointed at a pseudo-terminal while the run lasts when the
//! real stream is a terminal (so programs still see a terminal and keep their colours), or
//! at a pipe otherwise. A thread per stream collects the bytes and, when asked, copies them
//! to the real stream as they come (the basic interface shows output live).

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::Duration;

use super::output::SharedOutput as Sink;

struct Redirected {
    fd: RawFd,
    /// A duplicate of the real stream, put back at the end.
    saved: OwnedFd,
    reader: JoinHandle<()>,
    /// Told when the reader has seen the end of the stream.
    done: Receiver<()>,
}

/// An active capture of stdout and stderr.
pub struct Capture {
    streams: Vec<Redirected>,
}

impl Capture {
    /// Starts capturing fds 1 and 2 into `out` and `err`; `tee` also copies them to the
    /// real streams as they come. Python's own buffers must be flushed first.
    /// `columns` overrides the width a pseudo-terminal reports (the panel's).
    pub fn start(
        out: Sink,
        err: Sink,
        tee: bool,
        columns: Option<u16>,
    ) -> std::io::Result<Capture> {
        let mut streams = Vec::new();
        for (fd, sink) in [(1, out), (2, err)] {
            match redirect(fd, sink, tee, columns) {
                Ok(stream) => streams.push(stream),
                Err(error) => {
                    Capture { streams }.stop();
                    return Err(error);
                }
            }
        }
        Ok(Capture { streams })
    }

    /// Puts the real streams back and waits (briefly) for the last bytes. A subprocess that
    /// still holds the capture open is not waited for.
    pub fn stop(self) {
        for stream in self.streams {
            // SAFETY: dup2 onto a standard fd we redirected; `saved` is a valid fd.
            unsafe {
                libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&stream.saved), stream.fd);
            }
            if stream.done.recv_timeout(Duration::from_millis(200)).is_ok() {
                let _ = stream.reader.join();
            }
        }
    }
}

fn redirect(fd: RawFd, sink: Sink, tee: bool, columns: Option<u16>) -> std::io::Result<Redirected> {
    // SAFETY: plain fd syscalls; every fd created here is owned by an OwnedFd or closed.
    unsafe {
        let saved = libc::dup(fd);
        if saved < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let saved = OwnedFd::from_raw_fd(saved);
        let (read_end, write_end) = if libc::isatty(fd) == 1 {
            pty_like(fd, columns)?
        } else {
            let mut ends = [0; 2];
            if libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1]))
        };
        if libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&write_end), fd) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        drop(write_end);
        let copy_to = if tee {
            Some(std::fs::File::from(saved.try_clone()?))
        } else {
            None
        };
        let (finished, done) = mpsc::channel();
        let reader = std::thread::Builder::new()
            .name("jurigged-capture".into())
            .spawn(move || {
                collect(read_end, sink, copy_to);
                let _ = finished.send(());
            })?;
        Ok(Redirected {
            fd,
            saved,
            reader,
            done,
        })
    }
}

/// A pseudo-terminal as wide as the real terminal, in raw mode (no `\r\n` translation).
unsafe fn pty_like(fd: RawFd, columns: Option<u16>) -> std::io::Result<(OwnedFd, OwnedFd)> {
    // SAFETY: openpty fills two fds we take ownership of; termios calls act on them.
    unsafe {
        let (mut master, mut slave) = (0, 0);
        let mut size: libc::winsize = std::mem::zeroed();
        libc::ioctl(fd, libc::TIOCGWINSZ, &mut size);
        if let Some(columns) = columns {
            size.ws_col = columns;
        }
        if libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        ) < 0
        {
            return Err(std::io::Error::last_os_error());
        }
        libc::fcntl(master, libc::F_SETFD, libc::FD_CLOEXEC);
        libc::fcntl(slave, libc::F_SETFD, libc::FD_CLOEXEC);
        let mut mode: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(slave, &mut mode) == 0 {
            libc::cfmakeraw(&mut mode);
            libc::tcsetattr(slave, libc::TCSANOW, &mode);
        }
        Ok((OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)))
    }
}

fn collect(read_end: OwnedFd, sink: Sink, mut copy_to: Option<std::fs::File>) {
    let mut buffer = [0u8; 8192];
    let fd = std::os::fd::AsRawFd::as_raw_fd(&read_end);
    loop {
        // SAFETY: reading into a local buffer from an fd we own.
        let n = unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if n <= 0 {
            // EOF (pipe) or EIO (pty: every writer is gone).
            return;
        }
        let bytes = &buffer[..n as usize];
        if let Ok(mut sink) = sink.lock() {
            sink.push(bytes);
        }
        if let Some(out) = copy_to.as_mut() {
            let _ = out.write_all(bytes);
        }
    }
}
