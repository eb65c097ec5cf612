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
    app.page = body.height.saturating_sub(2) as usize;
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
        Status::Running => format!("running {}", duration(run.started.elapsed().as_secs_f64())),
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
    let mut spans = vec![
        Span::styled(
            format!("#{} ({state})", run.number),
            Style::default().fg(color),
        ),
        Span::raw(" | (c)ontinue | (r)erun"),
    ];
    if app.running() {
        spans.push(Span::raw(" | (a)bort"));
    }
    spans.push(Span::raw(" | (q)uit"));
    if run.status == Status::Error {
        spans.push(Span::raw(" | (d)ebug"));
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

fn draw_panels(frame: &mut Frame, app: &App, area: Rect) {
    let Some(run) = app.shown() else { return };
    let mut panels = app.active_panels();
    let focused = app.focused();
    if app.maximized
        && let Some(focus) = focused
    {
        panels = vec![focus];
    }
    let lengths: Vec<usize> = panels.iter().map(|p| app.lines(*p)).collect();
    let heights = heights(area.height, &lengths);
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
    let mut name = format!(" {} ", panel.title());
    if scroll > 0 {
        name = format!(" {} (↑{scroll}) ", panel.title());
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

    #[test]
    fn heights_share_and_give_the_rest_to_the_longest() {
        assert_eq!(heights(20, &[100, 1]), vec![17, 3]);
        assert_eq!(heights(20, &[2, 3]), vec![4, 16]);
        assert_eq!(heights(7, &[1, 1, 1]), vec![3, 2, 2]);
        assert!(heights(5, &[]).is_empty());
    }
}
