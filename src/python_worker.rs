//! `funcmesh __python-worker`: one interpreter serving one Python bundle
//! version for a runner, which starts it and talks to it over its stdin and
//! stdout (`funcmesh_runner::python::protocol`).
//!
//! The worker reads an `Init` frame, imports the bundle once, answers
//! `Ready` (or `InitFailed`, then exits), and then runs one call per `Call`
//! frame on its main thread, where the interpreter delivers signals: a
//! SIGALRM armed for the call's budget raises `DeadlineExceeded` inside the
//! function. It exits when the runner closes its stdin. What the functions
//! print goes to stderr, which the runner logs; stdout carries frames only.
//!
//! The runner starts it confined (`funcmesh_runner::python`'s `confine`:
//! another user, hard limits, a death signal). Before it reads anything it
//! makes itself non-dumpable, so that processes of the same user (other
//! workers, what a function forks) can neither read its memory nor its
//! `/proc/PID/environ`, and arranges for every process it forks to be
//! killed when its parent dies.

use std::ffi::CString;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::os::fd::FromRawFd as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};

use funcmesh_runner::python::protocol::{self, FromWorker, ToWorker};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyModule};

const BOOTSTRAP: &str = include_str!("python_worker/bootstrap.py");

/// The funcmesh package's modules and their sources, which the worker
/// serves to every bundle ahead of any copy the bundle vendors.
fn sdk_sources() -> Vec<(String, &'static str)> {
    funcmesh::sdk::python_modules().collect()
}

/// The Python objects every call uses, resolved once.
struct Loaded {
    bootstrap: Py<PyModule>,
    invoke: Py<PyAny>,
    functions: Py<PyDict>,
}

/// Runs the worker until its stdin closes.
pub fn main() -> ExitCode {
    if let Err(error) = confine_self() {
        eprintln!("python worker: cannot confine itself: {error}");
        return ExitCode::from(70);
    }
    // Frames go out on the original stdout; fd 1 becomes stderr, so that
    // `print` in a function cannot corrupt them.
    // SAFETY: dup/dup2 on the process's own standard descriptors, before
    // any other thread exists.
    let frames_out = unsafe {
        let fd = libc::dup(1);
        if fd < 0 || libc::dup2(2, 1) < 0 {
            eprintln!("python worker: cannot set up its descriptors");
            return ExitCode::from(70);
        }
        File::from_raw_fd(fd)
    };
    let mut output = BufWriter::new(frames_out);
    let stdin = std::io::stdin();
    let mut input = BufReader::new(stdin.lock());
    match serve(&mut input, &mut output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("python worker: {error}");
            let _ = output.flush();
            ExitCode::from(70)
        }
    }
}

/// The pid of the process about to fork, for its child to check.
static FORKING: AtomicI32 = AtomicI32::new(0);

extern "C" fn before_fork() {
    // SAFETY: getpid cannot fail.
    FORKING.store(unsafe { libc::getpid() }, Ordering::Relaxed);
}

/// In every child forked by this process or its descendants (os.fork,
/// multiprocessing): die with the parent. The signal follows the thread
/// that forked, as it does for the worker itself.
extern "C" fn in_child() {
    // SAFETY: prctl, getppid and _exit are async-signal-safe.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != FORKING.load(Ordering::Relaxed) {
            libc::_exit(0);
        }
    }
}

/// Non-dumpable, and every child forked dies with its parent.
fn confine_self() -> std::io::Result<()> {
    // SAFETY: plain system calls on this process; the handlers registered
    // make only async-signal-safe calls.
    unsafe {
        if libc::prctl(libc::PR_SET_DUMPABLE, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        match libc::pthread_atfork(Some(before_fork), None, Some(in_child)) {
            0 => Ok(()),
            errno => Err(std::io::Error::from_raw_os_error(errno)),
        }
    }
}

fn serve(input: &mut impl std::io::Read, output: &mut impl Write) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    let Some((init, _)) = protocol::read::<ToWorker>(input).map_err(io)? else {
        return Ok(());
    };
    let ToWorker::Init {
        bundle,
        dir,
        operations,
        env,
    } = init
    else {
        return Err("the first frame must be `init`".to_owned());
    };
    Python::initialize();
    let loaded = Python::attach(|py| load(py, &dir, &operations, env));
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(message) => {
            let failed = FromWorker::InitFailed { message };
            return protocol::write(output, &failed, b"").map_err(io);
        }
    };
    let (loaded, ready) = loaded;
    protocol::write(output, &ready, b"").map_err(io)?;
    tracing_free_note(&bundle);
    while let Some((frame, body)) = protocol::read::<ToWorker>(input).map_err(io)? {
        let ToWorker::Call {
            operation,
            meta,
            budget_ms,
        } = frame
        else {
            return Err("only `call` frames may follow `init`".to_owned());
        };
        let (answer, body) =
            Python::attach(|py| call(py, &loaded, &operation, &meta, &body, budget_ms));
        protocol::write(output, &answer, &body).map_err(io)?;
    }
    Ok(())
}

