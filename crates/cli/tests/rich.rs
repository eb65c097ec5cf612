//! The rich develoop interface in a real pseudo-terminal, read through a terminal emulator
//! (vt100): the screen, keys, saves, resizing, and the terminal given back on every exit.

mod common;

use std::path::Path;
use std::time::Duration;

use common::jurigged;
use common::program::edit;
use common::pty::Session;

const APP: &str = r#"
import time


def compute(n):
    print("computing", n, flush=True)
    __.give(double=n * 2)
    return {"n": n, "result": n * 10}


def slow():
    print("started the slow one", flush=True)
    time.sleep(60)
    return "slept"


print("before the loop")
print("the caller got", compute(4))
"#;

fn project(body: &str) -> tempfile::TempDir {
    common::project(&[("app.py", body)])
}

/// APP calling `slow()` (it sleeps a minute) under the loop, once it has started.
fn start_slow() -> (tempfile::TempDir, Session) {
    let body = APP.replace(
        "print(\"the caller got\", compute(4))",
        "print(\"the caller got\", slow())",
    );
    let dir = project(&body);
    let mut session = spawn(dir.path(), &["--dev", "--loop", "slow", "app.py"]);
    session.expect_screen("started the slow one");
    (dir, session)
}

fn spawn(dir: &Path, args: &[&str]) -> Session {
    Session::spawn(&jurigged(), args, dir, &[])
}

#[test]
fn the_screen_shows_the_run_and_saves_rerun_it() {
    let dir = project(APP);
    let mut session = spawn(dir.path(), &["--dev", "--loop", "compute", "app.py"]);
    let screen = session.expect_screen("#1 (done");
    assert!(screen.contains("Looping on: compute(4)"), "{screen}");
    assert!(screen.contains("computing 4"), "{screen}");
    assert!(screen.contains("double"), "{screen}");
    assert!(screen.contains("'result': 40"), "{screen}");
    assert!(screen.contains("(c)ontinue | (r)erun | (q)uit"), "{screen}");
    assert_eq!(session.screen_modes(), (true, true));
    edit(&dir.path().join("app.py"), "n * 10", "n * 100");
    let screen = session.expect_screen("#2 (done");
    assert!(screen.contains("'result': 400"), "{screen}");
    assert!(
        screen.contains("Update __main__.compute"),
        "the status line: {screen}"
    );
    session.send("r");
    session.expect_screen("#3 (done");
    session.send("c");
    session.expect("the caller got {'n': 4, 'result': 400}");
    assert_eq!(session.wait(), 0);
    let (alternate, hidden) = session.screen_modes();
    assert!(!alternate && !hidden, "the terminal is given back");
    assert!(
        session.screen().contains("before the loop"),
        "{}",
        session.screen()
    );
    assert!(session.terminal_cooked());
}

#[test]
fn q_quits_and_gives_the_terminal_back() {
    let dir = project(APP);
    let mut session = spawn(dir.path(), &["--dev", "--loop", "compute", "app.py"]);
    session.expect_screen("#1 (done");
    session.send("q");
    assert_eq!(session.wait(), 1);
    assert_eq!(session.screen_modes(), (false, false));
    assert!(session.terminal_cooked());
}

#[test]
fn output_shows_while_running_and_a_aborts() {
    let (_dir, mut session) = start_slow();
    let screen = session.expect_screen("(a)bort");
    assert!(screen.contains("(running"), "{screen}");
    session.send("a");
    session.expect_screen("#1 (aborted");
    session.send("q");
    assert_eq!(session.wait(), 1);
}

#[test]
fn ctrl_c_aborts_a_running_function() {
    let (dir, mut session) = start_slow();
    session.send("\x03");
    session.expect_screen("#1 (aborted");
    edit(
        &dir.path().join("app.py"),
        "time.sleep(60)",
        "time.sleep(0)",
    );
    let screen = session.expect_screen("#2 (done");
    assert!(screen.contains("'slept'"), "{screen}");
    session.send("c");
    session.expect("the caller got slept");
    assert_eq!(session.wait(), 0);
}

