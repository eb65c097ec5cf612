//! The command line: jurigged 0.6's options, then the program and its arguments.
//!
//! Options come before the program; everything after the script (or after `-m MODULE`)
//! belongs to the program, even when it looks like one of our options. clap cannot express
//! "everything after the first positional, or after `-m X`" without swallowing `--`, so the
//! argument list is split first and clap only parses our part.

use std::ffi::OsString;

use clap::{Parser, ValueEnum};

/// Which develoop interface to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LoopInterface {
    Rich,
    Basic,
}

#[derive(Parser, Debug)]
#[command(
    name = "jurigged",
    version = version_line(),
    about = "Run a Python program and hot-patch its code whenever a watched file is saved.",
    override_usage = "jurigged [OPTIONS] [SCRIPT [ARGS]...]\n       jurigged [OPTIONS] -m MODULE[:FUNCTION] [ARGS]...\n       jurigged [OPTIONS] -c CODE [ARGS]...",
    args_override_self = true,
    after_help = "Everything after SCRIPT or after -m MODULE is passed to the program.\n\
                  Without SCRIPT, -m or -c, jurigged starts an interactive Python prompt."
)]
pub struct Cli {
    /// Start an interactive prompt after the program ends, in its namespace
    #[arg(short = 'i', long)]
    pub interactive: bool,

    /// Watch PATH: a directory, a file or a glob (repeatable; default: the current directory)
    #[arg(short = 'w', long = "watch", value_name = "PATH")]
    pub watch: Vec<String>,

    /// Apply changes only after no watched file changed for SECONDS (0: at once). Default:
    /// as soon as every saved file is complete (a few ms), at most 0.05 s when polling
    #[arg(short = 'd', long, value_name = "SECONDS", value_parser = seconds)]
    pub debounce: Option<f64>,

    /// Poll for changes every SECONDS instead of using file system events
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    pub poll: Option<f64>,

    /// Run MODULE as __main__ like `python -m`, or import MODULE and call FUNCTION
    #[arg(short = 'm', value_name = "MODULE[:FUNCTION]")]
    pub module: Option<String>,

    /// Run CODE as __main__ like `python -c` (the modules it imports are patched live)
    #[arg(short = 'c', value_name = "CODE", conflicts_with = "module")]
    pub command: Option<OsString>,

    /// Re-run function NAME on every save (fn, Class.method, module:fn) (repeatable)
    #[arg(short = 'l', long = "loop", value_name = "NAME")]
    pub loop_on: Vec<String>,

    /// Like --loop, but enter the loop only when NAME raises (repeatable)
    #[arg(short = 'x', long = "xloop", value_name = "NAME")]
    pub xloop_on: Vec<String>,

    /// Interface of the develoop
    #[arg(long, value_enum, value_name = "INTERFACE", default_value_t = LoopInterface::Rich)]
    pub loop_interface: LoopInterface,

    /// Print one line per change applied (Watch, Update, Add, Run, Delete)
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Put the develoop helpers `__` (loop, xloop, give) in builtins
    #[arg(long)]
    pub dev: bool,

    /// Hot restart: wrap the functions and classes of watched modules matching PATTERN
    /// (`__main__` or the script's name for the script) so a crash opens the debugger and
    /// `c` runs the function again (repeatable)
    #[arg(long = "restart", value_name = "PATTERN")]
    pub restart: Vec<String>,

    /// The Python script to run (`-` reads it from standard input)
    #[arg(value_name = "SCRIPT")]
    pub script: Option<OsString>,

    /// Arguments given to the program as sys.argv[1:]
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<OsString>,
}

fn version_line() -> &'static str {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (Python ",
        env!("JURIGGED_PYTHON_VERSION"),
        ")"
    )
}

fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 => Ok(value),
        _ => Err(format!(
            "expected a number of seconds (0 or more), got '{text}'"
        )),
    }
}

/// Options that take a value, by their short and long spellings.
const SHORT_WITH_VALUE: &[char] = &['w', 'd', 'l', 'x'];
const LONG_WITH_VALUE: &[&str] = &[
    "--watch",
    "--debounce",
    "--poll",
    "--loop",
    "--xloop",
    "--loop-interface",
    "--restart",
];

/// Parses the arguments after the program name. On `--help`, `--version` or a usage error
/// this returns clap's error, which knows how to print itself and which exit code to use.
pub fn parse(args: Vec<OsString>) -> Result<Cli, clap::Error> {
    let (ours, program_args) = split_program_args(args);
    let mut cli = Cli::try_parse_from(std::iter::once(OsString::from("jurigged")).chain(ours))?;
    cli.args = program_args;
    Ok(cli)
}

