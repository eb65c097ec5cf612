//! A run's output, kept as lines, bounded: a program printing a million lines never makes
//! memory grow without bound. The oldest lines are dropped, and counted, past the limit.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Lines kept per stream unless configured otherwise.
pub const DEFAULT_MAX_LINES: usize = 100_000;

#[derive(Debug)]
pub struct Output {
    lines: VecDeque<String>,
    /// Bytes after the last newline (a line being written).
    partial: Vec<u8>,
    dropped: usize,
    max_lines: usize,
    /// Bumped on every change, so readers know when to redraw.
    generation: u64,
}

/// An output shared between the thread that captures it and the interfaces.
pub type SharedOutput = Arc<Mutex<Output>>;

pub fn shared(max_lines: usize) -> SharedOutput {
    Arc::new(Mutex::new(Output::new(max_lines)))
}

impl Output {
    pub fn new(max_lines: usize) -> Output {
        Output {
            lines: VecDeque::new(),
            partial: Vec::new(),
            dropped: 0,
            max_lines: max_lines.max(1),
            generation: 0,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.generation += 1;
        let mut rest = bytes;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&rest[..newline]);
            let line = std::mem::take(&mut self.partial);
            let mut text = String::from_utf8_lossy(&line).into_owned();
            if text.ends_with('\r') {
                text.pop();
            }
            self.lines.push_back(text);
            if self.lines.len() > self.max_lines {
                self.lines.pop_front();
                self.dropped += 1;
            }
            rest = &rest[newline + 1..];
        }
        self.partial.extend_from_slice(rest);
    }

    /// Number of lines (the partial line counts).
    pub fn count(&self) -> usize {
        self.lines.len() + usize::from(!self.partial.is_empty())
    }

    pub fn dropped(&self) -> usize {
        self.dropped
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Lines `start..end` (the partial line last), as text.
    pub fn lines(&self, start: usize, end: usize) -> Vec<String> {
        let end = end.min(self.count());
        (start..end)
            .map(|index| match self.lines.get(index) {
                Some(line) => line.clone(),
                None => String::from_utf8_lossy(&self.partial).into_owned(),
            })
            .collect()
    }

    /// Everything, as one string.
    pub fn text(&self) -> String {
        let mut text = self.lines(0, self.count()).join("\n");
        if self.partial.is_empty() && !self.lines.is_empty() {
            text.push('\n');
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_writes() {
        let mut output = Output::new(10);
        output.push(b"hel");
        output.push(b"lo\nwor");
        assert_eq!(output.lines(0, 5), ["hello", "wor"]);
        output.push(b"ld\r\n");
        assert_eq!(output.text(), "hello\nworld\n");
    }

    #[test]
    fn old_lines_are_dropped_past_the_limit() {
        let mut output = Output::new(3);
        for n in 0..10 {
            output.push(format!("line {n}\n").as_bytes());
        }
        assert_eq!(output.count(), 3);
        assert_eq!(output.dropped(), 7);
        assert_eq!(output.lines(0, 3), ["line 7", "line 8", "line 9"]);
    }
}
