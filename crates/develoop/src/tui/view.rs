//! Drawing the rich interface: header, status line, stacked panels, footer.

use ansi_to_tui::IntoText;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Wrap};

use super::super::format::duration;
use super::super::runner::Status;
use super::state::{App, Panel, RunView};

const SPARKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

pub fn draw(frame: &mut Frame, app: &mut App) {
    let area = frame.area();
    let status_height = u16::from(app.status.is_some());
    let [header, status, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(status_height),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(header_line(app)), header);
    if let Some((text, is_error)) = &app.status {
        let color = if *is_error { Color::Red } else { Color::Green };
        let first = text.lines().next().unwrap_or_default().to_string();
        frame.render_widget(
            Paragraph::new(Line::styled(first, Style::default().fg(color))),
            status,
        );
    }
    app.width = area.width;
    draw_panels(frame, app, body);
    frame.render_widget(Paragraph::new(footer_line(app)), footer);
}

fn header_line(app: &App) -> Line<'static> {
    let Some(run) = app.shown() else {
        return Line::from("Looping on: …");
    };
    let mut spans = vec![
        Span::raw("Looping on: "),
        Span::styled(
            run.signature.clone(),
            Style::default().add_modifier(Modifier::BOLD),
        ),
    ];
    if let Some(index) = app.viewing {
        spans.push(Span::styled(
            format!(
                "   (run #{} of {}; ] for the latest)",
                app.runs[index].number,
                app.runs.len()
            ),
            Style::default().fg(Color::Yellow),
        ));
    }
    Line::from(spans)
}

fn footer_line(app: &App) -> Line<'static> {
    let Some(run) = app.shown() else {
        return Line::from("");
    };
    let state = match run.status {
        Status::Running => match run.started.elapsed().as_secs_f64() {
            // The first second is not worth a moving number.
            elapsed if elapsed < 1.0 => "running".to_string(),
            elapsed => format!("running {}", duration(elapsed)),
        },
        status => format!(
            "{} in {}",
            match status {
                Status::Done => "done",
                Status::Error => "error",
                _ => "aborted",
            },
            duration(run.seconds)
        ),
    };
    let color = match run.status {
        Status::Running => Color::Yellow,
        Status::Done => Color::Green,
        Status::Error => Color::Red,
        Status::Aborted => Color::Magenta,
    };
    let mut spans = vec![Span::styled(
        format!("#{} ({state})", run.number),
        Style::default().fg(color),
    )];
    let mut keys = vec!["(c)ontinue", "(r)erun"];
    if app.running() {
        keys.push("(a)bort");
    }
    keys.push("(q)uit");
    if run.status == Status::Error {
        keys.push("(d)ebug");
    }
    if app.width < 60 {
        // Narrow: the keys alone.
        let letters: Vec<&str> = keys.iter().map(|k| &k[1..2]).collect();
        spans.push(Span::raw(format!(" | {}", letters.join(" "))));
    } else {
        spans.push(Span::raw(format!(" | {}", keys.join(" | "))));
    }
    let sparkline = sparkline(&app.runs);
    if !sparkline.is_empty() {
        spans.push(Span::styled(
            format!("  {sparkline}"),
            Style::default().fg(Color::Cyan),
        ));
    }
    Line::from(spans)
}

/// Durations of the last finished runs, as block characters.
fn sparkline(runs: &[RunView]) -> String {
    let recent: Vec<f64> = runs
        .iter()
        .filter(|r| r.status != Status::Running)
        .map(|r| r.seconds)
        .collect();
    let recent = &recent[recent.len().saturating_sub(20)..];
    if recent.len() < 2 {
        return String::new();
    }
    let top = recent.iter().cloned().fold(f64::MIN, f64::max).max(1e-9);
    recent
        .iter()
        .map(|s| SPARKS[((s / top) * 7.0).round().clamp(0.0, 7.0) as usize])
        .collect()
}