/// Splits `args` into our options (including `-m MODULE`, `-c CODE` or `SCRIPT`) and the
/// program's arguments, which start right after the script, `-m MODULE` or `-c CODE`.
fn split_program_args(args: Vec<OsString>) -> (Vec<OsString>, Vec<OsString>) {
    let mut ours = Vec::new();
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        let text = arg.to_string_lossy().into_owned();
        if text == "--" {
            // `jurigged -- -odd-name.py args`: the next argument is the script.
            ours.push(arg);
            ours.extend(iter.next());
            break;
        }
        if let Some(long) = text.strip_prefix("--") {
            let takes_value = !long.contains('=') && LONG_WITH_VALUE.contains(&text.as_str());
            ours.push(arg);
            if takes_value {
                ours.extend(iter.next());
            }
            continue;
        }
        if text.len() > 1 && text.starts_with('-') {
            // A cluster of short options such as `-iv`, `-wsrc`, `-mpkg.mod` or `-c'code'`.
            let mut chars = text[1..].char_indices();
            let mut ends_program = false;
            let mut takes_value = false;
            for (index, flag) in chars.by_ref() {
                let attached = &text[1 + index + flag.len_utf8()..];
                if flag == 'm' || flag == 'c' {
                    ends_program = true;
                    takes_value = attached.is_empty();
                    break;
                }
                if SHORT_WITH_VALUE.contains(&flag) {
                    takes_value = attached.is_empty();
                    break;
                }
            }
            ours.push(arg);
            if takes_value {
                ours.extend(iter.next());
            }
            if ends_program {
                break;
            }
            continue;
        }
        // The first positional argument is the script; the rest is the program's.
        ours.push(arg);
        break;
    }
    (ours, iter.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(args: &[&str]) -> (Vec<String>, Vec<String>) {
        let (ours, rest) = split_program_args(args.iter().map(OsString::from).collect());
        let strings = |v: Vec<OsString>| v.into_iter().map(|s| s.into_string().unwrap()).collect();
        (strings(ours), strings(rest))
    }

    #[test]
    fn script_arguments_belong_to_the_script() {
        let (ours, rest) = split(&["-v", "-w", "src", "app.py", "-v", "--loop", "x"]);
        assert_eq!(ours, ["-v", "-w", "src", "app.py"]);
        assert_eq!(rest, ["-v", "--loop", "x"]);
    }

    #[test]
    fn module_ends_our_options() {
        let (ours, rest) = split(&["-i", "-m", "pkg.tool", "-i", "x"]);
        assert_eq!(ours, ["-i", "-m", "pkg.tool"]);
        assert_eq!(rest, ["-i", "x"]);
        let (ours, rest) = split(&["-vmpkg", "a"]);
        assert_eq!(ours, ["-vmpkg"]);
        assert_eq!(rest, ["a"]);
    }

    #[test]
    fn code_ends_our_options() {
        let (ours, rest) = split(&["-v", "-c", "import sys", "-v", "x.py"]);
        assert_eq!(ours, ["-v", "-c", "import sys"]);
        assert_eq!(rest, ["-v", "x.py"]);
        let (ours, rest) = split(&["-ic", "print(1)", "a"]);
        assert_eq!(ours, ["-ic", "print(1)"]);
        assert_eq!(rest, ["a"]);
        let cli = parse(["-c", "pass", "-m", "x"].map(OsString::from).to_vec()).unwrap();
        assert_eq!(cli.command.as_deref(), Some("pass".as_ref()));
        assert_eq!(cli.module, None);
        assert_eq!(cli.args, ["-m", "x"]);
    }

    #[test]
    fn option_values_are_not_scripts() {
        let (ours, rest) = split(&["--debounce", "0.2", "--watch=src", "-d0", "s.py", "a"]);
        assert_eq!(ours, ["--debounce", "0.2", "--watch=src", "-d0", "s.py"]);
        assert_eq!(rest, ["a"]);
    }

    #[test]
    fn double_dash_introduces_the_script() {
        let (ours, rest) = split(&["-v", "--", "-weird.py", "--", "x"]);
        assert_eq!(ours, ["-v", "--", "-weird.py"]);
        assert_eq!(rest, ["--", "x"]);
    }

    #[test]
    fn parse_keeps_program_args_verbatim() {
        let cli = parse(["s.py", "--help", "-m", "x"].map(OsString::from).to_vec()).unwrap();
        assert_eq!(cli.script.as_deref(), Some("s.py".as_ref()));
        assert_eq!(cli.args, ["--help", "-m", "x"]);
        assert_eq!(cli.debounce, None);
    }

    #[test]
    fn repeated_options_accumulate_or_repeat() {
        let args = [
            "-v", "-v", "-w", "a", "--watch", "b", "-d", "1", "-d", "2", "s.py",
        ];
        let cli = parse(args.map(OsString::from).to_vec()).unwrap();
        assert!(cli.verbose);
        assert_eq!(cli.watch, ["a", "b"]);
        assert_eq!(cli.debounce, Some(2.0));
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for args in [
            &["-d", "soon"][..],
            &["--poll", "-1"],
            &["--loop-interface", "fancy"],
        ] {
            let err = parse(args.iter().map(OsString::from).collect()).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }
}
