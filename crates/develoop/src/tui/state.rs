//! What the rich interface shows, and how keys change it: plain data, so the whole
//! interface logic is testable without a terminal (key → action → update → draw).

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};

use super::super::output::SharedOutput;
use super::super::runner::{Given, Status};

/// A run as the interface sees it (shared buffers, so output shows while it runs).
#[derive(Clone)]
pub struct RunView {
    pub number: usize,
    pub signature: String,
    pub status: Status,
    pub seconds: f64,
    pub started: Instant,
    pub result: Option<String>,
    /// `awaited`, `generator: 3 items yielded`: shown in the result panel's title.
    pub result_kind: Option<String>,
    pub error: Option<String>,
    pub given: Given,
    pub stdout: SharedOutput,
    pub stderr: SharedOutput,
}

/// The stacked panels, top to bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Panel {
    Stdout,
    Stderr,
    Given,
    Error,
    Result,
}

pub const PANELS: [Panel; 5] = [
    Panel::Stdout,
    Panel::Stderr,
    Panel::Given,
    Panel::Error,
    Panel::Result,
];

impl Panel {
    pub fn title(self) -> &'static str {
        match self {
            Panel::Stdout => "stdout",
            Panel::Stderr => "stderr",
            Panel::Given => "given",
            Panel::Error => "error",
            Panel::Result => "result",
        }
    }
}

/// What a key asks of the runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Rerun,
    Abort,
    Continue,
    Quit,
    /// Ctrl-C while waiting: KeyboardInterrupt to the caller.
    Interrupt,
    /// `d`: the post-mortem debugger on that run's error.
    Debug(usize),
    /// Ctrl-Z.
    Suspend,
}

/// The interface's whole state.
pub struct App {
    pub runs: Vec<RunView>,
    /// Browsing an earlier run (`[` / `]`); `None` follows the latest.
    pub viewing: Option<usize>,
    pub focus: Option<Panel>,
    /// Lines scrolled up from the bottom, per panel; 0 follows the tail.
    scroll: [usize; 5],
    pub maximized: bool,
    /// What the last save did, or its error.
    pub status: Option<(String, bool)>,
    /// Lines each panel showed at the last draw (0: not drawn): scrolling stops when the
    /// first line is at the top, and a page is what the panel shows.
    pub visible: [usize; 5],
    /// The screen's width at the last draw.
    pub width: u16,
}

impl Default for App {
    fn default() -> Self {
        App {
            runs: Vec::new(),
            viewing: None,
            focus: None,
            scroll: [0; 5],
            maximized: false,
            status: None,
            visible: [0; 5],
            width: 80,
        }
    }
}

fn index(panel: Panel) -> usize {
    PANELS.iter().position(|p| *p == panel).unwrap_or(0)
}

impl App {
    /// The run on screen.
    pub fn shown(&self) -> Option<&RunView> {
        match self.viewing {
            Some(index) => self.runs.get(index),
            None => self.runs.last(),
        }
    }

    pub fn running(&self) -> bool {
        self.runs
            .last()
            .is_some_and(|r| r.status == Status::Running)
    }

    pub fn scroll(&self, panel: Panel) -> usize {
        self.scroll[index(panel)]
    }

    /// A run started or finished: the latest replaces its earlier state.
    pub fn update_run(&mut self, run: RunView) {
        match self.runs.iter_mut().find(|r| r.number == run.number) {
            Some(existing) => *existing = run,
            None => {
                self.runs.push(run);
                self.scroll = [0; 5];
            }
        }
        if self.focus.is_some_and(|p| self.lines(p) == 0) {
            self.focus = None;
        }
    }

    /// The panels with something to show, for the run on screen.
    pub fn active_panels(&self) -> Vec<Panel> {
        PANELS
            .into_iter()
            .filter(|panel| self.lines(*panel) > 0)
            .collect()
    }

    /// How many lines a panel has.
    pub fn lines(&self, panel: Panel) -> usize {
        let Some(run) = self.shown() else { return 0 };
        match panel {
            Panel::Stdout => run.stdout.lock().map(|o| o.count()).unwrap_or(0),
            Panel::Stderr => run.stderr.lock().map(|o| o.count()).unwrap_or(0),
            Panel::Given => run.given.lock().map(|g| g.len()).unwrap_or(0),
            Panel::Error => run.error.as_ref().map_or(0, |e| e.lines().count()),
            Panel::Result => run.result.as_ref().map_or(0, |r| r.lines().count().max(1)),
        }
    }

