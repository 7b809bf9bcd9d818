//! With the `python` feature the binary links the libpython that pyo3 found
//! (the `python3` on `PATH`, or `PYO3_PYTHON`). Its directory is recorded as
//! the run path, so the binary loads that library and not another of the
//! same name in the system's directories (Debian's, say, beside pyenv's).

fn main() {
    #[cfg(feature = "python")]
    python_run_path();
}

#[cfg(feature = "python")]
fn python_run_path() {
    let config = pyo3_build_config::get();
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    if let Some(lib_dir) = &config.lib_dir {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    }
    if let Some(python) = &config.executable {
        // `funcmesh bundle build` installs dependencies with the same Python.
        println!("cargo:rustc-env=FUNCMESH_PYTHON={python}");
    }
    let version = format!("{}.{}", config.version.major, config.version.minor);
    println!("cargo:rustc-env=FUNCMESH_PYTHON_VERSION={version}");
}
