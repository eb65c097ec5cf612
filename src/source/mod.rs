//! The language core: Python source → definitions → the plan that turns one version of a
//! module into the next. Pure Rust (tree-sitter); no interpreter here, so it is fast and
//! unit-tested on strings.

mod diff;
mod parse;

pub use diff::{Op, Path, diff};
pub use parse::{Definition, Kind, ModuleTree, ParseError, parse};
