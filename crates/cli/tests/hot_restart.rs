//! Hot restart in a real pseudo-terminal, driven like pexpect: a wrapped function crashes,
//! pdb opens at the crash with its live callers, the test saves a fix as an editor would,
//! types `c`, and reads the transcript and the exit status.

mod common;

use std::path::Path;

use common::jurigged;
use common::program::{Save, edit, save};
use common::pty::Session;

fn project(body: &str) -> tempfile::TempDir {
    common::project(&[("app.py", body)])
}

fn spawn(dir: &Path, args: &[&str]) -> Session {
    let mut all: Vec<&str> = args.to_vec();
    all.push("app.py");
    Session::spawn(&jurigged(), &all, dir, &[("HOT_RESTART_DEBUGGER", "pdb")])
}

const FLOW: &str = r#"
import hot_restart


def helper(x):
    return x * 2


@hot_restart.wrap
def inner(x):
    value = helper(x)
    assert value > 100, "whoops"
    print("in inner:", value)
    return value


def outer():
    print("in outer", 10)
    result = inner(20)
    print("outer finished with", result)


outer()
"#;

#[test]
fn crash_debugger_fix_continue() {
    let dir = project(FLOW);
    let mut session = spawn(dir.path(), &[]);
    let banner = session.expect("(Pdb) ");
    assert!(
        banner.contains("> __main__.inner: AssertionError('whoops')"),
        "{banner}"
    );
    assert!(
        banner.contains("> (c)ontinue to revive __main__.inner"),
        "{banner}"
    );
    assert!(
        banner.contains("> Ctrl-C to re-raise exception"),
        "{banner}"
    );
    assert!(
        banner.contains("app.py(12)inner()"),
        "it opens in the wrapped function: {banner}"
    );
    // The live caller is inspectable.
    session.send("u\r");
    session.expect("outer()");
    session.send("p result if 'result' in dir() else 'no result yet'\r");
    session.expect("no result yet");
    session.send("d\r");
    session.expect("(Pdb) ");
    session.send("p x\r");
    session.expect("20");
    // The fix is in a helper, not in the crashed function: every change is applied.
    let text = FLOW.replace("return x * 2", "return x * 20");
    save(&dir.path().join("app.py"), &text, Save::RenameOver);
    std::thread::sleep(std::time::Duration::from_millis(100));
    session.send("c\r");
    session.expect("> Reloaded <function inner at 0x");
    session.expect("in inner: 400");
    session.expect("outer finished with 400");
    assert_eq!(session.wait(), 0);
}

#[test]
fn a_second_crash_opens_the_debugger_again_without_help() {
    let dir = project(FLOW);
    let mut session = spawn(dir.path(), &[]);
    session.expect("(Pdb) ");
    edit(&dir.path().join("app.py"), "return x * 2", "return x * 3");
    std::thread::sleep(std::time::Duration::from_millis(100));
    session.send("c\r");
    let again = session.expect("(Pdb) ");
    assert!(
        again.contains("> __main__.inner: AssertionError('whoops')"),
        "{again}"
    );
    assert!(
        !again.contains("Ctrl-C to re-raise"),
        "help only once: {again}"
    );
    edit(&dir.path().join("app.py"), "return x * 3", "return x * 30");
    std::thread::sleep(std::time::Duration::from_millis(100));
    session.send("c\r");
    session.expect("outer finished with 600");
    assert_eq!(session.wait(), 0);
}

#[test]
fn a_save_with_a_syntax_error_is_reported_and_the_prompt_stays() {
    let dir = project(FLOW);
    let mut session = spawn(dir.path(), &[]);
    session.expect("(Pdb) ");
    edit(&dir.path().join("app.py"), "return x * 2", "return x *");
    std::thread::sleep(std::time::Duration::from_millis(100));
    session.send("c\r");
    session.expect("ERROR (hot-restart): Could not parse source for <function inner at 0x");
    session.expect("SyntaxError('invalid syntax'");
    let prompt = session.expect("(Pdb) ");
    assert!(
        !prompt.contains("AssertionError"),
        "the old code is not run again: {prompt}"
    );
    assert_eq!(
        session
            .transcript()
            .matches("jurigged: syntax error in")
            .count(),
        1,
        "the watcher and `c` read the same save; it is reported once: {}",
        session.transcript()
    );
    edit(&dir.path().join("app.py"), "return x *", "return x * 10");
    std::thread::sleep(std::time::Duration::from_millis(100));
    session.send("c\r");
    session.expect("outer finished with 200");
    assert_eq!(session.wait(), 0);
}

