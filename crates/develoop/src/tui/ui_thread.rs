//! The interface's thread: it owns the terminal, applies messages from the runner and
//! keys from the user to the `App` state, redraws when something changed, and answers
//! with commands.

use std::fs::File;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyEventKind};
use pyo3::Python;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use super::state::{Action, App};
use super::{Message, terminal, view};
use crate::runner::{Command, abort_current};
use crate::unix::WakeChannel;

/// At most this often a frame is drawn.
const FRAME: Duration = Duration::from_millis(16);

/// Sends a command to the runner and wakes its wait.
fn send(commands: &Sender<Command>, sent: &WakeChannel, command: Command) {
    // Fails only when the interface is being dropped: no one waits for a command then.
    let _ = commands.send(command);
    sent.nudge();
}

/// An abort needs the GIL, which a busy Python thread may hold: ask from a helper thread.
fn abort_soon() {
    std::thread::spawn(|| Python::attach(abort_current));
}

/// Clears the screen and forgets what was drawn, so the next frame draws everything.
/// (`Terminal::clear` would ask the terminal where its cursor is, and wait for an answer
/// some terminals never give.)
fn full_redraw(screen: &mut Terminal<CrosstermBackend<File>>) {
    if let Ok(size) = screen.size() {
        // Failing, the next frame draws only what changed: a glitch, not a reason to stop.
        let _ = screen.resize(ratatui::layout::Rect::new(0, 0, size.width, size.height));
    }
}

/// After pdb or Ctrl-Z had the terminal: raw mode and the alternate screen again, drawn
/// whole. Failing, the interface goes on as it can: the keys still work.
fn take_terminal_again(screen: &mut Terminal<CrosstermBackend<File>>) {
    if let Ok(mut tty) = terminal::open_tty() {
        let _ = terminal::enter(&mut tty);
    }
    full_redraw(screen);
}

pub fn ui_loop(tty: File, inbox: Receiver<Message>, commands: Sender<Command>, sent: &WakeChannel) {
    let Ok(mut screen) = Terminal::new(CrosstermBackend::new(tty)) else {
        return;
    };
    full_redraw(&mut screen);
    let mut app = App::default();
    let mut dirty = true;
    let mut last_draw = Instant::now() - FRAME;
    let mut seen = 0u64;
    loop {
        loop {
            match inbox.try_recv() {
                Ok(Message::Run(run)) => app.update_run(run),
                Ok(Message::Status(text, is_error)) => app.status = Some((text, is_error)),
                Ok(Message::Suspend(ack)) => {
                    terminal::restore();
                    // The runner stops waiting after a while: it may not hear this.
                    let _ = ack.send(());
                    // pdb has the terminal until the runner says it is done.
                    loop {
                        match inbox.recv() {
                            Ok(Message::Resume) => break,
                            Ok(Message::Stop) | Err(_) => return,
                            Ok(Message::Run(run)) => app.update_run(run),
                            Ok(_) => {}
                        }
                    }
                    take_terminal_again(&mut screen);
                }
                Ok(Message::Resume) => {}
                Ok(Message::Stop) | Err(TryRecvError::Disconnected) => return,
                Err(TryRecvError::Empty) => break,
            }
            dirty = true;
        }
        let generation = app.shown().map_or(0, |run| {
            let out = run.stdout.lock().map(|o| o.generation()).unwrap_or(0);
            let err = run.stderr.lock().map(|o| o.generation()).unwrap_or(0);
            let given = run.given.lock().map(|g| g.len() as u64).unwrap_or(0);
            out.wrapping_add(err).wrapping_add(given)
        });
        if generation != seen {
            seen = generation;
            dirty = true;
        }
        // The running time in the footer moves on.
        if app.running() && last_draw.elapsed() >= Duration::from_millis(200) {
            dirty = true;
        }
        if dirty && last_draw.elapsed() >= FRAME {
            // A failed draw (the terminal went away) is retried with the next change.
            let _ = screen.draw(|frame| view::draw(frame, &mut app));
            dirty = false;
            last_draw = Instant::now();
        }
        // Short waits: a message from the runner cannot interrupt the terminal's poll, and a
        // save's rerun should be on screen within a frame.
        let timeout = if dirty {
            FRAME.saturating_sub(last_draw.elapsed())
        } else {
            Duration::from_millis(8)
        };
        if !event::poll(timeout).unwrap_or(false) {
            continue;
        }
        let Ok(event) = event::read() else { continue };
        dirty = true;
        let action = match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => app.key(key),
            Event::Mouse(mouse) => {
                app.mouse(mouse);
                None
            }
            _ => None,
        };
        match action {
            Some(Action::Rerun) => {
                if app.running() {
                    abort_soon();
                }
                send(&commands, sent, Command::Rerun);
            }
            Some(Action::Abort) => abort_soon(),
            Some(Action::Continue) => send(&commands, sent, Command::Continue),
            Some(Action::Quit) => {
                if app.running() {
                    abort_soon();
                }
                send(&commands, sent, Command::Quit);
            }
            Some(Action::Interrupt) => send(&commands, sent, Command::Interrupted),
            Some(Action::Debug(number)) => send(&commands, sent, Command::Debug(number)),
            Some(Action::Suspend) => {
                terminal::suspend();
                take_terminal_again(&mut screen);
            }
            None => {}
        }
    }
}