/// Waits until the footer is the screen's last row (the program drew for the new size).
fn footer_on_last_row(session: &Session) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let screen = session.screen();
        let last = screen.lines().last().unwrap_or_default().to_string();
        if last.starts_with("#1 (done") {
            return screen;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no footer on the last row:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn resizing_reflows_the_screen() {
    let dir = project(APP);
    let mut session = spawn(dir.path(), &["--dev", "--loop", "compute", "app.py"]);
    session.expect_screen("#1 (done");
    session.resize(12, 50);
    let screen = footer_on_last_row(&session);
    assert_eq!(screen.lines().count(), 12, "{screen}");
    session.resize(10, 40);
    let screen = footer_on_last_row(&session);
    assert!(
        screen.lines().all(|line| line.chars().count() <= 40),
        "{screen}"
    );
    session.send("c");
    assert_eq!(session.wait(), 0);
}

#[test]
fn sigterm_and_sighup_give_the_terminal_back() {
    for (signal, name) in [(libc::SIGTERM, "Terminated"), (libc::SIGHUP, "Hangup")] {
        let dir = project(APP);
        let mut session = spawn(dir.path(), &["--dev", "--loop", "compute", "app.py"]);
        session.expect_screen("#1 (done");
        // SAFETY: signalling our own child.
        unsafe { libc::kill(session.pid(), signal) };
        let ended_by = session.wait_signal().unwrap_or_default();
        assert!(ended_by.contains(name), "ended by {name}, not {ended_by:?}");
        assert_eq!(session.screen_modes(), (false, false));
        assert!(session.terminal_cooked());
    }
}

#[test]
fn ctrl_z_suspends_and_fg_redraws() {
    // Job control needs a shell that has it, as a user's does.
    let dir = project(APP);
    let mut shell = Session::spawn(
        Path::new("/bin/bash"),
        &["--norc", "--noprofile", "-i"],
        dir.path(),
        &[("PS1", "$ ")],
    );
    shell.send(&format!(
        "{} --dev --loop compute app.py\r",
        jurigged().display()
    ));
    shell.expect_screen("#1 (done");
    shell.send("\x1a");
    shell.expect("Stopped");
    assert_eq!(
        shell.screen_modes(),
        (false, false),
        "the terminal is given back"
    );
    shell.send("fg\r");
    shell.expect_screen("#1 (done");
    assert_eq!(shell.screen_modes(), (true, true), "the interface is back");
    shell.send("c");
    shell.expect("the caller got");
    shell.send("exit\r");
    shell.wait();
}

#[test]
fn d_opens_the_debugger_on_an_error_and_the_loop_goes_on() {
    let body =
        "def broken(n):\n    local_value = n * 7\n    raise ValueError('broken')\n\n\nbroken(6)\n";
    let dir = project(body);
    let mut session = spawn(dir.path(), &["--loop", "broken", "app.py"]);
    session.expect_screen("#1 (error");
    session.send("d");
    session.expect("(Pdb) ");
    session.send("p local_value\r");
    session.expect("42");
    session.expect("(Pdb) ");
    session.send("c\r");
    session.expect_screen("#1 (error");
    assert_eq!(
        session.screen_modes(),
        (true, true),
        "the interface is back"
    );
    session.send("q");
    assert_eq!(session.wait(), 1);
}

#[test]
fn the_program_sees_a_colour_terminal_as_wide_as_the_panel() {
    let body = "import os, shutil, sys\n\n\ndef probe():\n    print('tty', sys.stdout.isatty(), 'columns', shutil.get_terminal_size().columns, 'force', os.environ.get('FORCE_COLOR'))\n    print('\\x1b[31mred text\\x1b[0m')\n\n\nprobe()\n";
    let dir = project(body);
    let mut session = spawn(dir.path(), &["--loop", "probe", "app.py"]);
    let screen = session.expect_screen("#1 (done");
    assert!(screen.contains("tty True columns 98 force 1"), "{screen}");
    assert!(screen.contains("red text"), "{screen}");
    assert!(
        !screen.contains("[31m"),
        "escapes are drawn as colour, not text: {screen}"
    );
    session.send("c");
    assert_eq!(session.wait(), 0);
}

#[test]
fn verbose_lines_go_to_the_status_line_not_over_the_screen() {
    let dir = project(APP);
    let mut session = spawn(dir.path(), &["-v", "--dev", "--loop", "compute", "app.py"]);
    session.expect_screen("#1 (done");
    edit(&dir.path().join("app.py"), "n * 10", "n * 100");
    let screen = session.expect_screen("#2 (done");
    let status = screen.lines().nth(1).unwrap_or_default();
    assert!(status.starts_with("Update __main__.compute"), "{screen}");
    let stray = screen
        .lines()
        .skip(2)
        .any(|line| line.contains("Update __main__"));
    assert!(!stray, "no log line over the panels:\n{screen}");
    session.send("c");
    assert_eq!(session.wait(), 0);
}

#[test]
fn what_other_threads_print_between_runs_is_shown_after_the_interface() {
    // The ticker prints once the test says so, when the run is over: what a thread prints
    // during a run belongs to the run's panel.
    let body = r#"
import os
import threading
import time


def ticker():
    while not os.path.exists("go"):
        time.sleep(0.005)
    for n in range(5):
        print(f"tick {n}", flush=True)
    open("ticked", "w").close()


def compute(n):
    return n * 2


threading.Thread(target=ticker).start()
print("the caller got", compute(4))
"#;
    let dir = project(body);
    let mut session = spawn(dir.path(), &["--loop", "compute", "app.py"]);
    session.expect_screen("#1 (done");
    std::fs::write(dir.path().join("go"), "").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !dir.path().join("ticked").exists() {
        assert!(std::time::Instant::now() < deadline, "the ticker never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
    session.send("c");
    session.expect("the caller got 8");
    assert_eq!(session.wait(), 0);
    // Nothing scribbled over the interface: the ticks come after it left the screen.
    let output = session.output();
    let left = output
        .rfind("\x1b[?1049l")
        .expect("the interface left the screen");
    let first_tick = output.find("tick 0").expect("the ticks were printed");
    assert!(first_tick > left, "ticks over the interface:\n{output:?}");
    let screen = session.screen();
    assert!(
        screen.contains("tick 4"),
        "the ticks are on the normal screen after:\n{screen}"
    );
}

#[test]
fn home_shows_a_full_panel_from_the_first_line_and_pages_move_by_its_height() {
    let body = "def many():\n    for n in range(100):\n        print(f'row {n:03}')\n\n\nmany()\n";
    let dir = project(body);
    let mut session = spawn(dir.path(), &["--loop", "many", "app.py"]);
    session.expect_screen("#1 (done");
    session.expect_screen("row 099");
    // 24 rows: the header and the footer, a 3-row result panel, and a stdout panel of 19
    // rows showing 17 lines.
    session.send("\x1b[H");
    // A frame is drawn top to bottom: once its last row shows, all of it does (the title
    // alone may show a frame only partly drawn).
    session.expect_screen("(↑83)");
    let screen = session.expect_screen("row 016");
    assert!(screen.contains("row 000"), "{screen}");
    assert!(!screen.contains("row 017"), "{screen}");
    session.send("\x1b[6~");
    session.expect_screen("(↑66)");
    let screen = session.expect_screen("row 033");
    assert!(screen.contains("row 017"), "{screen}");
    session.send("\x1b[F");
    session.expect_screen("row 099");
    session.send("c");
    assert_eq!(session.wait(), 0);
}

/// (pid, parent, state) of every process, from /proc.
fn processes() -> Vec<(i32, i32, char)> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces and parentheses.
        let Some((head, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next());
        let parent = fields.next().and_then(|p| p.parse().ok());
        let pid = head.split_whitespace().next().and_then(|p| p.parse().ok());
        if let (Some(pid), Some(parent), Some(state)) = (pid, parent, state) {
            all.push((pid, parent, state));
        }
    }
    all
}

/// Waits until the only child of `parent` is in `state` (T: stopped); returns its pid.
fn child_in_state(parent: i32, state: char) -> i32 {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let child = processes().into_iter().find(|(_, p, _)| *p == parent);
        if let Some((pid, _, now)) = child
            && now == state
        {
            return pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the child of {parent} is not in state {state}: {child:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn ctrl_z_stops_a_wrapper_script_too_and_fg_resumes_both() {
    let dir = project(APP);
    let mut shell = Session::spawn(
        Path::new("/bin/bash"),
        &["--norc", "--noprofile", "-i"],
        dir.path(),
        &[("PS1", "$ ")],
    );
    shell.send(&format!(
        "sh -c '{} --dev --loop compute app.py; echo after the wrapper'\r",
        jurigged().display()
    ));
    shell.expect_screen("#1 (done");
    shell.send("\x1a");
    shell.expect("Stopped");
    let wrapper = child_in_state(shell.pid(), 'T');
    // jurigged, the wrapper's child, is stopped too.
    child_in_state(wrapper, 'T');
    assert_eq!(
        shell.screen_modes(),
        (false, false),
        "the terminal is given back"
    );
    shell.send("fg\r");
    shell.expect_screen("#1 (done");
    assert_eq!(shell.screen_modes(), (true, true), "the interface is back");
    shell.send("c");
    shell.expect("after the wrapper");
    shell.expect("$ ");
    // bash, back from a job that was stopped, may drop what is typed at once: retype.
    for _ in 0..20 {
        shell.send("exit\r");
        if shell.exited_within(Duration::from_millis(500)) {
            return;
        }
    }
    panic!("the shell did not exit:\n{}", shell.transcript());
}

const WORKER: &str = r#"
import threading
import time


def handler(n):
    print("handling", n, flush=True)
    time.sleep(n)
    return n * 2


def serve():
    print("served", handler(60))


worker = threading.Thread(target=serve)
worker.start()
worker.join()
print("the program went on")
"#;

#[test]
fn a_aborts_time_sleep_and_q_quits_on_a_worker_thread() {
    let dir = project(WORKER);
    let mut session = spawn(dir.path(), &["--loop", "handler", "app.py"]);
    session.expect_screen("handling 60");
    session.send("a");
    session.expect_screen("#1 (aborted");
    session.send("q");
    assert_eq!(session.wait(), 1);
    assert_eq!(session.screen_modes(), (false, false));
    assert!(session.terminal_cooked());
    assert!(!session.transcript().contains("went on"));
}

#[test]
fn input_gets_the_terminal_and_the_interface_comes_back_after() {
    let body = "def greet():\n    print('asking', flush=True)\n    name = input('name? ')\n    print('hello', name)\n    return name.upper()\n\n\nprint('the caller got', greet())\n";
    let dir = project(body);
    let mut session = spawn(dir.path(), &["--loop", "greet", "app.py"]);
    session.expect("name? ");
    let screen = session.expect_screen("name? ");
    assert_eq!(
        session.screen_modes(),
        (false, false),
        "the terminal is the function's while it reads: {screen}"
    );
    assert!(session.terminal_cooked(), "line editing for input()");
    session.send("bob\r");
    let screen = session.expect_screen("#1 (done");
    assert!(screen.contains("'BOB'"), "{screen}");
    assert!(
        screen.contains("hello bob"),
        "output after the read is captured: {screen}"
    );
    assert_eq!(
        session.screen_modes(),
        (true, true),
        "the interface is back"
    );
    session.send("c");
    session.expect("the caller got BOB");
    assert_eq!(session.wait(), 0);
}

#[test]
fn breakpoint_gets_the_terminal_for_the_whole_debugger_stop() {
    let body = "def compute():\n    secret = 6 * 7\n    breakpoint()\n    print('after the debugger')\n    return secret\n\n\nprint('the caller got', compute())\n";
    let dir = project(body);
    let mut session = spawn(dir.path(), &["--loop", "compute", "app.py"]);
    session.expect("(Pdb) ");
    assert_eq!(session.screen_modes(), (false, false));
    session.send("p secret\r");
    session.expect("42");
    session.expect("(Pdb) ");
    assert_eq!(session.screen_modes(), (false, false), "still pdb's");
    session.send("c\r");
    let screen = session.expect_screen("#1 (done");
    assert!(screen.contains("after the debugger"), "{screen}");
    assert_eq!(
        session.screen_modes(),
        (true, true),
        "the interface is back"
    );
    session.send("c");
    session.expect("the caller got 42");
    assert_eq!(session.wait(), 0);
}

const ASYNC_AND_GENERATOR: &str = r#"
import asyncio


async def fetch(n):
    await asyncio.sleep(0.01)
    return n * 10


def squares(n):
    for i in range(n):
        yield i * i


async def main():
    print("awaited", await fetch(4))

asyncio.run(main())
print("listed", list(squares(3)))
"#;

/// An `async def` under the loop is awaited, a generator is driven: the result panel says
/// which, the yielded items are given as they come, and the caller gets what it expects.
#[test]
fn async_def_is_awaited_and_generators_driven() {
    let dir = project(ASYNC_AND_GENERATOR);
    let mut session = spawn(
        dir.path(),
        &["--loop", "fetch", "--loop", "squares", "app.py"],
    );
    let screen = session.expect_screen("#1 (done");
    assert!(screen.contains("result (awaited)"), "{screen}");
    assert!(screen.contains("40"), "{screen}");
    assert!(!screen.contains("coroutine object"), "{screen}");
    edit(&dir.path().join("app.py"), "n * 10", "n * 100");
    let screen = session.expect_screen("#2 (done");
    assert!(screen.contains("400"), "{screen}");
    session.send("c");
    session.expect_screen("Looping on: squares(3)");
    // The footer is drawn last.
    let screen = session.expect_screen("#1 (done");
    assert!(
        screen.contains("result (generator: 3 items yielded)"),
        "{screen}"
    );
    assert!(screen.contains("yield[2]"), "{screen}");
    assert!(screen.contains("[0, 1, 4]"), "{screen}");
    session.send("c");
    session.expect("awaited 400");
    session.expect("listed [0, 1, 4]");
    assert_eq!(session.wait(), 0);
}
