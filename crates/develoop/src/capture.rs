//! Capturing a run's output at the file-descriptor level, so that what bypasses
//! `sys.stdout` (C extensions, `os.system`, subprocesses) is captured too.
//!
//! File descriptors 1 and 2 are pointed at a pseudo-terminal while the run lasts when the
//! real stream is a terminal (so programs still see a terminal and keep their colours), or
//! at a pipe otherwise. A thread per stream collects the bytes and, when asked, copies them
//! to the real stream as they come (the basic interface shows output live).

#![allow(unsafe_code)]

use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::Duration;

use super::output::SharedOutput as Sink;

/// A standard stream of the process: its fd is the process's, never closed here.
#[derive(Clone, Copy)]
enum Stream {
    Out,
    Err,
}

impl Stream {
    fn fd(self) -> libc::c_int {
        match self {
            Stream::Out => libc::STDOUT_FILENO,
            Stream::Err => libc::STDERR_FILENO,
        }
    }

    fn is_terminal(self) -> bool {
        match self {
            Stream::Out => std::io::stdout().is_terminal(),
            Stream::Err => std::io::stderr().is_terminal(),
        }
    }

    /// A duplicate of what the stream is now.
    fn duplicate(self) -> std::io::Result<OwnedFd> {
        match self {
            Stream::Out => std::io::stdout().as_fd().try_clone_to_owned(),
            Stream::Err => std::io::stderr().as_fd().try_clone_to_owned(),
        }
    }

    /// Makes the stream's fd point where `to` does.
    fn point_at(self, to: BorrowedFd<'_>) -> std::io::Result<()> {
        // SAFETY: dup2 of an open (borrowed) fd onto a standard fd, which stays open.
        if unsafe { libc::dup2(to.as_raw_fd(), self.fd()) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

struct Redirected {
    stream: Stream,
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
        for (stream, sink) in [(Stream::Out, out), (Stream::Err, err)] {
            match redirect(stream, sink, tee, columns) {
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
        for redirected in self.streams {
            // Failing, the stream stays captured and the reader keeps collecting: nothing
            // better is left to do with it.
            let _ = redirected.stream.point_at(redirected.saved.as_fd());
            if redirected
                .done
                .recv_timeout(Duration::from_millis(200))
                .is_ok()
            {
                // It has ended: join only reaps it.
                let _ = redirected.reader.join();
            }
        }
    }
}

fn redirect(
    stream: Stream,
    sink: Sink,
    tee: bool,
    columns: Option<u16>,
) -> std::io::Result<Redirected> {
    let saved = stream.duplicate()?;
    let (read_end, write_end) = if stream.is_terminal() {
        pty_like(saved.as_fd(), columns)?
    } else {
        let (read_end, write_end) = std::io::pipe()?;
        (OwnedFd::from(read_end), OwnedFd::from(write_end))
    };
    stream.point_at(write_end.as_fd())?;
    drop(write_end);
    let copy_to = if tee {
        Some(File::from(saved.try_clone()?))
    } else {
        None
    };
    let (finished, done) = mpsc::channel();
    let reader = std::thread::Builder::new()
        .name("jurigged-capture".into())
        .spawn(move || {
            collect(File::from(read_end), sink, copy_to);
            // The capture may have stopped waiting already.
            let _ = finished.send(());
        })?;
    Ok(Redirected {
        stream,
        saved,
        reader,
        done,
    })
}

/// A pseudo-terminal as wide as the terminal `like`, in raw mode (no `\r\n` translation):
/// (master, slave).
fn pty_like(like: BorrowedFd<'_>, columns: Option<u16>) -> std::io::Result<(OwnedFd, OwnedFd)> {
    // SAFETY: winsize and termios are plain data, filled by the calls below or left zeroed.
    let (mut size, mut mode): (libc::winsize, libc::termios) =
        unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
    // SAFETY: an open fd and a local struct. Failing, the size stays zero: no size.
    unsafe { libc::ioctl(like.as_raw_fd(), libc::TIOCGWINSZ, &mut size) };
    if let Some(columns) = columns {
        size.ws_col = columns;
    }
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two new fds, owned right below; the name and mode pointers
    // may be null, the size is a local struct.
    let opened = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    if opened < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both fds were just opened and belong to nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    for fd in [&master, &slave] {
        // SAFETY: fcntl on an open fd we own. Failing, a child process inherits it: the
        // capture then lasts as long as that child keeps it.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    // SAFETY: termios calls on an open fd we own with a local struct. Failing, the
    // pseudo-terminal keeps its cooked mode.
    unsafe {
        if libc::tcgetattr(slave.as_raw_fd(), &mut mode) == 0 {
            libc::cfmakeraw(&mut mode);
            libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &mode);
        }
    }
    Ok((master, slave))
}

fn collect(mut read_end: File, sink: Sink, mut copy_to: Option<File>) {
    let mut buffer = [0u8; 8192];
    loop {
        let n = match read_end.read(&mut buffer) {
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            // EOF (pipe) or EIO (pty: every writer is gone).
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let bytes = &buffer[..n];
        if let Ok(mut sink) = sink.lock() {
            sink.push(bytes);
        }
        if let Some(out) = copy_to.as_mut() {
            // A real stream that fails (a closed pipe) only loses the copy.
            let _ = out.write_all(bytes);
        }
    }
}
