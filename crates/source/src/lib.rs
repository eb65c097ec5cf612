//! The language core: Python source → definitions → the plan that turns one version of a
//! module into the next. Pure Rust (tree-sitter); no interpreter here, so it is fast and
//! unit-tested on strings.

#![forbid(unsafe_code)]

mod changes;
mod diff;
mod encoding;
mod locate;
mod outline;
mod parse;
mod type_defaults;

pub use changes::{Changes, changes};
pub use diff::Op;
pub use encoding::{Decoded, decode};
pub use locate::{locate, mask};
pub use parse::{Definition, Kind, ModuleTree, parse};
