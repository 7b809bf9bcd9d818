//! One call: a fresh store and WASI context, an instance from the pre-linked
//! module, the request written in, the handler called, the response read out.
//! Runs on the async workers as a fiber that yields at every epoch tick;
//! every failure of the guest is a [`CallError`] for this request only.

use std::sync::Arc;

use bytes::Bytes;
use func_sdk::abi;
use tracing::Instrument as _;
use wasmtime::{
    Engine, Extern, Memory, ModuleExport, PoolConcurrencyLimitError, ResourceLimiter, Store, Trap,
    TypedFunc, UpdateDeadline,
};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

use super::install::Installed;
use super::output::{Capture, panic_message};
use super::{CallError, GuestResponse};

/// The state of one store.
pub struct Host {
    pub wasi: WasiP1Ctx,
    pub limits: MemoryCap,
}

/// Enforces the manifest's memory limit and remembers that it was hit, so
/// that the trap that follows is reported as what it is.
pub struct MemoryCap {
    max_bytes: usize,
    exceeded: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("memory limit of {max_bytes} bytes exceeded (growing to {desired} bytes)")]
struct MemoryLimitExceeded {
    max_bytes: usize,
    desired: usize,
}

impl MemoryCap {
    pub fn new(max_bytes: usize) -> MemoryCap {
        MemoryCap {
            max_bytes,
            exceeded: false,
        }
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.exceeded = true;
            // Trapping (rather than failing the grow) stops the guest at once.
            return Err(MemoryLimitExceeded {
                max_bytes: self.max_bytes,
                desired,
            }
            .into());
        }
        Ok(maximum.is_none_or(|max| desired <= max))
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.exceeded = true;
        Err(error)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(maximum.is_none_or(|max| desired <= max))
    }
}

/// Everything one call needs.
pub struct Call {
    pub installed: Arc<Installed>,
    pub operation: ModuleExport,
    pub input: Vec<u8>,
    pub deadline: std::time::Instant,
    pub budget_ms: u64,
    pub capture_bytes: usize,
}

/// The result and what the guest printed.
pub struct Outcome {
    pub result: Result<GuestResponse, CallError>,
    pub stdout: Option<Capture>,
    pub stderr: Capture,
}

/// Runs one call to completion, trap or deadline.
pub async fn run(engine: &Engine, call: &Call) -> Outcome {
    let installed = &call.installed;
    let log_output = installed.bundle.manifest.wasi.log_output;
    let stdout = log_output.then(|| Capture::new(call.capture_bytes));
    // stderr is always kept: it carries the panic message of a trap.
    let stderr = Capture::new(call.capture_bytes);
    let result = match store(engine, call, stdout.as_ref(), &stderr) {
        Ok(mut store) => invoke(&mut store, call)
            .await
            .map_err(|error| classify(error, store.data().limits.exceeded, call, &stderr)),
        Err(error) => Err(error),
    };
    Outcome {
        result,
        stdout,
        stderr,
    }
}

fn store(
    engine: &Engine,
    call: &Call,
    stdout: Option<&Capture>,
    stderr: &Capture,
) -> Result<Store<Host>, CallError> {
    let installed = &call.installed;
    let mut wasi = WasiCtxBuilder::new();
    // No `allow_blocking_current_thread`: calls run on the async workers, and
    // with it a guest's sleep would block a worker thread instead of yielding.
    wasi.stderr(stderr.clone());
    if let Some(stdout) = stdout {
        wasi.stdout(stdout.clone());
    }
    for (key, value) in &installed.env {
        wasi.env(key, value);
    }
    for (host, guest, perms) in &installed.dirs {
        wasi.preopened_dir(host, guest, *perms).map_err(|e| {
            CallError::Internal(format!(
                "cannot open granted directory {}: {e:#}",
                host.display()
            ))
        })?;
    }
    let host = Host {
        wasi: wasi.build_p1(),
        limits: MemoryCap::new(installed.memory_limit_bytes),
    };
    let mut store = Store::new(engine, host);
    store.limiter(|host| &mut host.limits);
    // At every tick: past the deadline the guest is interrupted (504);
    // before it, the fiber yields so the worker serves other tasks.
    let deadline = call.deadline;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        Ok(if std::time::Instant::now() >= deadline {
            UpdateDeadline::Interrupt
        } else {
            UpdateDeadline::Yield(1)
        })
    });
    Ok(store)
}

/// The guest part: any error here is the guest's (or the deadline's).
async fn invoke(store: &mut Store<Host>, call: &Call) -> Result<GuestResponse, Failure> {
    let instantiated = instantiate(store, call)
        .instrument(tracing::debug_span!("runner.instantiate"))
        .await?;
    call_handler(store, call, instantiated)
        .instrument(tracing::debug_span!("runner.call"))
        .await
}

