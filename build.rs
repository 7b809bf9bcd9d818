//! `funcmesh --version` names the commit the binary was built from, when it
//! was built from a git checkout.
//!
//! With the `python` feature the binary links the libpython that pyo3 found
//! (the `python3` on `PATH`, or `PYO3_PYTHON`). Its directory is recorded as
//! the run path, so the binary loads that library and not another of the
//! same name in the system's directories (Debian's, say, beside pyenv's).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    git_commit();
    #[cfg(feature = "python")]
    python_run_path();
}

/// Sets `FUNCMESH_GIT_COMMIT` to the checkout's commit (12 digits), or to
/// `FUNCMESH_GIT_COMMIT` from the build's environment when there is no
/// checkout (an image's build), or `unknown`; the build script runs again when the
/// commit changes (not on every edit, which would rebuild the binary and
/// every test that runs it each time `git status` touched the index).
fn git_commit() {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        for watched in ["HEAD", "packed-refs"] {
            println!("cargo:rerun-if-changed={git_dir}/{watched}");
        }
        if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={git_dir}/{reference}");
        }
    }
    println!("cargo:rerun-if-env-changed=FUNCMESH_GIT_COMMIT");
    let commit = commit
        .or_else(|| std::env::var("FUNCMESH_GIT_COMMIT").ok())
        .filter(|commit| !commit.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=FUNCMESH_GIT_COMMIT={commit}");
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
