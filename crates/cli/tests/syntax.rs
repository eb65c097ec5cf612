//! Syntax coverage: every file in crates/source/tests/syntax holds the constructs one Python version
//! added (py39.py: all of 3.9's; py313.py: 3.13's). Each one the running python compiles
//! is imported by a live program, then saved with a change: the change must be applied,
//! so no construct Python accepts makes a module unpatchable.

mod common;

use std::path::Path;

use common::program::{Program, Save, edit, save};
use common::{LOOP, jurigged, project};

/// (major, minor) of the python jurigged runs.
fn running_version() -> (u32, u32) {
    let version = env!("JURIGGED_PYTHON_VERSION");
    let (major, minor) = version.split_once('.').unwrap();
    (major.parse().unwrap(), minor.parse().unwrap())
}

/// Every construct of Python 3.9 to 3.13, one file a version: the language core's corpus.
fn syntax_corpus() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../source/tests/syntax")
}

fn patch_live(module: &str) {
    let corpus = syntax_corpus();
    let text = std::fs::read_to_string(corpus.join(format!("{module}.py"))).unwrap();
    let main = format!("from {module} import probe\n{LOOP}");
    let dir = project(&[(&format!("{module}.py"), &text), ("main.py", &main)]);
    let mut program = Program::start(&jurigged(), &["main.py"], dir.path());
    program.expect("syntax probe 1");
    let file = dir.path().join(format!("{module}.py"));
    edit(&file, "\"syntax probe 1\"", "\"syntax probe 2\"");
    program.expect("syntax probe 2");
    // With a line added above everything else (one save): the whole module moves.
    let text = std::fs::read_to_string(&file).unwrap();
    let text = format!(
        "\n{}",
        text.replace("\"syntax probe 2\"", "\"syntax probe 3\"")
    );
    save(&file, &text, Save::InPlace);
    program.expect("syntax probe 3");
    program.assert_no_errors();
}

#[test]
fn every_construct_of_the_running_python_is_patchable() {
    let (_, running) = running_version();
    let mut tried = 0;
    for minor in 9..=running {
        let module = format!("py3{minor}");
        if syntax_corpus().join(format!("{module}.py")).exists() {
            patch_live(&module);
            tried += 1;
        }
    }
    assert!(tried >= 1);
}
