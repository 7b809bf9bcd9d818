//! Turning a bundle into something callable: compile the module (once per
//! distinct module), check that it speaks the funcmesh ABI and exports
//! every operation, and pre-link it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use func_sdk::abi;
use funcmesh_core::bundle::{Bundle, Code};
use wasmtime::{Engine, ExternType, FuncType, InstancePre, Linker, Module, ModuleExport, Store};
use wasmtime_wasi::FsPerms;

use super::InstallError;
use super::instance::{Host, MemoryCap};
use super::shares::ShareId;

/// Export indices looked up once, so a call never searches by name.
pub struct Exports {
    pub memory: ModuleExport,
    pub alloc: ModuleExport,
    pub initialize: Option<ModuleExport>,
    pub operations: HashMap<String, ModuleExport>,
}

/// A bundle ready to be called.
pub struct Installed {
    pub bundle: Arc<Bundle>,
    pub module: Module,
    pub pre: InstancePre<Host>,
    pub exports: Exports,
    /// Its account in the executor's [`super::shares::Shares`].
    pub share: ShareId,
    pub memory_limit_bytes: usize,
    pub timeout: Duration,
    pub env: Vec<(String, String)>,
    /// Host directory, guest path, permissions.
    pub dirs: Vec<(PathBuf, String, FsPerms)>,
}

fn not_wasm(bundle: &Bundle) -> InstallError {
    InstallError::Unsupported {
        hash: bundle.hash.clone(),
        message: "not a WebAssembly bundle".to_owned(),
    }
}

/// Compiles `bundle`'s module on a blocking thread.
pub async fn compile(engine: &Engine, bundle: &Bundle) -> Result<Module, InstallError> {
    let Code::Wasm { path, bytes } = &bundle.code else {
        return Err(not_wasm(bundle));
    };
    let (engine, bytes) = (engine.clone(), Arc::clone(bytes));
    let compiled = tokio::task::spawn_blocking(move || Module::new(&engine, &bytes[..]))
        .await
        .map_err(|e| InstallError::Internal {
            hash: bundle.hash.clone(),
            message: e.to_string(),
        })?;
    compiled.map_err(|e| InstallError::Compile {
        hash: bundle.hash.clone(),
        path: path.display().to_string(),
        message: format!("{e:#}"),
    })
}

/// Checks the module against the ABI and the operations, and pre-links it.
pub fn prepare(
    linker: &Linker<Host>,
    bundle: &Arc<Bundle>,
    module: Module,
    max_memory_mb: u32,
    share: ShareId,
) -> Result<Installed, InstallError> {
    let Code::Wasm { path, .. } = &bundle.code else {
        return Err(not_wasm(bundle));
    };
    let abi_error = |message: String| InstallError::Abi {
        hash: bundle.hash.clone(),
        path: path.display().to_string(),
        message,
    };
    let manifest = &bundle.manifest;
    if manifest.memory_limit_mb > max_memory_mb {
        return Err(InstallError::Limits {
            hash: bundle.hash.clone(),
            message: format!(
                "memory_limit_mb = {} exceeds this runner's maximum of {max_memory_mb} MiB",
                manifest.memory_limit_mb
            ),
        });
    }
    let export = |name: &str, want: &str| -> Result<ModuleExport, String> {
        check_export(&module, name, want)?;
        module
            .get_export_index(name)
            .ok_or_else(|| format!("missing export `{name}`"))
    };
    let memory = export(abi::MEMORY_EXPORT, "memory").map_err(abi_error)?;
    let alloc = export(abi::ALLOC_EXPORT, "(i32) -> (i32)").map_err(abi_error)?;
    let initialize = match module.get_export(abi::INITIALIZE_EXPORT) {
        Some(_) => Some(export(abi::INITIALIZE_EXPORT, "() -> ()").map_err(abi_error)?),
        None => None,
    };
    if module.get_export(abi::VERSION_EXPORT).is_some() {
        export(abi::VERSION_EXPORT, "() -> (i32)").map_err(abi_error)?;
    }
    let mut operations = HashMap::new();
    let mut missing = Vec::new();
    for op in &bundle.operations {
        match export(&op.id, "(i32, i32) -> (i64)") {
            Ok(index) => {
                operations.insert(op.id.clone(), index);
            }
            Err(problem) => missing.push(problem),
        }
    }
    if !missing.is_empty() {
        return Err(abi_error(missing.join("; ")));
    }
    let pre = linker
        .instantiate_pre(&module)
        .map_err(|e| abi_error(format!("cannot be linked: {e:#}")))?;
    let bad_grant = |host: &str| !inside_bundle(host) || !bundle.dir.join(host).is_dir();
    if let Some(grant) = manifest.wasi.dirs.iter().find(|d| bad_grant(&d.host)) {
        return Err(InstallError::Limits {
            hash: bundle.hash.clone(),
            message: format!(
                "wasi.dirs: {:?} is not a directory inside the bundle",
                grant.host
            ),
        });
    }
    let dirs = manifest
        .wasi
        .dirs
        .iter()
        .map(|d| {
            (
                bundle.dir.join(&d.host),
                d.guest.clone(),
                if d.writable {
                    FsPerms::ReadWrite
                } else {
                    FsPerms::ReadOnly
                },
            )
        })
        .collect();
    Ok(Installed {
        bundle: Arc::clone(bundle),
        module,
        pre,
        exports: Exports {
            memory,
            alloc,
            initialize,
            operations,
        },
        share,
        memory_limit_bytes: (u64::from(manifest.memory_limit_mb) << 20) as usize,
        timeout: Duration::from_millis(manifest.timeout_ms),
        env: manifest
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        dirs,
    })
}