/// Heights: each non-empty panel gets an equal share or its length if smaller; what is
/// left goes to the longest.
pub fn heights(total: u16, lengths: &[usize]) -> Vec<u16> {
    if lengths.is_empty() {
        return Vec::new();
    }
    let share = total / lengths.len() as u16;
    let mut heights: Vec<u16> = lengths
        .iter()
        .map(|len| share.min((*len as u16).saturating_add(2)))
        .collect();
    let used: u16 = heights.iter().sum();
    let longest = lengths
        .iter()
        .enumerate()
        .max_by_key(|(index, len)| (**len, usize::MAX - index))
        .map(|(index, _)| index)
        .unwrap_or(0);
    heights[longest] += total.saturating_sub(used);
    heights
}

fn draw_panels(frame: &mut Frame, app: &mut App, area: Rect) {
    if app.shown().is_none() {
        return;
    }
    let mut panels = app.active_panels();
    let focused = app.focused();
    if app.maximized
        && let Some(focus) = focused
    {
        panels = vec![focus];
    }
    // On a small screen, panels too low to show a line give way, least useful first.
    while panels.len() > 1 && (area.height as usize) < 3 * panels.len() {
        let priority = |panel: &Panel| match panel {
            _ if Some(*panel) == focused => 0,
            Panel::Error => 1,
            Panel::Result => 2,
            Panel::Stdout => 3,
            Panel::Stderr => 4,
            Panel::Given => 5,
        };
        let least = panels
            .iter()
            .enumerate()
            .max_by_key(|(_, p)| priority(p))
            .map(|(i, _)| i);
        if let Some(index) = least {
            panels.remove(index);
        }
    }
    let lengths: Vec<usize> = panels.iter().map(|p| app.lines(*p)).collect();
    let heights = heights(area.height, &lengths);
    app.visible = [0; 5];
    for (panel, height) in panels.iter().zip(&heights) {
        // Inside the borders.
        app.set_visible(*panel, height.saturating_sub(2) as usize);
    }
    let Some(run) = app.shown() else { return };
    let app = &*app;
    let mut y = area.y;
    for (panel, height) in panels.iter().zip(heights) {
        let rect = Rect::new(area.x, y, area.width, height);
        y += height;
        if height == 0 {
            continue;
        }
        draw_panel(frame, app, run, *panel, focused == Some(*panel), rect);
    }
}

fn panel_color(panel: Panel) -> Color {
    match panel {
        Panel::Stderr | Panel::Error => Color::Red,
        Panel::Result => Color::Cyan,
        _ => Color::Yellow,
    }
}

fn draw_panel(
    frame: &mut Frame,
    app: &App,
    run: &RunView,
    panel: Panel,
    focused: bool,
    rect: Rect,
) {
    let color = panel_color(panel);
    let mut title = Style::default();
    let mut border = Style::default().fg(Color::DarkGray);
    if focused {
        title = title.add_modifier(Modifier::BOLD).fg(color);
        border = Style::default().fg(color).add_modifier(Modifier::BOLD);
    }
    let total = app.lines(panel);
    let scroll = app.scroll(panel);
    let mut heading = panel.title().to_string();
    if let (Panel::Result, Some(kind)) = (panel, &run.result_kind) {
        // An `async def` awaited, a generator driven: `result (awaited)`.
        heading = format!("{heading} ({kind})");
    }
    let mut name = format!(" {heading} ");
    if scroll > 0 {
        name = format!(" {heading} (↑{scroll}) ");
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(border)
        .title(Span::styled(name, title));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    // Only the lines that can be seen are formatted: a million lines cost nothing here.
    let end = total.saturating_sub(scroll);
    let start = end.saturating_sub(inner.height as usize);
    let mut lines = panel_lines(run, panel, start, end);
    if panel == Panel::Stdout || panel == Panel::Stderr {
        let output = if panel == Panel::Stdout {
            &run.stdout
        } else {
            &run.stderr
        };
        let dropped = output.lock().map(|o| o.dropped()).unwrap_or(0);
        if start == 0 && dropped > 0 {
            lines.insert(
                0,
                Line::styled(
                    format!("… {dropped} earlier lines dropped"),
                    Style::default().fg(Color::DarkGray),
                ),
            );
        }
    }
    let rows: usize = lines
        .iter()
        .map(|line| line.width().max(1).div_ceil(inner.width as usize))
        .sum();
    let skip = rows.saturating_sub(inner.height as usize) as u16;
    let text = Text::from(lines);
    let paragraph = Paragraph::new(text)
        .wrap(Wrap { trim: false })
        .scroll((skip, 0));
    let paragraph = match panel {
        Panel::Stderr | Panel::Error => paragraph.style(Style::default().fg(Color::Red)),
        Panel::Result => paragraph.style(Style::default().fg(Color::Cyan)),
        _ => paragraph,
    };
    frame.render_widget(paragraph, inner);
}

fn panel_lines(run: &RunView, panel: Panel, start: usize, end: usize) -> Vec<Line<'static>> {
    match panel {
        Panel::Stdout | Panel::Stderr => {
            let output = if panel == Panel::Stdout {
                &run.stdout
            } else {
                &run.stderr
            };
            let raw = output
                .lock()
                .map(|o| o.lines(start, end))
                .unwrap_or_default();
            raw.iter().map(|line| ansi_line(line)).collect()
        }
        Panel::Given => {
            let given = run.given.lock().map(|g| g.clone()).unwrap_or_default();
            let width = given
                .iter()
                .map(|(k, _)| k.chars().count())
                .max()
                .unwrap_or(0);
            given[start.min(given.len())..end.min(given.len())]
                .iter()
                .map(|(key, value)| {
                    Line::from(vec![
                        Span::styled(
                            format!("{key:width$}  "),
                            Style::default()
                                .fg(Color::Green)
                                .add_modifier(Modifier::BOLD),
                        ),
                        Span::raw(value.clone()),
                    ])
                })
                .collect()
        }
        Panel::Error => text_lines(run.error.as_deref().unwrap_or(""), start, end),
        Panel::Result => text_lines(run.result.as_deref().unwrap_or(""), start, end),
    }
}

