//! `jurigged`: run a Python program in an embedded CPython and hot-patch it on every save.

#![deny(unsafe_code)]

mod cli;
mod failure;
mod interp;

use jurigged_develoop as develoop;
use jurigged_live as live;
use jurigged_restart as restart;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;

use failure::Failure;
use interp::{Exit, Interpreter, Launch, Settings, Target};
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
    if let Some(refused) = &choice.refused {
        failure::warn(refused);
    }

    restart::register();
    let settings = Settings {
        argv: &argv,
        executable: &choice.executable,
        interactive: cli.interactive,
    };
    let interpreter = match Interpreter::start(&settings) {
        Ok(interpreter) => interpreter,
        Err(err) => end(Failure::from(err).report()),
    };
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
    let exit = match start_services(interpreter.python(), &cli, &launch.target) {
        Ok(()) => interpreter.run(&launch),
        Err(failure) => failure.report(),
    };
    end(interpreter.finish(exit))
}

/// Starts live patching, then the develoop and hot restart, which follow it.
fn start_services(py: Python<'_>, cli: &cli::Cli, target: &Target) -> Result<(), Failure> {
    live::log::print_to_stderr();
    let live = live::Settings {
        watch: &cli.watch,
        debounce: cli.debounce,
        poll: cli.poll,
        verbose: cli.verbose,
    };
    live::start(py, &live).map_err(|err| Failure::Watch(err.to_string()))?;
    let interface = match cli.loop_interface {
        cli::LoopInterface::Rich => "rich",
        cli::LoopInterface::Basic => "basic",
    };
    // Both are the program's conveniences: if one cannot install, the program still runs.
    if let Err(err) = develoop::install(py, cli.dev, interface) {
        err.print(py);
    }
    let main_name = match target {
        Target::Script(path) => path.file_stem().map(|s| s.to_string_lossy().into_owned()),
        Target::Module(module) => Some(module.clone()),
        _ => None,
    };
    if let Err(err) = restart::install(py, &cli.restart, main_name.as_deref()) {
        err.print(py);
    }
    Ok(())
}

/// Ends the process with `exit`'s status, or by SIGINT after an uncaught KeyboardInterrupt
/// as python does.
fn end(exit: Exit) -> ! {
    if exit.keyboard_interrupt {
        interp::die_by_sigint();
    }
    std::process::exit(exit.code)
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
        failure::warn(format_args!(
            "internal error: {message}{location} (please report this)"
        ));
        std::process::exit(70);
    }));
}
