//! The develoop with its basic interface, in a real pseudo-terminal: saves rerun the
//! function, keys work without Enter, blocked runs are aborted, stdin belongs to the
//! function while it runs.

mod common;

use std::path::Path;

use common::program::edit;
use common::pty::Session;
use common::{jurigged, project};

/// Runs with the basic interface (the rich one is the default on a terminal).
fn spawn(dir: &Path, args: &[&str]) -> Session {
    let mut all = vec!["--loop-interface", "basic"];
    all.extend_from_slice(args);
    Session::spawn(&jurigged(), &all, dir, &[])
}

const COMPUTE: &str = r#"
import os


def compute(n):
    print("computing", n)
    os.system("echo from-a-subprocess")
    return n * 10


print("before the loop")
print("the caller got", compute(4))
"#;

#[test]
fn loop_reruns_on_save_and_keys_work_without_enter() {
    let dir = project(&[("app.py", COMPUTE)]);
    let mut session = spawn(dir.path(), &["--loop", "compute", "app.py"]);
    session.expect("before the loop");
    session.expect("---- #1: compute(4) ");
    session.expect("from-a-subprocess");
    session.expect("---- #1: RESULT ");
    session.expect("40");
    session.expect("---- #1: (c)ontinue | (r)erun | (q)uit ");
    edit(&dir.path().join("app.py"), "n * 10", "n * 100");
    session.expect("---- #2: compute(4) ");
    session.expect("400");
    session.expect("---- #2: (c)ontinue");
    session.send("r");
    session.expect("---- #3: compute(4) ");
    session.expect("---- #3: (c)ontinue");
    session.send("c");
    session.expect("the caller got 400");
    assert_eq!(session.wait(), 0);
}

#[test]
fn q_quits_with_status_1() {
    let dir = project(&[("app.py", COMPUTE)]);
    let mut session = spawn(dir.path(), &["--loop", "compute", "app.py"]);
    session.expect("---- #1: (c)ontinue");
    session.send("q");
    assert_eq!(session.wait(), 1);
    assert!(!session.transcript().contains("the caller got"));
}

#[test]
fn a_save_aborts_a_blocked_run() {
    let body = "import time\n\n\ndef slow():\n    print('sleeping', flush=True)\n    time.sleep(60)\n    return 'slept'\n\n\nslow()\n";
    let dir = project(&[("app.py", body)]);
    let mut session = spawn(dir.path(), &["--loop", "slow", "app.py"]);
    session.expect("sleeping");
    std::thread::sleep(std::time::Duration::from_millis(200));
    edit(
        &dir.path().join("app.py"),
        "time.sleep(60)",
        "time.sleep(0)",
    );
    session.expect("---- #1: ABORTED after ");
    session.expect("---- #2: slow() ");
    session.expect("slept");
    session.expect("---- #2: (c)ontinue");
    session.send("c");
    assert_eq!(session.wait(), 0);
}

#[test]
fn input_and_breakpoint_inside_the_loop() {
    let body = "def greet():\n    name = input('name? ')\n    breakpoint()\n    return f'hello {name}'\n\n\nprint(greet())\n";
    let dir = project(&[("app.py", body)]);
    let mut session = spawn(dir.path(), &["--loop", "greet", "app.py"]);
    session.expect("name? ");
    session.send("bob\r");
    session.expect("(Pdb) ");
    session.send("p name\r");
    session.expect("'bob'");
    session.send("c\r");
    session.expect("hello bob");
    session.expect("---- #1: (c)ontinue");
    session.send("c");
    session.expect("hello bob");
    assert_eq!(session.wait(), 0);
}

#[test]
fn xloop_opens_on_error_and_continue_returns_the_fixed_result() {
    let body = "def risky(n):\n    return 10 / n\n\n\nprint('the caller got', risky(0))\n";
    let dir = project(&[("app.py", body)]);
    let mut session = spawn(dir.path(), &["--xloop", "risky", "app.py"]);
    session.expect("---- #0: risky(0) ");
    session.expect("ZeroDivisionError");
    session.expect("---- #0: (c)ontinue");
    edit(&dir.path().join("app.py"), "10 / n", "10 / (n + 1)");
    session.expect("---- #1: RESULT ");
    session.expect("10.0");
    session.expect("---- #1: (c)ontinue");
    session.send("c");
    session.expect("the caller got 10.0");
    assert_eq!(session.wait(), 0);
}

#[test]
fn xloop_stays_out_of_the_way_when_nothing_fails() {
    let body = "def fine(n):\n    return n + 1\n\n\nprint('the caller got', fine(1))\n";
    let dir = project(&[("app.py", body)]);
    let mut session = spawn(dir.path(), &["--xloop", "fine", "app.py"]);
    session.expect("the caller got 2");
    assert_eq!(session.wait(), 0);
    assert!(!session.transcript().contains("----"));
}