const ESCALATE: &str = r#"
import hot_restart


@hot_restart.wrap
def inner(x):
    assert x > 100, "too small"
    return x


@hot_restart.wrap
def outer(x):
    return inner(x) * 2


print("result", outer(5))
"#;

#[test]
fn ctrl_c_hands_the_error_to_the_next_wrapped_caller() {
    let dir = project(ESCALATE);
    let mut session = spawn(dir.path(), &[]);
    session.expect("> __main__.inner: AssertionError('too small')");
    session.expect("(Pdb) ");
    session.send("\x03");
    let next = session.expect("(Pdb) ");
    assert!(
        next.contains("WARNING (hot-restart): Re-raising AssertionError('too small')"),
        "{next}"
    );
    assert!(
        next.contains("> __main__.outer: AssertionError('too small')"),
        "{next}"
    );
    // Fix the caller: it passes a bigger value.
    edit(
        &dir.path().join("app.py"),
        "return inner(x) * 2",
        "return inner(x * 100) * 2",
    );
    std::thread::sleep(std::time::Duration::from_millis(100));
    session.send("c\r");
    session.expect("result 1000");
    assert_eq!(session.wait(), 0);
}

#[test]
fn reraise_then_continue_escalates_and_q_leaves_one_level() {
    let dir = project(ESCALATE);
    let mut session = spawn(dir.path(), &[]);
    session.expect("(Pdb) ");
    session.send("hot_restart.reraise()\r");
    session.expect("(Pdb) ");
    session.send("c\r");
    session.expect("> __main__.outer: AssertionError('too small')");
    session.expect("(Pdb) ");
    session.send("q\r");
    session.expect("AssertionError: too small");
    assert_eq!(session.wait(), 1);
}

#[test]
fn exit_then_continue_ends_the_program_with_the_original_error() {
    let dir = project(ESCALATE);
    let mut session = spawn(dir.path(), &[]);
    session.expect("(Pdb) ");
    session.send("hot_restart.exit()\r");
    session.expect("(Pdb) ");
    session.send("c\r");
    let rest = session.expect("AssertionError: too small");
    assert!(
        !rest.contains("__main__.outer: AssertionError"),
        "no second debugger: {rest}"
    );
    assert_eq!(
        rest.matches("WARNING (hot-restart): Re-raising AssertionError('too small')")
            .count(),
        2,
        "each wrapper says it re-raises: {rest}"
    );
    let traceback = &rest[rest.find("Traceback (most recent call last)").expect(&rest)..];
    // The program's frames only: <module>, outer, inner.
    assert_eq!(traceback.matches("  File ").count(), 3, "{traceback}");
    assert!(
        !traceback.contains("<jurigged") && !traceback.contains("in wrapper"),
        "{traceback}"
    );
    assert_eq!(session.wait(), 1);
}

#[test]
fn dash_dash_restart_wraps_without_editing_the_program() {
    let body = "def compute(n):\n    return 10 / n\n\n\nclass Tool:\n    def run(self):\n        return compute(0)\n\n\nprint('got', Tool().run())\n";
    let dir = project(body);
    let mut session = spawn(dir.path(), &["--restart", "__main__"]);
    let banner = session.expect("(Pdb) ");
    assert!(
        banner.contains("> __main__.compute: ZeroDivisionError"),
        "{banner}"
    );
    edit(&dir.path().join("app.py"), "10 / n", "10 / (n + 1)");
    std::thread::sleep(std::time::Duration::from_millis(100));
    session.send("c\r");
    session.expect("got 10.0");
    assert_eq!(session.wait(), 0);
}

