//! `jurigged`: run a Python program in an embedded CPython and hot-patch it on every save.

mod cli;
mod interp;

use jurigged_develoop as develoop;
use jurigged_live as live;
use jurigged_restart as restart;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use interp::{Launch, Target};
use pyo3::Python;

fn main() {
    install_panic_hook();
    let mut os_args = std::env::args_os();
    let own_name = os_args.next().unwrap_or_else(|| OsString::from("jurigged"));
    let cli = match cli::parse(os_args.collect()) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };

    let stdin_tty = std::io::stdin().is_terminal();
    let (target, argv) = choose_target(&cli, &own_name, stdin_tty);
    let own_exe = std::env::current_exe().ok();
    let choice = interp::venv::choose(
        std::env::var_os("VIRTUAL_ENV")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .as_deref(),
        own_exe.as_deref(),
    );
    if let Some(warning) = &choice.warning {
        let _ = writeln!(std::io::stderr(), "{warning}");
    }

    restart::register();
    interp::initialize(&interp::Settings {
        argv: &argv,
        executable: &choice.executable,
        interactive: cli.interactive,
    });
    let orig_argv =
        interp::python_command_line(&choice.executable, &target, &argv, cli.interactive);
    let launch = Launch {
        target,
        interactive: cli.interactive,
        orig_argv,
        loops: cli
            .loop_on
            .iter()
            .map(|name| develoop::LoopName::parse(name, false))
            .chain(
                cli.xloop_on
                    .iter()
                    .map(|name| develoop::LoopName::parse(name, true)),
            )
            .collect(),
    };
    // SAFETY: `initialize` left this thread attached to the interpreter it created.
    let py = unsafe { Python::assume_attached() };
    live::log::print_to_stderr();
    let live = live::Settings {
        watch: &cli.watch,
        debounce: cli.debounce,
        poll: cli.poll,
        verbose: cli.verbose,
    };
    if let Err(err) = live::start(py, &live) {
        let _ = writeln!(std::io::stderr(), "jurigged: {err}");
        interp::finish(interp::Exit {
            code: 2,
            keyboard_interrupt: false,
        });
    }
    let interface = match cli.loop_interface {
        cli::LoopInterface::Rich => "rich",
        cli::LoopInterface::Basic => "basic",
    };
    if let Err(err) = develoop::install(py, cli.dev, interface) {
        err.print(py);
    }
    if let Err(err) = restart::install(py, &cli.restart) {
        err.print(py);
    }
    let script_name = match &launch.target {
        Target::Script(path) => path.file_stem().map(|s| s.to_string_lossy().into_owned()),
        Target::Module(module) => Some(module.clone()),
        _ => None,
    };
    let mut names = vec!["__main__"];
    names.extend(script_name.as_deref());
    if restart::matches_main(&cli.restart, &names) {
        develoop::wrap_main_for_restart();
        // Definitions later saves add to the script are wrapped too.
        let marked = py.import("__main__").and_then(|main| {
            pyo3::types::PyAnyMethods::setattr(main.as_any(), "__hot_restart_wrapped__", true)
        });
        if let Err(err) = marked {
            err.print(py);
        }
    }
    let exit = interp::run(py, &launch);
    interp::finish(exit)
}

/// Decides what runs as `__main__`, and its `sys.argv`.
fn choose_target(cli: &cli::Cli, own_name: &OsString, stdin_tty: bool) -> (Target, Vec<OsString>) {
    let prompt_or_stdin = || {
        if stdin_tty || cli.interactive {
            Target::Repl
        } else {
            Target::Stdin
        }
    };
    if let Some(code) = &cli.command {
        let target = Target::Command(code.clone());
        let argv = interp::program_argv(&target, &cli.args, own_name);
        return (target, argv);
    }
    if let Some(module) = &cli.module {
        let target = match module.split_once(':') {
            Some((module, function)) => Target::Call {
                module: module.to_string(),
                function: function.to_string(),
            },
            None => Target::Module(module.clone()),
        };
        let argv = interp::program_argv(&target, &cli.args, own_name);
        return (target, argv);
    }
    match &cli.script {
        // `jurigged - args`: the program comes from stdin and keeps "-" as argv[0].
        Some(script) if script == "-" => {
            let argv = std::iter::once(script.clone()).chain(cli.args.iter().cloned());
            (prompt_or_stdin(), argv.collect())
        }
        Some(script) => {
            let target = Target::Script(PathBuf::from(script));
            let argv = interp::program_argv(&target, &cli.args, own_name);
            (target, argv)
        }
        None => {
            let target = prompt_or_stdin();
            let argv = interp::program_argv(&target, &cli.args, own_name);
            (target, argv)
        }
    }
}

/// A bug of ours must not greet the user with a Rust backtrace: one line, then exit 70
/// (EX_SOFTWARE).
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        // A full-screen interface must not leave the terminal in raw mode.
        develoop::tui::restore_terminal();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown error".to_string());
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let _ = writeln!(
            std::io::stderr(),
            "jurigged: internal error: {message}{location} (please report this)"
        );
        std::process::exit(70);
    }));
}