/// Instantiates once and asks `funcmesh_abi_version`, when exported. This
/// also proves the module instantiates within its limits.
pub async fn check_version(installed: &Installed, mut store: Store<Host>) -> Result<(), String> {
    let instance = installed
        .pre
        .instantiate_async(&mut store)
        .await
        .map_err(|e| format!("cannot be instantiated: {e:#}"))?;
    let Ok(version) = instance.get_typed_func::<(), i32>(&mut store, abi::VERSION_EXPORT) else {
        return Ok(());
    };
    match version.call_async(&mut store, ()).await {
        Ok(abi::ABI_VERSION) => Ok(()),
        Ok(other) => Err(format!(
            "speaks funcmesh ABI version {other}; this runner speaks {}",
            abi::ABI_VERSION
        )),
        Err(e) => Err(format!("`{}` failed: {e:#}", abi::VERSION_EXPORT)),
    }
}

/// Whether a granted path stays inside the bundle: relative, no `..`.
fn inside_bundle(path: &str) -> bool {
    use std::path::Component;
    std::path::Path::new(path)
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// A store for [`check_version`]: no WASI grants, the bundle's memory
/// limit, five seconds.
pub fn probe_store(engine: &Engine, installed: &Installed, tick: Duration) -> Store<Host> {
    let host = Host {
        wasi: wasmtime_wasi::WasiCtxBuilder::new().build_p1(),
        limits: MemoryCap::new(installed.memory_limit_bytes),
    };
    let mut store = Store::new(engine, host);
    store.limiter(|host| &mut host.limits);
    store.set_epoch_deadline(
        Duration::from_secs(5)
            .as_millis()
            .div_ceil(tick.as_millis().max(1)) as u64,
    );
    store
}

fn check_export(module: &Module, name: &str, want: &str) -> Result<(), String> {
    let found = match module.get_export(name) {
        None => return Err(format!("missing export `{name}`")),
        Some(ExternType::Func(ty)) => signature(&ty),
        Some(ExternType::Memory(_)) => "memory".to_owned(),
        Some(ExternType::Global(_)) => "a global".to_owned(),
        Some(ExternType::Table(_)) => "a table".to_owned(),
        Some(_) => "something else".to_owned(),
    };
    if found == want {
        Ok(())
    } else {
        Err(format!("export `{name}` is {found}, expected {want}"))
    }
}

fn signature(ty: &FuncType) -> String {
    let join = |types: Vec<String>| types.join(", ");
    format!(
        "({}) -> ({})",
        join(ty.params().map(|t| t.to_string()).collect()),
        join(ty.results().map(|t| t.to_string()).collect())
    )
}
