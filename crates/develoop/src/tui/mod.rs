//! The rich develoop interface: a full-screen ratatui TUI.
//!
//! One thread owns the terminal: it reads keys and the mouse, applies them to the `App`
//! state and redraws, only when something changed and at most 60 times a second. The
//! runner tells it about runs by message and it answers with commands through a pipe the
//! runner polls; it never takes the GIL (an abort is sent from a helper thread), so it never
//! blocks the Python thread, and a busy Python thread never freezes it.

mod state;
mod terminal;
mod ui_thread;
mod view;

use std::io::{IsTerminal, Write};
use std::os::fd::BorrowedFd;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use jurigged_live::hooks::{self, Flow, HookId, PatchEvent};
use jurigged_live::log::{Style, describe};
use pyo3::Python;

use super::capture::Capture;
use super::output::{DEFAULT_MAX_LINES, SharedOutput, shared};
use super::runner::{Command, Interface, Run, TerminalLender};
use super::unix::{WakeChannel, poll_readable};
pub use state::RunView;
pub use terminal::restore as restore_terminal;
use ui_thread::ui_loop;

enum Message {
    Run(RunView),
    Status(String, bool),
    /// Give the terminal back (for pdb) and say so; wait for `Resume`.
    Suspend(Sender<()>),
    Resume,
    Stop,
}

/// Shows what each save did (`Update app.f`) or its error on the status line, and, while
/// the interface holds the terminal, the engine's log there too instead of letting it
/// scribble over the screen. Subscribed for as long as the interface lives.
fn show_patches(messages: Sender<Message>) -> HookId {
    let messages = Mutex::new(messages);
    let report = move |text: &str, is_error: bool| {
        if let Ok(messages) = messages.lock() {
            // Gone only when the interface is: nothing to show it on.
            let _ = messages.send(Message::Status(text.to_string(), is_error));
        }
    };
    hooks::subscribe(move |_py, event| match *event {
        PatchEvent::Applied { done, .. } => {
            if !done.is_empty() {
                report(&done.join(", "), false);
            }
            Flow::Continue
        }
        PatchEvent::NotApplied { summary } => {
            report(summary, true);
            Flow::Continue
        }
        _ if terminal::is_active() => {
            if let Some((style, text)) = describe(event) {
                report(&text, style == Style::Red);
            }
            Flow::Handled
        }
        _ => Flow::Continue,
    })
}

pub struct Rich {
    messages: Sender<Message>,
    /// Behind a mutex so the wait can run with the GIL released (Send + Sync).
    commands: Mutex<Receiver<Command>>,
    /// Nudged by the interface's thread when it sent a command.
    command_sent: Arc<WakeChannel>,
    ui: Option<JoinHandle<()>>,
    patches: HookId,
    _signals: terminal::SignalGuard,
    columns: u16,
    /// What the program prints between runs (other threads, patched statements), held
    /// while the interface has the screen and printed on the normal screen when it leaves.
    background: Arc<Mutex<Option<Background>>>,
}

/// Steps the interface aside (for pdb, `input()`) and brings it back; usable from the
/// running function's thread while the runner is busy with the run.
struct Handover {
    messages: Sender<Message>,
    background: Arc<Mutex<Option<Background>>>,
}

impl TerminalLender for Handover {
    fn lend(&self) {
        // The reader gets the real terminal, and the output held so far.
        let held = self.background.lock().ok().and_then(|mut b| b.take());
        if let Some(background) = held {
            background.finish();
        }
        let (ack, done) = mpsc::channel();
        if self.messages.send(Message::Suspend(ack)).is_ok() {
            // Not answered in time, the reader goes ahead on a screen not yet given back.
            let _ = done.recv_timeout(Duration::from_secs(2));
        }
    }

    fn take_back(&self) {
        if let Ok(mut background) = self.background.lock() {
            *background = Background::start();
        }
        // Sends fail only once the interface's thread has ended: nothing is shown then.
        let _ = self.messages.send(Message::Resume);
    }
}

struct Background {
    capture: Capture,
    out: SharedOutput,
    err: SharedOutput,
}

impl Background {
    fn start() -> Option<Background> {
        let (out, err) = (shared(DEFAULT_MAX_LINES), shared(DEFAULT_MAX_LINES));
        let capture = Capture::start(out.clone(), err.clone(), false, None).ok()?;
        Some(Background { capture, out, err })
    }

