//! The terminal is always given back: on leaving the loop, on a panic, on SIGTERM and
//! SIGHUP; Ctrl-Z suspends with the terminal restored and `fg` brings the interface back.
//!
//! The interface draws on /dev/tty, not on fd 1: while a run goes, fd 1 is the capture.

use std::fs::File;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};

/// Whether the interface holds the terminal now.
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
}

/// What the signal handler needs, prepared beforehand (nothing can be allocated there).
static mut TTY_FD: libc::c_int = -1;
static mut SAVED_MODE: Option<libc::termios> = None;
static mut PREVIOUS: [Option<(libc::c_int, libc::sigaction)>; 2] = [None, None];
const LEAVE: &[u8] = b"\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1049l\x1b[?25h";

extern "C" fn on_signal(signal: libc::c_int) {
    // SAFETY: only async-signal-safe calls on values prepared before the handler was set.
    unsafe {
        let fd = TTY_FD;
        if fd >= 0 {
            libc::write(fd, LEAVE.as_ptr().cast(), LEAVE.len());
            if let Some(mode) = (&raw const SAVED_MODE).read() {
                libc::tcsetattr(fd, libc::TCSANOW, &mode);
            }
        }
        for (number, previous) in (&raw const PREVIOUS).read().iter().flatten() {
            if *number == signal {
                libc::sigaction(signal, previous, std::ptr::null_mut());
            }
        }
        libc::raise(signal);
    }
}

impl SignalGuard {
    /// Call with the terminal still in its original mode.
    pub fn install(tty: &File) -> SignalGuard {
        use std::os::fd::AsRawFd;
        // SAFETY: the statics are written before the handler exists and read only by it;
        // sigaction with zeroed structs and a plain extern "C" handler.
        unsafe {
            let fd = libc::dup(tty.as_raw_fd());
            let mut mode: libc::termios = std::mem::zeroed();
            SAVED_MODE = (libc::tcgetattr(fd, &mut mode) == 0).then_some(mode);
            TTY_FD = fd;
            let mut previous = [(0, std::mem::zeroed()), (0, std::mem::zeroed())];
            for (slot, signal) in [libc::SIGTERM, libc::SIGHUP].into_iter().enumerate() {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as usize;
                libc::sigemptyset(&mut action.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                libc::sigaction(signal, &action, &mut old);
                previous[slot] = (signal, old);
                PREVIOUS[slot] = Some((signal, old));
            }
            SignalGuard { previous }
        }
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        // SAFETY: putting back the handlers saved in install.
        unsafe {
            for (signal, previous) in &self.previous {
                libc::sigaction(*signal, previous, std::ptr::null_mut());
            }
            PREVIOUS = [None, None];
            let fd = TTY_FD;
            TTY_FD = -1;
            if fd >= 0 {
                libc::close(fd);
            }
        }
    }
}
