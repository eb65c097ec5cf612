//! The interactive prompt on a real terminal: `jurigged` alone and `-i` after a script.

mod common;

use common::pty::Session;
use common::{corpus, jurigged};

#[test]
fn bare_jurigged_is_a_python_prompt() {
    let dir = corpus();
    let mut session = Session::spawn(&jurigged(), &[], dir.path(), &[]);
    let banner = session.expect(">>> ");
    assert!(
        banner.contains(&format!("Python {}", env!("JURIGGED_PYTHON_VERSION"))),
        "{banner}"
    );
    assert!(banner.contains("Type \"help\""), "{banner}");
    session.send("import sys; sys.argv, __name__\r");
    session.expect("([''], '__main__')");
    // Modules next to the current directory import, as in python's REPL.
    session.send("import argv\r");
    session.expect("name: argv");
    session.send("exit(3)\r");
    assert_eq!(session.wait(), 3);
}

#[test]
fn ctrl_c_at_the_prompt_and_ctrl_d_to_leave() {
    let dir = corpus();
    let mut session = Session::spawn(&jurigged(), &[], dir.path(), &[]);
    session.expect(">>> ");
    session.send("while True: pass\r\r");
    std::thread::sleep(std::time::Duration::from_millis(300));
    session.send("\x03");
    session.expect("KeyboardInterrupt");
    session.send("6 * 7\r");
    session.expect("42");
    session.expect(">>> ");
    session.send("\x04");
    assert_eq!(session.wait(), 0);
}

#[test]
fn interactive_after_script_keeps_its_globals() {
    let dir = corpus();
    let mut session = Session::spawn(&jurigged(), &["-i", "interactive.py"], dir.path(), &[]);
    let before = session.expect(">>> ");
    assert!(before.contains("script ran, x = 21"), "{before}");
    assert!(
        !before.contains("Type \"help\""),
        "no banner after a script: {before}"
    );
    session.send("x * 2\r");
    session.expect("42");
    session.send("exit()\r");
    assert_eq!(session.wait(), 0);
}

#[test]
fn pythonstartup_runs_before_the_bare_prompt() {
    let dir = corpus();
    let startup = dir.path().join("startup.py");
    std::fs::write(&startup, "greeting = 'from PYTHONSTARTUP'\n").unwrap();
    let startup = startup.display().to_string();
    let mut session = Session::spawn(
        &jurigged(),
        &[],
        dir.path(),
        &[("PYTHONSTARTUP", startup.as_str())],
    );
    session.expect(">>> ");
    session.send("greeting\r");
    session.expect("'from PYTHONSTARTUP'");
    session.expect(">>> ");
    session.send("\x04");
    assert_eq!(session.wait(), 0);
}

#[test]
fn program_setting_pythoninspect_gets_a_prompt_at_a_terminal() {
    let dir = corpus();
    std::fs::write(
        dir.path().join("asks.py"),
        "import os\nos.environ['PYTHONINSPECT'] = '1'\nvalue = 5\nraise ValueError('boom')\n",
    )
    .unwrap();
    let mut session = Session::spawn(&jurigged(), &["asks.py"], dir.path(), &[]);
    let before = session.expect(">>> ");
    assert!(before.contains("ValueError: boom"), "{before}");
    session.send("value * 2\r");
    session.expect("10");
    session.expect(">>> ");
    session.send("\x04");
    assert_eq!(session.wait(), 0);
}

#[test]
fn system_exit_ends_the_program_even_if_it_asked_for_a_prompt() {
    let dir = corpus();
    std::fs::write(
        dir.path().join("asks_then_exits.py"),
        "import os, sys\nos.environ['PYTHONINSPECT'] = '1'\nsys.exit(4)\n",
    )
    .unwrap();
    let mut session = Session::spawn(&jurigged(), &["asks_then_exits.py"], dir.path(), &[]);
    assert_eq!(session.wait(), 4);
    assert!(
        !session.transcript().contains(">>>"),
        "{}",
        session.transcript()
    );
}
