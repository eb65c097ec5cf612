//! Live patching: which files are watched, and applying their changes to the interpreter.

pub mod filter;