const BETTER: &str = r#"
import functools
import hot_restart

calls = []


def counted(function):
    calls.append(function.__name__)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        return function(*args, **kwargs)
    return wrapper


@counted
@hot_restart.wrap
def keyword_only(a, *, scale=3, offset=1):
    assert a > 10, "small"
    return a * scale + offset


def factory(n):
    @hot_restart.wrap
    def made():
        return n
    return made


first, second = factory(1), factory(2)


@hot_restart.wrap_class
class Shapes:
    @staticmethod
    def unit():
        return 1

    @classmethod
    def name(cls):
        return cls.__name__

    def area(self, side):
        return side * side


class Parent:
    @hot_restart.wrap
    def inner(self):
        return "parent"


class Child(Parent):
    @hot_restart.wrap
    def inner(self):
        assert False, "child fails"
        return "child"


print("wrap_class", Shapes.unit(), Shapes.name(), Shapes().area(3))
print("closures", first(), second())
print("keyword only", keyword_only(20))
print("decorated once", calls)
print("child", Child().inner(), "parent", Parent().inner())
print("after the revival: closures", first(), second(), "decorated", calls, "kw", keyword_only(20))
"#;

#[test]
fn what_hot_restart_gets_wrong_works_here() {
    let dir = project(BETTER);
    let mut session = spawn(dir.path(), &[]);
    session.expect("wrap_class 1 Shapes 9");
    session.expect("closures 1 2");
    session.expect("keyword only 61");
    session.expect("decorated once ['keyword_only']");
    let banner = session.expect("(Pdb) ");
    assert!(
        banner.contains("> __main__.Child.inner: AssertionError('child fails')"),
        "{banner}"
    );
    edit(
        &dir.path().join("app.py"),
        "assert False, \"child fails\"",
        "assert True",
    );
    std::thread::sleep(std::time::Duration::from_millis(100));
    session.send("c\r");
    session.expect("child child parent parent");
    session.expect("after the revival: closures 1 2 decorated ['keyword_only'] kw 61");
    assert_eq!(session.wait(), 0);
    // Decorators above wrap ran once, keyword-only defaults held, closures kept their own.
    assert!(
        !session.transcript().contains("TypeError"),
        "{}",
        session.transcript()
    );
}

#[test]
fn keyword_only_defaults_survive_a_revival() {
    let body = "import hot_restart\n\n\n@hot_restart.wrap\ndef scaled(a, *, scale=3):\n    assert a > 10, 'small'\n    return a * scale\n\n\nprint('scaled', scaled(5))\n";
    let dir = project(body);
    let mut session = spawn(dir.path(), &[]);
    session.expect("(Pdb) ");
    edit(
        &dir.path().join("app.py"),
        "assert a > 10, 'small'",
        "assert a > 1, 'small'",
    );
    std::thread::sleep(std::time::Duration::from_millis(100));
    session.send("c\r");
    session.expect("scaled 15");
    assert_eq!(session.wait(), 0);
}

#[test]
fn generators_say_why_they_cannot_be_revived_and_coroutines_are() {
    let body = r#"
import asyncio
import hot_restart


@hot_restart.wrap
def numbers():
    yield 1
    raise ValueError("generator broke")


@hot_restart.wrap
async def fetch(n):
    assert n > 10, "coroutine broke"
    return n


try:
    print(list(numbers()))
except ValueError as error:
    print("the generator raised", error)
print("fetched", asyncio.run(fetch(5)))
"#;
    let dir = project(body);
    let mut session = spawn(dir.path(), &[]);
    let banner = session.expect("(Pdb) ");
    assert!(
        banner.contains("is a generator: it cannot be revived"),
        "{banner}"
    );
    session.send("c\r");
    session.expect("the generator raised generator broke");
    session.expect("> __main__.fetch: AssertionError('coroutine broke')");
    session.expect("(Pdb) ");
    edit(&dir.path().join("app.py"), "assert n > 10", "assert n > 1");
    std::thread::sleep(std::time::Duration::from_millis(100));
    session.send("c\r");
    session.expect("fetched 5");
    assert_eq!(session.wait(), 0);
}

