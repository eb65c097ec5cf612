//! Polling (`--poll`, or when inotify is unavailable or out of watches), through notify.

use std::path::Path;
use std::time::Duration;

use notify::{PollWatcher, RecursiveMode, Watcher};

use super::thread::Watching;
use super::{Message, say};

impl Watching {
    pub(super) fn watch_polling(&mut self, directory: &Path, interval: Duration) {
        if self.poll.is_none() {
            let mailbox = self.mailbox.clone();
            let config = notify::Config::default()
                .with_poll_interval(interval)
                .with_compare_contents(true);
            match PollWatcher::new(
                move |event| {
                    mailbox.send(Message::Polled(event));
                },
                config,
            ) {
                Ok(watcher) => self.poll = Some(watcher),
                Err(err) => {
                    say(&format!("jurigged: cannot poll for changes: {err}"));
                    return;
                }
            }
        }
        if let Some(Err(err)) = self
            .poll
            .as_mut()
            .map(|w| w.watch(directory, RecursiveMode::NonRecursive))
        {
            say(&format!(
                "jurigged: cannot watch {}: {err}",
                directory.display()
            ));
        }
    }
}