#[test]
fn loop_on_a_method_and_with_dash_m() {
    let tool = "class Tool:\n    def run(self, x):\n        return x * 3\n\n\nprint('tool says', Tool().run(2))\n";
    let dir = project(&[("pkg/__init__.py", ""), ("pkg/tool.py", tool)]);
    let mut session = spawn(dir.path(), &["--loop", "Tool.run", "-m", "pkg.tool"]);
    session.expect("---- #1: Tool.run(<Tool>, 2) ");
    session.expect("---- #1: (c)ontinue");
    edit(&dir.path().join("pkg/tool.py"), "x * 3", "x * 30");
    session.expect("60");
    session.expect("---- #2: (c)ontinue");
    session.send("c");
    session.expect("tool says 60");
    assert_eq!(session.wait(), 0);
}

#[test]
fn decorators_in_code_and_given_values() {
    let body = r#"
from jurigged.loop import loop


@loop(interface="basic")
def total(values):
    subtotal = sum(values)
    __.give(subtotal)
    __.give(count=len(values))
    return subtotal * 2


@__.xloop
def never_fails():
    return "fine"


print(never_fails(), total([1, 2, 3]))
"#;
    let dir = project(&[("app.py", body)]);
    let mut session = spawn(dir.path(), &["--dev", "app.py"]);
    session.expect("---- #1: total(<list>) ");
    session.expect("subtotal: 6");
    session.expect("count: 3");
    session.expect("12");
    session.expect("---- #1: (c)ontinue");
    session.send("c");
    session.expect("fine 12");
    assert_eq!(session.wait(), 0);
}

