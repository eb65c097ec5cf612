//! Links against the libpython that pyo3 found (honouring PYO3_PYTHON) and makes the binary
//! load that same library at run time (rpath), so another `libpython3.X.so` on the system
//! can never be picked up silently. An extension module build (maturin sets
//! PYO3_BUILD_EXTENSION_MODULE) links no libpython: any CPython of its version loads it,
//! static or shared.

fn main() {
    pyo3_build_config::use_pyo3_cfgs();
    let config = pyo3_build_config::get();
    let version = config.version();
    println!("cargo:rerun-if-env-changed=PYO3_BUILD_EXTENSION_MODULE");
    let extension_module = std::env::var_os("PYO3_BUILD_EXTENSION_MODULE").is_some();
    if !config.shared() && !extension_module {
        eprintln!(
            "error: jurigged embeds CPython and needs a shared build (libpython{}.{}.so), \
             but the Python found ({}) is a static build.\n\
             Point PYO3_PYTHON at a Python built with --enable-shared \
             (pyenv: PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install {}.{}).",
            version.major,
            version.minor,
            config.executable().unwrap_or("python3"),
            version.major,
            version.minor,
        );
        std::process::exit(1);
    }
    if !extension_module {
        pyo3_build_config::add_libpython_rpath_link_args();
    }
    let executable = config.executable().unwrap_or_default();
    println!("cargo:rustc-env=JURIGGED_PYTHON_EXECUTABLE={executable}");
    println!(
        "cargo:rustc-env=JURIGGED_PYTHON_VERSION={}.{}",
        version.major, version.minor
    );
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-changed=../../build/link_python.rs");
}
