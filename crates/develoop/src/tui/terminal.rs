//! The terminal is always given back: on leaving the loop, on a panic, on SIGTERM and
//! SIGHUP; Ctrl-Z suspends with the terminal restored and `fg` brings the interface back.
//!
//! The interface draws on /dev/tty, not on fd 1: while a run goes, fd 1 is the capture.

#![allow(unsafe_code)]

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};

/// Whether the interface holds the terminal now. Process-wide like the terminal itself:
/// the panic hook restores it, and the log asks whether it may write.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Serialises restoring (a signal thread and a panic may race).
static RESTORING: Mutex<()> = Mutex::new(());

/// Whether the full-screen interface holds the terminal (nothing else may write to it).
pub fn is_active() -> bool {
    ACTIVE.load(Ordering::SeqCst)
}

/// The real terminal.
pub fn open_tty() -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
}

/// Raw mode, the alternate screen, mouse reporting, no cursor.
pub fn enter(tty: &mut File) -> std::io::Result<()> {
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    execute!(tty, EnterAlternateScreen, EnableMouseCapture, cursor::Hide)?;
    Ok(())
}

/// Gives the terminal back as it was (idempotent; safe from a panic hook).
pub fn restore() {
    let _lock = RESTORING.lock();
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    // Each step is tried whatever the others did: as much of the terminal as can be given
    // back is.
    if let Ok(mut tty) = open_tty() {
        let _ = execute!(tty, DisableMouseCapture, LeaveAlternateScreen, cursor::Show);
        let _ = tty.flush();
    }
    let _ = disable_raw_mode();
}

/// Ctrl-Z: give the terminal back, stop the whole process group as the terminal's own
/// Ctrl-Z would (a wrapper script that started us must stop too, or its shell never sees
/// the job stop and the terminal stays dead); when it continues (`fg`), the caller enters
/// again and redraws.
pub fn suspend() {
    restore();
    // SAFETY: signal dispositions and SIGTSTP. Ignored here while it goes to the rest of
    // the group, it is then raised on this thread with its default action: the process
    // stops before `raise` returns, never a second time after `fg`.
    unsafe {
        libc::signal(libc::SIGTSTP, libc::SIG_IGN);
        libc::kill(0, libc::SIGTSTP);
        libc::signal(libc::SIGTSTP, libc::SIG_DFL);
        libc::raise(libc::SIGTSTP);
    }
}

/// SIGTERM and SIGHUP restore the terminal before the process ends as it would have: a
/// C handler (async-signal-safe: write, tcsetattr, sigaction, raise) is installed while the
/// interface holds the terminal, and the previous handlers are put back after.
pub struct SignalGuard {
    previous: [(libc::c_int, libc::sigaction); 2],
    /// A duplicate of the terminal, written to by the handler.
    _tty: OwnedFd,
}

/// What the signal handler needs, prepared before it is installed: a handler can neither
/// lock nor allocate, and it reaches nothing but statics.
struct Prepared {
    tty: RawFd,
    mode: Option<libc::termios>,
    previous: [(libc::c_int, libc::sigaction); 2],
}

/// The handler's `Prepared`, null while no handler is installed. Each is leaked (a few
/// hundred bytes per interface): a handler already running on another thread may still
/// read it after the guard is dropped.
static PREPARED: AtomicPtr<Prepared> = AtomicPtr::new(std::ptr::null_mut());
const LEAVE: &[u8] = b"\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1049l\x1b[?25h";

extern "C" fn on_signal(signal: libc::c_int) {
    // SAFETY: a non-null pointer is a leaked `Prepared`, never written after it was
    // published. Only async-signal-safe calls follow.
    unsafe {
        if let Some(prepared) = PREPARED.load(Ordering::SeqCst).as_ref() {
            libc::write(prepared.tty, LEAVE.as_ptr().cast(), LEAVE.len());
            if let Some(mode) = &prepared.mode {
                libc::tcsetattr(prepared.tty, libc::TCSANOW, mode);
            }
            for (number, previous) in &prepared.previous {
                if *number == signal {
                    libc::sigaction(signal, previous, std::ptr::null_mut());
                }
            }
        }
        libc::raise(signal);
    }
}

impl SignalGuard {
    /// Call with the terminal still in its original mode.
    pub fn install(tty: &File) -> std::io::Result<SignalGuard> {
        let tty = tty.as_fd().try_clone_to_owned()?;
        // SAFETY: termios is plain data, filled by tcgetattr or left unused.
        let mut mode: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: an open fd (owned above) and a local struct.
        let mode = (unsafe { libc::tcgetattr(tty.as_raw_fd(), &mut mode) } == 0).then_some(mode);
        // SAFETY: sigaction is plain data; zeroed is an empty action.
        let (mut action, empty): (libc::sigaction, libc::sigaction) =
            unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
        action.sa_sigaction = on_signal as *const () as usize;
        // SAFETY: a local signal set.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        let signals = [libc::SIGTERM, libc::SIGHUP];
        let mut previous = [(signals[0], empty), (signals[1], empty)];
        for (signal, old) in &mut previous {
            // SAFETY: reads the handler in place, changing nothing.
            unsafe { libc::sigaction(*signal, std::ptr::null(), old) };
        }
        let prepared = Box::leak(Box::new(Prepared {
            tty: tty.as_raw_fd(),
            mode,
            previous,
        }));
        PREPARED.store(prepared, Ordering::SeqCst);
        for signal in signals {
            // SAFETY: a plain extern "C" handler, whose `Prepared` is published above.
            unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) };
        }
        Ok(SignalGuard {
            previous,
            _tty: tty,
        })
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        for (signal, previous) in &self.previous {
            // SAFETY: putting back the handlers read in install.
            unsafe { libc::sigaction(*signal, previous, std::ptr::null_mut()) };
        }
        PREPARED.store(std::ptr::null_mut(), Ordering::SeqCst);
    }
}