    /// The focused panel, or the first one with content.
    pub fn focused(&self) -> Option<Panel> {
        self.focus.or_else(|| self.active_panels().first().copied())
    }

    pub fn key(&mut self, key: KeyEvent) -> Option<Action> {
        let control = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') if control => {
                return Some(if self.running() {
                    Action::Abort
                } else {
                    Action::Interrupt
                });
            }
            KeyCode::Char('z') if control => return Some(Action::Suspend),
            KeyCode::Char('r') => return Some(Action::Rerun),
            KeyCode::Char('a') if self.running() => return Some(Action::Abort),
            KeyCode::Char('c') => return Some(Action::Continue),
            KeyCode::Char('q') => return Some(Action::Quit),
            KeyCode::Char('d') => {
                let run = self.shown()?;
                if run.status == Status::Error {
                    return Some(Action::Debug(run.number));
                }
            }
            KeyCode::Char('z') => self.maximized = !self.maximized,
            KeyCode::Char('[') => self.browse(-1),
            KeyCode::Char(']') => self.browse(1),
            KeyCode::Left | KeyCode::BackTab => self.move_focus(-1),
            KeyCode::Right | KeyCode::Tab => self.move_focus(1),
            KeyCode::Up => self.scroll_by(1),
            KeyCode::Down => self.scroll_by(-1),
            KeyCode::PageUp => self.scroll_by(self.page() as isize),
            KeyCode::PageDown => self.scroll_by(-(self.page() as isize)),
            KeyCode::Home => self.scroll_by(isize::MAX / 2),
            KeyCode::End => self.scroll_by(-(isize::MAX / 2)),
            _ => {}
        }
        None
    }

    pub fn mouse(&mut self, mouse: MouseEvent) {
        match mouse.kind {
            MouseEventKind::ScrollUp => self.scroll_by(3),
            MouseEventKind::ScrollDown => self.scroll_by(-3),
            _ => {}
        }
    }

    fn browse(&mut self, step: isize) {
        if self.runs.is_empty() {
            return;
        }
        let last = self.runs.len() - 1;
        let current = self.viewing.unwrap_or(last) as isize;
        let next = (current + step).clamp(0, last as isize) as usize;
        self.viewing = if next == last { None } else { Some(next) };
        self.scroll = [0; 5];
        self.focus = None;
    }

    fn move_focus(&mut self, step: isize) {
        let panels = self.active_panels();
        if panels.is_empty() {
            return;
        }
        let current = self
            .focused()
            .and_then(|f| panels.iter().position(|p| *p == f))
            .unwrap_or(0) as isize;
        let next = (current + step).rem_euclid(panels.len() as isize) as usize;
        self.focus = Some(panels[next]);
    }

    /// Records how many lines a panel shows (by the drawing code).
    pub fn set_visible(&mut self, panel: Panel, lines: usize) {
        self.visible[index(panel)] = lines;
    }

    /// What PgUp/PgDn move: the focused panel's height.
    fn page(&self) -> usize {
        self.focused()
            .map_or(1, |panel| self.visible[index(panel)])
            .max(1)
    }

    fn scroll_by(&mut self, lines: isize) {
        let Some(panel) = self.focused() else { return };
        // Scrolled to the top, the first line is at the top of a full panel.
        let shown = self.visible[index(panel)].max(1);
        let most = self.lines(panel).saturating_sub(shown);
        let slot = &mut self.scroll[index(panel)];
        *slot = (*slot as isize)
            .saturating_add(lines)
            .clamp(0, most as isize) as usize;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::shared;
    use std::sync::{Arc, Mutex};

    pub fn run(number: usize, status: Status, out: &str) -> RunView {
        let stdout = shared(100);
        stdout.lock().unwrap().push(out.as_bytes());
        RunView {
            number,
            signature: "compute(3)".into(),
            status,
            seconds: 0.057,
            started: Instant::now(),
            result: (status == Status::Done).then(|| "42".into()),
            result_kind: None,
            error: (status == Status::Error).then(|| "Traceback\nValueError: x".into()),
            given: Arc::new(Mutex::new(Vec::new())),
            stdout,
            stderr: shared(100),
        }
    }

    fn press(app: &mut App, code: KeyCode) -> Option<Action> {
        app.key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn keys_map_to_actions_and_abort_only_while_running() {
        let mut app = App::default();
        app.update_run(run(1, Status::Running, "a\n"));
        assert_eq!(press(&mut app, KeyCode::Char('a')), Some(Action::Abort));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(app.key(ctrl_c), Some(Action::Abort));
        app.update_run(run(1, Status::Done, "a\n"));
        assert_eq!(press(&mut app, KeyCode::Char('a')), None);
        assert_eq!(app.key(ctrl_c), Some(Action::Interrupt));
        assert_eq!(press(&mut app, KeyCode::Char('c')), Some(Action::Continue));
        assert_eq!(press(&mut app, KeyCode::Char('q')), Some(Action::Quit));
        assert_eq!(press(&mut app, KeyCode::Char('d')), None);
        app.update_run(run(2, Status::Error, ""));
        assert_eq!(press(&mut app, KeyCode::Char('d')), Some(Action::Debug(2)));
    }

    #[test]
    fn focus_moves_among_panels_with_content_and_scroll_is_bounded() {
        let mut app = App::default();
        app.update_run(run(1, Status::Done, "1\n2\n3\n4\n"));
        assert_eq!(app.active_panels(), [Panel::Stdout, Panel::Result]);
        assert_eq!(app.focused(), Some(Panel::Stdout));
        press(&mut app, KeyCode::Up);
        press(&mut app, KeyCode::Up);
        assert_eq!(app.scroll(Panel::Stdout), 2);
        press(&mut app, KeyCode::Home);
        assert_eq!(app.scroll(Panel::Stdout), 3);
        press(&mut app, KeyCode::End);
        assert_eq!(app.scroll(Panel::Stdout), 0);
        press(&mut app, KeyCode::Right);
        assert_eq!(app.focused(), Some(Panel::Result));
        press(&mut app, KeyCode::Tab);
        assert_eq!(app.focused(), Some(Panel::Stdout));
    }

    #[test]
    fn home_puts_the_first_line_at_the_top_of_a_full_panel() {
        let mut app = App::default();
        let lines: String = (0..50).map(|n| format!("{n}\n")).collect();
        app.update_run(run(1, Status::Done, &lines));
        app.set_visible(Panel::Stdout, 10);
        press(&mut app, KeyCode::Home);
        assert_eq!(app.scroll(Panel::Stdout), 40);
        press(&mut app, KeyCode::PageDown);
        assert_eq!(app.scroll(Panel::Stdout), 30);
        press(&mut app, KeyCode::PageUp);
        press(&mut app, KeyCode::PageUp);
        assert_eq!(app.scroll(Panel::Stdout), 40);
    }

    #[test]
    fn the_mouse_wheel_scrolls_and_z_maximises() {
        use crossterm::event::{MouseEvent, MouseEventKind};
        let mut app = App::default();
        let lines: String = (0..50).map(|n| format!("{n}\n")).collect();
        app.update_run(run(1, Status::Done, &lines));
        let wheel = |kind| MouseEvent {
            kind,
            column: 0,
            row: 0,
            modifiers: KeyModifiers::NONE,
        };
        app.mouse(wheel(MouseEventKind::ScrollUp));
        assert_eq!(app.scroll(Panel::Stdout), 3);
        app.mouse(wheel(MouseEventKind::ScrollDown));
        assert_eq!(app.scroll(Panel::Stdout), 0);
        press(&mut app, KeyCode::Char('z'));
        assert!(app.maximized);
    }

    #[test]
    fn history_is_browsed_with_brackets() {
        let mut app = App::default();
        for number in 1..=3 {
            app.update_run(run(number, Status::Done, &format!("run {number}\n")));
        }
        press(&mut app, KeyCode::Char('['));
        assert_eq!(app.shown().map(|r| r.number), Some(2));
        press(&mut app, KeyCode::Char('['));
        press(&mut app, KeyCode::Char('['));
        assert_eq!(app.shown().map(|r| r.number), Some(1));
        press(&mut app, KeyCode::Char(']'));
        press(&mut app, KeyCode::Char(']'));
        assert_eq!(app.viewing, None);
    }
}