/// Says in the log which version this worker serves.
fn tracing_free_note(bundle: &str) {
    if std::env::var_os("FUNCMESH_PYTHON_WORKER_VERBOSE").is_some() {
        eprintln!("python worker {}: serving {bundle}", std::process::id());
    }
}

/// Prepares the interpreter and imports the bundle.
fn load(
    py: Python<'_>,
    dir: &str,
    operations: &[String],
    env: std::collections::BTreeMap<String, String>,
) -> Result<(Loaded, FromWorker), String> {
    let python_error = |e: PyErr| describe_plain(py, &e);
    let code = CString::new(BOOTSTRAP).map_err(|e| e.to_string())?;
    let bootstrap = PyModule::from_code(
        py,
        &code,
        c"<funcmesh-worker>/bootstrap.py",
        c"_funcmesh_worker",
    )
    .map_err(python_error)?;
    bootstrap
        .getattr("setup")
        .and_then(|setup| setup.call1((dir, sdk_sources(), env)))
        .map_err(python_error)?;
    let (functions, problem, import_ms): (Option<Bound<'_, PyDict>>, Option<String>, u64) =
        bootstrap
            .getattr("load")
            .and_then(|load| load.call1((operations.to_vec(),)))
            .and_then(|result| result.extract())
            .map_err(python_error)?;
    let functions = match (functions, problem) {
        (Some(functions), None) => functions,
        (_, problem) => return Err(problem.unwrap_or_else(|| "the bundle did not load".to_owned())),
    };
    let invoke = py
        .import("funcmesh")
        .and_then(|sdk| sdk.getattr("_invoke"))
        .map_err(python_error)?;
    let version: String = py
        .import("sys")
        .and_then(|sys| sys.getattr("version"))
        .and_then(|v| v.extract())
        .map_err(python_error)?;
    let loaded = Loaded {
        bootstrap: bootstrap.unbind(),
        invoke: invoke.unbind(),
        functions: functions.unbind(),
    };
    Ok((
        loaded,
        FromWorker::Ready {
            python: version,
            import_ms,
        },
    ))
}

/// One call: the function's response, its exception, or its interruption.
fn call(
    py: Python<'_>,
    loaded: &Loaded,
    operation: &str,
    meta: &str,
    body: &[u8],
    budget_ms: u64,
) -> (FromWorker, Vec<u8>) {
    let bootstrap = loaded.bootstrap.bind(py);
    let function = match loaded.functions.bind(py).get_item(operation) {
        Ok(Some(function)) => function,
        _ => {
            let missing = FromWorker::Exception {
                kind: "LookupError".to_owned(),
                message: format!("operation `{operation}` is not loaded in this worker"),
                traceback: String::new(),
            };
            return (missing, Vec::new());
        }
    };
    let budget_s = budget_ms as f64 / 1000.0;
    let result = bootstrap.getattr("run").and_then(|run| {
        run.call1((
            loaded.invoke.bind(py),
            function,
            meta,
            PyBytes::new(py, body),
            budget_s,
        ))
    });
    let answer = result.and_then(|answer| {
        let (status, headers, body): (u16, Vec<(String, String)>, Bound<'_, PyBytes>) =
            answer.extract()?;
        Ok((
            FromWorker::Response { status, headers },
            body.as_bytes().to_vec(),
        ))
    });
    match answer {
        Ok(answer) => answer,
        Err(error) => (failure(py, bootstrap, &error), Vec::new()),
    }
}

/// An exception as the frame the runner expects.
fn failure(py: Python<'_>, bootstrap: &Bound<'_, PyModule>, error: &PyErr) -> FromWorker {
    let deadline = bootstrap
        .getattr("DeadlineExceeded")
        .is_ok_and(|kind| error.get_type(py).is(&kind));
    let described: PyResult<(String, String, String)> = bootstrap
        .getattr("describe")
        .and_then(|describe| describe.call1((error.value(py),)))
        .and_then(|d| d.extract());
    let (kind, message, traceback) = described.unwrap_or_else(|_| {
        let kind = error
            .get_type(py)
            .name()
            .map_or_else(|_| "Exception".to_owned(), |n| n.to_string());
        (kind, error.to_string(), String::new())
    });
    match deadline {
        true => FromWorker::Timeout { traceback },
        false => FromWorker::Exception {
            kind,
            message,
            traceback,
        },
    }
}

/// An exception of the worker's own set-up, as text.
fn describe_plain(py: Python<'_>, error: &PyErr) -> String {
    let traceback = error
        .traceback(py)
        .and_then(|tb| tb.format().ok())
        .unwrap_or_default();
    format!("{traceback}{error}")
}

/// Whether this process was started as a Python worker.
pub fn requested() -> bool {
    std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == funcmesh_runner::python::WORKER_ARG)
}