#[test]
fn d_in_the_basic_develoop_opens_this_debugger() {
    let body =
        "def broken(n):\n    local_value = n * 7\n    raise ValueError('broken')\n\n\nbroken(6)\n";
    let dir = project(body);
    let mut session = spawn(
        dir.path(),
        &["--loop-interface", "basic", "--loop", "broken"],
    );
    session.expect("(q)uit | (d)ebug");
    session.send("d");
    session.expect("> __main__.broken: ValueError('broken')");
    session.expect("(Pdb) ");
    session.send("p local_value\r");
    session.expect("42");
    session.send("c\r");
    session.expect("(q)uit | (d)ebug");
    session.send("q");
    assert_eq!(session.wait(), 1);
}

#[test]
fn dash_dash_restart_wraps_imported_modules_that_match() {
    let dir = project("import tools\n\nprint('tools say', tools.ratio(0))\n");
    std::fs::write(
        dir.path().join("tools.py"),
        "def ratio(n):\n    return 1 / n\n",
    )
    .unwrap();
    let mut session = spawn(dir.path(), &["--restart", "tool*"]);
    let banner = session.expect("(Pdb) ");
    assert!(
        banner.contains("> tools.ratio: ZeroDivisionError"),
        "{banner}"
    );
    edit(&dir.path().join("tools.py"), "1 / n", "1 / (n + 4)");
    std::thread::sleep(std::time::Duration::from_millis(100));
    session.send("c\r");
    session.expect("tools say 0.25");
    assert_eq!(session.wait(), 0);
}