/// What a call needs of an instance.
struct Instantiated {
    memory: Memory,
    alloc: TypedFunc<i32, i32>,
    handler: TypedFunc<(i32, i32), i64>,
}

/// A fresh instance, initialized, and the exports the call uses.
async fn instantiate(store: &mut Store<Host>, call: &Call) -> Result<Instantiated, Failure> {
    let exports = &call.installed.exports;
    let instance = call.installed.pre.instantiate_async(&mut *store).await?;
    let mut func = |export: &ModuleExport| instance.get_module_export(&mut *store, export);
    let memory = func(&exports.memory).and_then(Extern::into_memory);
    let alloc = func(&exports.alloc).and_then(Extern::into_func);
    let initialize = exports
        .initialize
        .as_ref()
        .and_then(&mut func)
        .and_then(Extern::into_func);
    let handler = func(&call.operation).and_then(Extern::into_func);
    let (Some(memory), Some(alloc), Some(handler)) = (memory, alloc, handler) else {
        return Err(Failure::Host(
            "checked exports are missing from the instance".into(),
        ));
    };
    let alloc: TypedFunc<i32, i32> = alloc.typed(&*store)?;
    let handler: TypedFunc<(i32, i32), i64> = handler.typed(&*store)?;
    if let Some(init) = initialize {
        init.typed::<(), ()>(&*store)?
            .call_async(&mut *store, ())
            .await?;
    }
    Ok(Instantiated {
        memory,
        alloc,
        handler,
    })
}

/// The request written in, the handler called, its response read out.
async fn call_handler(
    store: &mut Store<Host>,
    call: &Call,
    instance: Instantiated,
) -> Result<GuestResponse, Failure> {
    let Instantiated {
        memory,
        alloc,
        handler,
    } = instance;
    let len = i32::try_from(call.input.len())
        .map_err(|_| Failure::Host("request exceeds 2 GiB".into()))?;
    let ptr = alloc.call_async(&mut *store, len).await?;
    memory
        .write(&mut *store, ptr as u32 as usize, &call.input)
        .map_err(|_| {
            Failure::Malformed(format!(
                "funcmesh_alloc({len}) returned {ptr:#x}, outside memory"
            ))
        })?;
    let packed = handler.call_async(&mut *store, (ptr, len)).await?;
    read_output(store, memory, packed)
}

fn read_output(store: &Store<Host>, memory: Memory, packed: i64) -> Result<GuestResponse, Failure> {
    let (ptr, len) = abi::unpack_ptr_len(packed);
    let data = memory.data(store);
    let start = ptr as usize;
    let out = start
        .checked_add(len as usize)
        .and_then(|end| data.get(start..end))
        .ok_or_else(|| {
            Failure::Malformed(format!(
                "output buffer {ptr:#x}+{len} is outside memory of {} bytes",
                data.len()
            ))
        })?;
    let (meta, body) = abi::decode_output(out).map_err(|e| Failure::Malformed(e.to_string()))?;
    Ok(GuestResponse {
        status: meta.status,
        headers: meta.headers,
        body: Bytes::copy_from_slice(body),
    })
}

/// A failure inside [`invoke`], before classification.
enum Failure {
    Wasm(wasmtime::Error),
    Malformed(String),
    Host(String),
}

impl From<wasmtime::Error> for Failure {
    fn from(error: wasmtime::Error) -> Self {
        Failure::Wasm(error)
    }
}

fn classify(failure: Failure, memory_exceeded: bool, call: &Call, stderr: &Capture) -> CallError {
    let error = match failure {
        Failure::Wasm(error) => error,
        Failure::Malformed(message) => return CallError::Malformed(message),
        Failure::Host(message) => return CallError::Internal(message),
    };
    if memory_exceeded {
        return CallError::MemoryLimit {
            limit_mb: call.installed.bundle.manifest.memory_limit_mb,
        };
    }
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return CallError::Exit(exit.0);
    }
    if let Some(limit) = error.downcast_ref::<PoolConcurrencyLimitError>() {
        return CallError::Overloaded(limit.to_string());
    }
    let trap = match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => {
            return CallError::Timeout {
                budget_ms: call.budget_ms,
            };
        }
        Some(trap) => trap.to_string(),
        // A host function failed the guest (e.g. a WASI call it misused).
        None => format!("{error:#}"),
    };
    CallError::Trap {
        trap,
        panic: panic_message(&stderr.text()),
    }
}