    /// Puts the real streams back and writes what was held to them.
    fn finish(self) {
        self.capture.stop();
        for (output, mut stream) in [
            (self.out, Box::new(std::io::stdout()) as Box<dyn Write>),
            (self.err, Box::new(std::io::stderr())),
        ] {
            let text = output.lock().map(|o| o.text()).unwrap_or_default();
            // A real stream that fails (a closed pipe) loses it, as a print would.
            let _ = stream.write_all(text.as_bytes());
            let _ = stream.flush();
        }
    }
}

impl Rich {
    /// The rich interface, if stdin and stdout are a terminal it can take.
    pub fn new() -> Option<Rich> {
        if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
            return None;
        }
        let command_sent = Arc::new(WakeChannel::new().ok()?);
        let mut tty = terminal::open_tty().ok()?;
        let signals = terminal::SignalGuard::install(&tty).ok()?;
        // From here on a failure gives the terminal back before the basic interface takes
        // over.
        if terminal::enter(&mut tty).is_err() {
            terminal::restore();
            return None;
        }
        let columns = crossterm::terminal::size().map(|(w, _)| w).unwrap_or(80);
        let (messages, inbox) = mpsc::channel();
        let (reply, commands) = mpsc::channel();
        let sent = command_sent.clone();
        let spawned = std::thread::Builder::new()
            .name("jurigged-tui".into())
            .spawn(move || ui_loop(tty, inbox, reply, &sent));
        let Ok(ui) = spawned else {
            terminal::restore();
            return None;
        };
        let patches = show_patches(messages.clone());
        Some(Rich {
            messages,
            commands: Mutex::new(commands),
            command_sent,
            ui: Some(ui),
            patches,
            _signals: signals,
            columns,
            background: Arc::new(Mutex::new(Background::start())),
        })
    }
}

impl Drop for Rich {
    fn drop(&mut self) {
        hooks::unsubscribe(self.patches);
        // Fails only when the interface's thread has ended already.
        let _ = self.messages.send(Message::Stop);
        if let Some(ui) = self.ui.take() {
            // Only a panic ends it otherwise, and the panic hook gave the terminal back.
            let _ = ui.join();
        }
        terminal::restore();
        let held = self.background.lock().ok().and_then(|mut b| b.take());
        if let Some(background) = held {
            background.finish();
        }
    }
}

fn view_of(run: &Run) -> RunView {
    RunView {
        number: run.number,
        signature: run.signature.clone(),
        status: run.status,
        seconds: run.seconds,
        started: run.started,
        result: run.result_pretty.clone().or_else(|| run.result.clone()),
        result_kind: run.result_kind.clone(),
        error: run.error.clone(),
        given: run.given.clone(),
        stdout: run.stdout.clone(),
        stderr: run.stderr.clone(),
    }
}

impl Interface for Rich {
    fn live_output(&self) -> bool {
        false
    }

    fn columns(&self) -> Option<u16> {
        Some(self.columns.saturating_sub(2).max(10))
    }

    fn started(&mut self, run: &Run) {
        self.show(run);
    }

    fn finished(&mut self, run: &Run) {
        self.show(run);
    }

    fn wait(&mut self, py: Python<'_>, wake: BorrowedFd<'_>) -> Command {
        let commands = &self.commands;
        let sent = &self.command_sent;
        py.detach(|| {
            loop {
                let received = commands.lock().map(|c| c.try_recv());
                if let Ok(Ok(command)) = received {
                    sent.drain();
                    return command;
                }
                // A failed poll (a signal) only means looking at the commands again.
                let polled = poll_readable(&[wake, sent.fd()], Some(Duration::from_millis(200)));
                if polled.is_ok_and(|ready| ready[0]) {
                    return Command::Rerun;
                }
                sent.drain();
            }
        })
    }

    fn suspend(&mut self) {
        self.handover().lend();
    }

    fn resume(&mut self) {
        self.handover().take_back();
    }

    fn lender(&self) -> Option<Arc<dyn TerminalLender>> {
        Some(Arc::new(self.handover()))
    }
}

impl Rich {
    fn show(&self, run: &Run) {
        // Fails only once the interface's thread has ended: nothing is shown then.
        let _ = self.messages.send(Message::Run(view_of(run)));
    }

    fn handover(&self) -> Handover {
        Handover {
            messages: self.messages.clone(),
            background: self.background.clone(),
        }
    }
}