fn text_lines(text: &str, start: usize, end: usize) -> Vec<Line<'static>> {
    text.lines()
        .skip(start)
        .take(end.saturating_sub(start))
        .map(ansi_line)
        .collect()
}

/// A line that may hold ANSI colour, as styled spans.
fn ansi_line(line: &str) -> Line<'static> {
    let text = line.replace('\t', "    ");
    match text.as_bytes().into_text() {
        Ok(parsed) => parsed.lines.into_iter().next().unwrap_or_default(),
        Err(_) => Line::from(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::shared;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    fn run(number: usize, status: Status, stdout: &str) -> RunView {
        let out = shared(1000);
        out.lock().unwrap().push(stdout.as_bytes());
        RunView {
            number,
            signature: "compute(3, 'text')".into(),
            status,
            seconds: 0.057,
            started: Instant::now(),
            result: (status == Status::Done).then(|| "{'total': 42,\n 'items': [1, 2, 3]}".into()),
            result_kind: None,
            error: (status == Status::Error).then(|| {
                "Traceback (most recent call last):\n  File \"/app.py\", line 3, in compute\n    return 1 / 0\nZeroDivisionError: division by zero".into()
            }),
            given: Arc::new(Mutex::new(Vec::new())),
            stdout: out,
            stderr: shared(1000),
        }
    }

    fn render(app: &mut App, width: u16, height: u16) -> Terminal<TestBackend> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| draw(frame, app)).unwrap();
        terminal
    }

    fn snapshot(name: &str, app: &mut App, width: u16, height: u16) -> Terminal<TestBackend> {
        let terminal = render(app, width, height);
        insta::with_settings!({snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"), prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(name, terminal.backend());
        });
        terminal
    }

    fn press(app: &mut App, code: KeyCode) {
        app.key(KeyEvent::new(code, KeyModifiers::NONE));
    }

    #[test]
    fn screen_initial() {
        snapshot("initial", &mut App::default(), 60, 8);
    }

    #[test]
    fn screen_running_shows_output_and_abort() {
        let mut app = App::default();
        app.update_run(run(1, Status::Running, "step 1\nstep 2\npartial"));
        snapshot("running", &mut app, 60, 10);
    }

    #[test]
    fn screen_result() {
        let mut app = App::default();
        app.update_run(run(1, Status::Done, "computing\n"));
        snapshot("result", &mut app, 60, 12);
    }

    #[test]
    fn screen_error_and_stderr() {
        let mut app = App::default();
        let errored = run(2, Status::Error, "");
        errored.stderr.lock().unwrap().push(b"warning: careful\n");
        app.update_run(errored);
        app.status = Some(("app.py:3: ZeroDivisionError: division by zero".into(), true));
        let terminal = snapshot("error", &mut app, 60, 14);
        let cell = &terminal.backend().buffer()[(1, 9)];
        assert_eq!(cell.fg, Color::Red, "the error panel is red");
    }

    #[test]
    fn screen_given() {
        let mut app = App::default();
        let given = run(1, Status::Done, "");
        given
            .given
            .lock()
            .unwrap()
            .extend([("total".into(), "42".into()), ("n".into(), "3".into())]);
        app.update_run(given);
        snapshot("given", &mut app, 60, 12);
    }

    #[test]
    fn screen_focus_moves_to_the_result() {
        let mut app = App::default();
        app.update_run(run(1, Status::Done, "a\nb\n"));
        press(&mut app, KeyCode::Right);
        snapshot("focus", &mut app, 60, 12);
    }

    #[test]
    fn screen_scrolled_up() {
        let mut app = App::default();
        let lines: String = (1..=40).map(|n| format!("line {n}\n")).collect();
        app.update_run(run(1, Status::Done, &lines));
        for _ in 0..5 {
            press(&mut app, KeyCode::Up);
        }
        snapshot("scrolled", &mut app, 60, 12);
    }

    #[test]
    fn screen_history() {
        let mut app = App::default();
        for number in 1..=3 {
            let mut finished = run(number, Status::Done, &format!("run {number}\n"));
            finished.seconds = 0.01 * number as f64;
            app.update_run(finished);
        }
        press(&mut app, KeyCode::Char('['));
        snapshot("history", &mut app, 70, 10);
    }

    #[test]
    fn screen_maximised() {
        let mut app = App::default();
        app.update_run(run(1, Status::Done, "only stdout\n"));
        press(&mut app, KeyCode::Char('z'));
        snapshot("maximised", &mut app, 60, 8);
    }

    #[test]
    fn screen_small_terminal() {
        let mut app = App::default();
        let lines: String = (1..=100)
            .map(|n| format!("a longer line number {n} that wraps\n"))
            .collect();
        let errored = run(1, Status::Error, &lines);
        errored
            .given
            .lock()
            .unwrap()
            .push(("key".into(), "value".into()));
        app.update_run(errored);
        snapshot("small_40x10", &mut app, 40, 10);
        for (width, height) in [(1, 1), (10, 3), (40, 2), (200, 60)] {
            render(&mut app, width, height);
        }
    }

    #[test]
    fn screen_wide_characters() {
        let mut app = App::default();
        app.update_run(run(
            1,
            Status::Done,
            "日本語のテキスト 🐍 snake\nemoji 🎉🎉🎉 party\n",
        ));
        snapshot("wide_characters", &mut app, 40, 10);
    }

    #[test]
    fn screen_ansi_colours() {
        let mut app = App::default();
        app.update_run(run(
            1,
            Status::Done,
            "\x1b[32mgreen\x1b[0m and \x1b[1;31mbold red\x1b[0m\n",
        ));
        let terminal = snapshot("ansi_colours", &mut app, 50, 10);
        let buffer = terminal.backend().buffer();
        assert_eq!(buffer[(1, 2)].fg, Color::Green, "captured colour is shown");
        assert_eq!(buffer[(11, 2)].fg, Color::Red);
        assert!(buffer[(11, 2)].modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn a_million_lines_draw_only_what_shows() {
        let mut app = App::default();
        let big = run(1, Status::Running, "");
        {
            let mut out = big.stdout.lock().unwrap();
            for n in 0..200_000 {
                out.push(format!("line {n}\n").as_bytes());
            }
        }
        app.update_run(big);
        let terminal = render(&mut app, 80, 24);
        let screen = format!("{}", terminal.backend());
        assert!(screen.contains("line 199999"), "{screen}");
        assert!(!screen.contains("line 0 "), "{screen}");
    }

    #[test]
    fn heights_share_and_give_the_rest_to_the_longest() {
        assert_eq!(heights(20, &[100, 1]), vec![17, 3]);
        assert_eq!(heights(20, &[2, 3]), vec![4, 16]);
        assert_eq!(heights(7, &[1, 1, 1]), vec![3, 2, 2]);
        assert!(heights(5, &[]).is_empty());
    }
}