#[test]
fn without_any_terminal_commands_are_read_one_per_line() {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let dir = project(&[("app.py", COMPUTE)]);
    let mut command = Command::new(jurigged());
    command
        .args(["--loop", "compute", "app.py"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setsid in the child only: no controlling terminal, so /dev/tty cannot open.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"r\nc\n").unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.contains("---- #2: compute(4) "), "{stdout}");
    assert!(stdout.contains("the caller got 40"), "{stdout}");
    assert!(stderr.contains("no terminal for keys"), "{stderr}");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn loop_names_in_other_modules() {
    let dir = project(&[
        ("helpers.py", "def scale(x):\n    return x * 2\n"),
        (
            "app.py",
            "import helpers\n\nprint('scaled', helpers.scale(5))\n",
        ),
    ]);
    let mut session = spawn(dir.path(), &["--loop", "helpers:scale", "app.py"]);
    session.expect("---- #1: scale(5) ");
    session.expect("---- #1: (c)ontinue");
    session.send("c");
    session.expect("scaled 10");
    assert_eq!(session.wait(), 0);
}

#[test]
fn continue_after_a_failed_run_raises_its_error_in_the_caller() {
    let body = "def broken():\n    raise ValueError('still broken')\n\n\nbroken()\nprint('never printed')\n";
    let dir = project(&[("app.py", body)]);
    let mut session = spawn(dir.path(), &["--loop", "broken", "app.py"]);
    session.expect("---- #1: ERROR ");
    session.expect("---- #1: (c)ontinue");
    session.send("c");
    session.expect("ValueError: still broken");
    assert_eq!(session.wait(), 1);
    assert!(!session.transcript().contains("never printed"));
}

#[test]
fn methods_decorated_in_code_show_their_instance() {
    let body = "from jurigged.loop import loop\n\n\nclass Shape:\n    @loop\n    def area(self, side):\n        return side * side\n\n\nprint('area', Shape().area(3))\n";
    let dir = project(&[("app.py", body)]);
    let mut session = spawn(dir.path(), &["app.py"]);
    session.expect("---- #1: Shape.area(<Shape>, 3) ");
    session.expect("---- #1: (c)ontinue");
    session.send("c");
    session.expect("area 9");
    assert_eq!(session.wait(), 0);
}

#[test]
fn keys_come_from_the_terminal_when_stdin_is_a_pipe() {
    let body = "import sys\n\n\ndef read_all():\n    return sys.stdin.read().strip().upper()\n\n\nprint('read', read_all())\n";
    let dir = project(&[("app.py", body)]);
    let command = format!(
        "echo piped data | {} --loop-interface basic --loop read_all app.py",
        jurigged().display()
    );
    let mut session = Session::spawn(
        std::path::Path::new("/bin/sh"),
        &["-c", &command],
        dir.path(),
        &[],
    );
    session.expect("PIPED DATA");
    session.expect("---- #1: (c)ontinue");
    session.send("c");
    session.expect("read PIPED DATA");
    assert_eq!(session.wait(), 0);
}

/// A looped function called on a worker thread, as a web handler would be.
const WORKER: &str = r#"
import atexit
import threading
import time

atexit.register(lambda: print("atexit ran", flush=True))


def handler(n):
    print("handling", n, flush=True)
    time.sleep(n)
    return n * 2


def serve():
    print("served", handler(0))


worker = threading.Thread(target=serve)
worker.start()
worker.join()
print("the program went on")
"#;

#[test]
fn q_on_a_worker_thread_ends_the_program_with_status_1() {
    let dir = project(&[("app.py", WORKER)]);
    let mut session = spawn(dir.path(), &["--loop", "handler", "app.py"]);
    session.expect("---- #1: (c)ontinue");
    session.send("q");
    assert_eq!(session.wait(), 1);
    let transcript = session.transcript();
    assert!(transcript.contains("atexit ran"), "{transcript}");
    assert!(!transcript.contains("went on"), "{transcript}");
}

#[test]
fn a_save_aborts_time_sleep_on_a_worker_thread() {
    let dir = project(&[("app.py", &WORKER.replace("handler(0)", "handler(60)"))]);
    let mut session = spawn(dir.path(), &["--loop", "handler", "app.py"]);
    session.expect("handling 60");
    edit(&dir.path().join("app.py"), "time.sleep(n)", "time.sleep(0)");
    session.expect("---- #1: ABORTED after ");
    session.expect("---- #2: handler(60) ");
    session.expect("---- #2: RESULT ");
    session.expect("---- #2: (c)ontinue");
    session.send("q");
    assert_eq!(session.wait(), 1);
}

/// `--loop` with `-c`: a plain name is a function the code defines; a module's function
/// is patched by its saves as usual.
#[test]
fn loop_with_dash_c_code() {
    let dir = project(&[("helpers.py", "def scale(x):\n    return x * 2\n")]);
    let code = "def twice(x):\n    return x * 2\n\nprint('twice', twice(4))\n";
    let mut session = spawn(dir.path(), &["--loop", "twice", "-c", code]);
    session.expect("---- #1: twice(4) ");
    session.expect("---- #1: (c)ontinue");
    session.send("c");
    session.expect("twice 8");
    assert_eq!(session.wait(), 0);
    let code = "import helpers\nprint('scaled', helpers.scale(5))\n";
    let mut session = spawn(dir.path(), &["--loop", "helpers:scale", "-c", code]);
    session.expect("---- #1: (c)ontinue");
    edit(&dir.path().join("helpers.py"), "x * 2", "x * 3");
    session.expect("---- #2: scale(5) ");
    session.expect("15");
    session.expect("---- #2: (c)ontinue");
    session.send("c");
    session.expect("scaled 15");
    assert_eq!(session.wait(), 0);
}

const ASYNC_AND_GENERATOR: &str = r#"
import asyncio


async def fetch(n):
    await asyncio.sleep(0.01)
    print("fetching", n)
    return n * 10


def squares(n):
    for i in range(n):
        yield i * i
    return "done"


async def main():
    print("awaited", await fetch(4))
    gen = squares(3)
    print("listed", list(gen))

asyncio.run(main())
"#;

/// `--loop` on an `async def` awaits each call (inside the program's running event loop
/// too) and says so; on a generator function it drives the generator, shows each item as
/// it is yielded and the list as the result. The caller gets an awaitable of the result,
/// or a generator of the same items.
#[test]
fn loop_awaits_async_def_and_drives_generators() {
    let dir = project(&[("app.py", ASYNC_AND_GENERATOR)]);
    let mut session = spawn(
        dir.path(),
        &["--loop", "fetch", "--loop", "squares", "app.py"],
    );
    session.expect("---- #1: fetch(4) ");
    session.expect("fetching 4");
    session.expect("---- #1: RESULT (awaited) ");
    session.expect("40");
    session.expect("---- #1: (c)ontinue");
    edit(&dir.path().join("app.py"), "n * 10", "n * 100");
    session.expect("---- #2: RESULT (awaited) ");
    session.expect("400");
    session.expect("---- #2: (c)ontinue");
    session.send("c");
    session.expect("awaited 400");
    session.expect("---- #1: squares(3) ");
    session.expect("yield[0]: 0");
    session.expect("yield[2]: 4");
    session.expect("---- #1: RESULT (generator: 3 items yielded) ");
    session.expect("[0, 1, 4]");
    session.expect("---- #1: (c)ontinue");
    session.send("c");
    session.expect("listed [0, 1, 4]");
    assert_eq!(session.wait(), 0);
    // Earlier runs leave no coroutine behind for the caller.
    let transcript = session.transcript();
    assert!(!transcript.contains("never awaited"), "{transcript}");
}

/// `--loop mod:fn` when the program comes on standard input: the module is found from the
/// current directory, as the program's own imports are, and the program then runs.
#[test]
fn loop_on_a_module_function_with_the_program_on_stdin() {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let dir = project(&[("mod.py", "def f():\n    return 42\n")]);
    let mut command = Command::new(jurigged());
    command
        .args(["--loop", "mod:f", "--loop-interface", "basic"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setsid in the child only: no controlling terminal, so keys come from stdin.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"import mod\nprint('caller got', mod.f())\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.contains("---- #1: f() "), "{stdout}\n{stderr}");
    assert!(stdout.contains("caller got 42"), "{stdout}\n{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}