#[test]
fn definitions_added_by_a_save_are_wrapped_too() {
    let body = "import time\n\n\ndef tick():\n    return 1\n\n\nwhile True:\n    if 'later' in globals():\n        print('later gave', later())\n        break\n    time.sleep(0.01)\n";
    let dir = project(body);
    let mut session = spawn(dir.path(), &["--restart", "__main__"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    edit(
        &dir.path().join("app.py"),
        "def tick():",
        "def later():\n    raise ValueError('added later')\n\n\ndef tick():",
    );
    let banner = session.expect("(Pdb) ");
    assert!(
        banner.contains("> __main__.later: ValueError('added later')"),
        "{banner}"
    );
    edit(
        &dir.path().join("app.py"),
        "raise ValueError('added later')",
        "return 'fixed'",
    );
    std::thread::sleep(std::time::Duration::from_millis(100));
    session.send("c\r");
    session.expect("later gave fixed");
    assert_eq!(session.wait(), 0);
}

#[test]
fn a_script_outside_the_current_directory_is_watched_and_c_reads_it() {
    let dir = project(FLOW);
    let elsewhere = tempfile::tempdir().unwrap();
    let script = dir.path().join("app.py");
    let mut session = Session::spawn(
        &jurigged(),
        &["-v", script.to_str().unwrap()],
        elsewhere.path(),
        &[("HOT_RESTART_DEBUGGER", "pdb")],
    );
    let banner = session.expect("(Pdb) ");
    assert!(banner.contains("Watch /"), "{banner}");
    // Saved just before `c`: `c` reads the file, the watcher may not have seen it yet.
    edit(&script, "return x * 2", "return x * 20");
    session.send("c\r");
    session.expect("in inner: 400");
    session.expect("outer finished with 400");
    assert_eq!(session.wait(), 0);
}

#[test]
fn a_wrapped_module_outside_the_watched_directories_is_watched() {
    let library = common::project(&[(
        "tools.py",
        "import hot_restart\n\n\n@hot_restart.wrap\ndef ratio(n):\n    return 1 / n\n",
    )]);
    let app = format!(
        "import sys\nsys.path.insert(0, {:?})\nimport tools\n\nprint('tools say', tools.ratio(0))\n",
        library.path().display().to_string()
    );
    let dir = project(&app);
    let mut session = spawn(dir.path(), &[]);
    session.expect("> tools.ratio: ZeroDivisionError");
    session.expect("(Pdb) ");
    edit(&library.path().join("tools.py"), "1 / n", "1 / (n + 4)");
    session.send("c\r");
    session.expect("tools say 0.25");
    assert_eq!(session.wait(), 0);
}

#[test]
fn reload_all_on_continue_says_so() {
    let dir = project(&FLOW.replace(
        "import hot_restart\n",
        "import hot_restart\nhot_restart.RELOAD_ALL_ON_CONTINUE = True\n",
    ));
    let mut session = spawn(dir.path(), &[]);
    session.expect("(Pdb) ");
    edit(&dir.path().join("app.py"), "return x * 2", "return x * 20");
    session.send("c\r");
    session.expect("> Reloaded all wrapped functions and classes");
    session.expect("outer finished with 400");
    assert_eq!(session.wait(), 0);
}

#[test]
fn hot_restarts_version_logger_and_refusals() {
    let body = r#"
import logging
import hot_restart

print("version", hot_restart.__version__)
logger = hot_restart.setup_logger()
print("logger", logger is logging.getLogger("hot-restart"), len(hot_restart.setup_logger().handlers))
anonymous = lambda x: x
print("lambda left alone", hot_restart.wrap(anonymous) is anonymous)
exec("def generated():\n    return 1\n")
print("generated left alone", hot_restart.wrap(generated) is generated)
try:
    hot_restart.wrap(print)
except TypeError as error:
    print("TypeError", error)
logger.setLevel(logging.CRITICAL)
print("silenced", hot_restart.wrap(anonymous) is anonymous)
"#;
    let dir = project(body);
    let run = common::run_in(dir.path(), &jurigged(), &["app.py"], None);
    assert_eq!(run.status, 0, "{run:?}");
    for line in [
        "version 0.2.4",
        "logger True 1",
        "lambda left alone True",
        "generated left alone True",
        "TypeError hot_restart.wrap: <built-in function print> is not a Python function",
        "silenced True",
    ] {
        assert!(run.stdout.contains(line), "{line}: {}", run.stdout);
    }
    let errors: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(errors.len(), 2, "{}", run.stderr);
    assert!(
        errors[0].starts_with("ERROR (hot-restart): Could not wrap <function <lambda> at 0x")
            && errors[0].ends_with(": Could not find <lambda> in its source file"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].starts_with("ERROR (hot-restart): Could not wrap <function generated at 0x"),
        "{}",
        errors[1]
    );
}

const SUPER: &str = r#"
import hot_restart


class Parent:
    def inner(self, y):
        return y * 10


class Child(Parent):
    @hot_restart.wrap
    def inner(self, y):
        assert y > 100, "needs the parent"
        return y


print("result", Child().inner(4))
"#;

#[test]
fn a_fix_that_adds_super_runs_on_c() {
    let dir = project(SUPER);
    let mut session = spawn(dir.path(), &[]);
    session.expect("> __main__.Child.inner: AssertionError('needs the parent')");
    session.expect("(Pdb) ");
    edit(
        &dir.path().join("app.py"),
        "assert y > 100, \"needs the parent\"",
        "y = super().inner(y) * 3",
    );
    session.send("c\r");
    session.expect("result 120");
    assert_eq!(session.wait(), 0);
}

#[test]
fn pythonbreakpoint_zero_means_no_debugger() {
    let dir = project(ESCALATE);
    let mut session = Session::spawn(
        &jurigged(),
        &["app.py"],
        dir.path(),
        &[("PYTHONBREAKPOINT", "0")],
    );
    let rest = session.expect("AssertionError: too small");
    assert!(!rest.contains("(Pdb)"), "{rest}");
    assert!(
        rest.contains("WARNING (hot-restart): Re-raising AssertionError('too small')"),
        "{rest}"
    );
    assert_eq!(session.wait(), 1);
}

#[test]
fn ipdb_when_installed_unless_the_environment_names_another() {
    let Some(venv) = common::venv_with("ipdb") else {
        return;
    };
    let venv = venv.to_str().unwrap();
    let dir = project(FLOW);
    let mut session = Session::spawn(
        &jurigged(),
        &["app.py"],
        dir.path(),
        &[("VIRTUAL_ENV", venv)],
    );
    let banner = session.expect("ipdb>");
    assert!(
        banner.contains("> __main__.inner: AssertionError('whoops')"),
        "{banner}"
    );
    edit(&dir.path().join("app.py"), "return x * 2", "return x * 20");
    session.send("c\r");
    session.expect("> Reloaded <function inner at 0x");
    session.expect("outer finished with 400");
    assert_eq!(session.wait(), 0);
    for chosen in [
        ("HOT_RESTART_DEBUGGER", "pdb"),
        ("PYTHONBREAKPOINT", "pdb.set_trace"),
    ] {
        let dir = project(FLOW);
        let mut session = Session::spawn(
            &jurigged(),
            &["app.py"],
            dir.path(),
            &[("VIRTUAL_ENV", venv), chosen],
        );
        let banner = session.expect("(Pdb) ");
        assert!(!banner.contains("ipdb>"), "{chosen:?}: {banner}");
        session.send("hot_restart.exit()\r");
        session.expect("(Pdb) ");
        session.send("c\r");
        assert_eq!(session.wait(), 1);
    }
}

/// A script with Windows line ends: the fix saved with them too is applied on `c` (the
/// running version and the file were compared byte for byte, and CRLF never matched).
#[test]
fn a_crlf_script_is_revived_by_its_fix() {
    let crlf = FLOW.replace('\n', "\r\n");
    let dir = project(&crlf);
    let mut session = spawn(dir.path(), &[]);
    session.expect("(Pdb) ");
    let fixed = crlf.replace("return x * 2", "return x * 20");
    save(&dir.path().join("app.py"), &fixed, Save::InPlace);
    std::thread::sleep(std::time::Duration::from_millis(100));
    session.send("c\r");
    session.expect("> Reloaded <function inner at 0x");
    session.expect("outer finished with 400");
    assert_eq!(session.wait(), 0);
}

#[test]
fn definitions_a_save_adds_to_a_wrapped_module_and_class_are_wrapped() {
    // The main loop waits for the save to add a function to the imported module and a
    // method to its class; both crash, and each must open the debugger, not end the program.
    let main = "import time\nimport tools\n\n\nwhile not hasattr(tools, 'later'):\n    time.sleep(0.01)\nprint('later gave', tools.later())\nprint('method gave', tools.Box().size())\n";
    let dir = project(main);
    std::fs::write(
        dir.path().join("tools.py"),
        "class Box:\n    pass\n\n\ndef ratio(n):\n    return 1 / n\n",
    )
    .unwrap();
    let mut session = spawn(dir.path(), &["--restart", "tools"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::write(
        dir.path().join("tools.py"),
        "class Box:\n    def size(self):\n        raise ValueError('no size')\n\n\ndef ratio(n):\n    return 1 / n\n\n\ndef later():\n    raise ValueError('added later')\n",
    )
    .unwrap();
    let banner = session.expect("(Pdb) ");
    assert!(
        banner.contains("> tools.later: ValueError('added later')"),
        "{banner}"
    );
    // Revived in place: the wrapper catches it, not a post-mortem of the whole program.
    assert!(
        banner.contains("> (c)ontinue to revive tools.later"),
        "{banner}"
    );
    edit(
        &dir.path().join("tools.py"),
        "raise ValueError('added later')",
        "return 'fixed'",
    );
    std::thread::sleep(std::time::Duration::from_millis(100));
    session.send("c\r");
    session.expect("later gave fixed");
    let banner = session.expect("(Pdb) ");
    assert!(banner.contains("ValueError('no size')"), "{banner}");
    edit(
        &dir.path().join("tools.py"),
        "raise ValueError('no size')",
        "return 3",
    );
    std::thread::sleep(std::time::Duration::from_millis(100));
    session.send("c\r");
    session.expect("method gave 3");
    assert_eq!(session.wait(), 0);
}
