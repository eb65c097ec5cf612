//! Live patching: which files are watched, and applying their changes to the interpreter.
//!
//! A `Session` (one per process at a time: `start`, `stop`, `start` again) owns the watched
//! files and the watcher thread. Files are registered when their code first runs: the
//! script itself, every module executed from a watched path (seen by an audit hook on
//! `exec`, installed before the program's first import), and modules already loaded at
//! start. Registration keeps the source as it was loaded: the next save is diffed against
//! it. The watcher thread turns a batch of saved files into plans (pure Rust) and applies
//! them holding the GIL; what happened goes to subscribers as `hooks::PatchEvent`s.
#![deny(unsafe_code)]

mod apply;
mod audit_hook;
mod decode;
pub mod filter;
mod held;
pub mod hooks;
pub mod log;
mod plan;
pub mod python;
mod reads;
mod register;
mod report;
mod session;
pub mod watch;

pub use decode::decode_source;
pub use plan::apply_saved_changes;
pub use register::{register_main, watch_file};
pub use session::{Settings, StartError, WatchError, is_watched, start, stop, watch_from_program};
