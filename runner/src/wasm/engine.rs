//! The one `wasmtime::Engine` of a runner process, its linker, and the
//! thread that advances its epoch.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, Linker, PoolingAllocationConfig, Strategy,
};

use super::ExecutorConfig;
use super::instance::Host;

/// The largest linear memory a 32-bit wasm module can address.
pub const MAX_MEMORY_MB: u32 = 4096;

/// Builds the engine: Cranelift, epoch interruption, and a pooling allocator
/// with twice `concurrency` slots of `max_memory_mb` each.
pub fn build(config: &ExecutorConfig) -> wasmtime::Result<Engine> {
    let slots = u32::try_from(config.concurrency.max(1).saturating_mul(2)).unwrap_or(u32::MAX);
    let max_memory = (u64::from(config.max_memory_mb.clamp(1, MAX_MEMORY_MB)) << 20) as usize;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(slots)
        .total_memories(slots)
        .total_tables(slots)
        .total_component_instances(0)
        // Calls run on the async workers as fibers that yield at every epoch
        // tick: no hand-off to a blocking thread per request, and a
        // long-running guest cannot starve the tasks beside it.
        .total_stacks(slots)
        // The top of a call's stack is zeroed and stays resident; the rest
        // of the stack is given back to the kernel.
        .async_stack_keep_resident(64 << 10)
        .max_memory_size(max_memory)
        .linear_memory_keep_resident(config.keep_resident_bytes)
        .table_keep_resident(config.keep_resident_bytes.min(1 << 20))
        // Where the kernel can tell which pages a call wrote (Linux 6.7's
        // PAGEMAP_SCAN), only those are reset for the next instance;
        // elsewhere the whole resident part is, as it was before.
        .pagemap_scan(Enabled::Auto);
    let mut wasm = Config::new();
    wasm.strategy(Strategy::Cranelift)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    // The default 4 GiB reservation plus guard pages lets Cranelift drop
    // bounds checks for 32-bit memories; slots cost address space, not RAM.
    Engine::new(&wasm)
}

/// The linker every bundle instantiates through: WASI preview 1 and nothing
/// else, set up once per process.
pub fn linker(engine: &Engine) -> wasmtime::Result<Linker<Host>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_async(&mut linker, |host: &mut Host| &mut host.wasi)?;
    Ok(linker)
}

/// Advances the engine's epoch every tick until dropped.
pub struct EpochTicker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts the ticker thread.
    pub fn start(engine: Engine, tick: Duration) -> std::io::Result<EpochTicker> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("funcmesh-epoch".into())
            .spawn(move || {
                // The sender never sends: its drop ends the loop.
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    engine.increment_epoch();
                }
            })?;
        Ok(EpochTicker {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
