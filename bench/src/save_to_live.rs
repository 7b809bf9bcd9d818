//! Save-to-live: the time from writing a changed bundle to the first answer
//! from its new version, with `funcmesh dev`'s watcher in the loop.
//!
//! One process runs a mesh that watches a temporary directory holding
//! `hello` as an already-compiled wasm bundle and `hello-rust` as a copy of
//! the `hello` Rust func crate (the examples' release profile). ROUNDS times
//! (default 20), the wasm bundle's spec gets a new description, so a new
//! hash; each round is timed from the write to the first HTTP answer whose
//! `x-funcmesh-bundle` is the new hash. Then one line of the Rust crate's
//! source changes, timed the same way, cargo's rebuild included.
//!
//!   save-to-live [ROUNDS]
//!
//! The last line on stdout is the JSON summary.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use bytes::Bytes;
use funcmesh::dev::{DevMesh, DevOptions, ReloadEvent};
use funcmesh_core::bundle::{Code, load_any};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::broadcast;

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// How long one wasm reload may take before the run is declared broken.
const RELOAD_LIMIT: Duration = Duration::from_secs(10);
/// How long the Rust crate's builds may take (the first compiles its
/// dependencies for wasm32).
const BUILD_LIMIT: Duration = Duration::from_secs(900);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = std::env::var("FUNCMESH_LOG").unwrap_or_else(|_| "warn".to_owned());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(filter)?)
        .with_writer(std::io::stderr)
        .init();
    let rounds: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().context("ROUNDS must be a number")?,
        None => 20,
    };
    ensure!(rounds > 0, "ROUNDS must be at least 1");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the bench crate sits in the repository")?
        .to_path_buf();
    let example = repo.join("swagger-examples/hello");

    eprintln!("save-to-live: building the hello module");
    let owned = example.clone();
    let built = tokio::task::spawn_blocking(move || load_any(&owned)).await??;
    let Code::Wasm { path: module, .. } = &built.code else {
        anyhow::bail!("the hello example is not a WebAssembly bundle");
    };

    let tmp = tempfile::tempdir()?;
    let wasm_dir = tmp.path().join("hello");
    let spec = std::fs::read_to_string(example.join("openapi.yaml"))?;
    std::fs::create_dir(&wasm_dir)?;
    std::fs::write(wasm_dir.join("openapi.yaml"), &spec)?;
    std::fs::copy(module, wasm_dir.join("hello.wasm"))?;
    std::fs::copy(
        example.join("funcmesh.toml"),
        wasm_dir.join("funcmesh.toml"),
    )?;
    let rust_dir = tmp.path().join("hello-rust");
    write_rust_crate(&repo, &example, &rust_dir)?;

    eprintln!("save-to-live: starting the mesh (it builds hello-rust)");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mesh = DevMesh::start(DevOptions::new(tmp.path()), listener).await?;
    let watch = mesh.watch()?;
    let mut events = watch.subscribe();
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let addr = mesh.local_addr();
    let wasm_url = format!("http://{addr}/hello/greet?name=Ada");
    let rust_url = format!("http://{addr}/hello-rust/greet?name=Ada");

    let mut current = get(&client, &wasm_url).await?.0;
    let mut samples = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        let text = spec.replacen(
            "description:",
            &format!("description: (revision {round})"),
            1,
        );
        ensure!(text != spec, "the hello spec has no description to change");
        let started = Instant::now();
        std::fs::write(wasm_dir.join("openapi.yaml"), text)?;
        current = until_new(&client, &wasm_url, &current, started + RELOAD_LIMIT).await?;
        let took = started.elapsed();
        samples.push(took);
        eprintln!("  round {round:2}: {:7.1} ms", ms(took));
        no_failure(&mut events)?;
    }

    let before = get(&client, &rust_url).await?.0;
    let lib = rust_dir.join("src/lib.rs");
    let source = std::fs::read_to_string(&lib)?;
    let changed = source.replacen("\"Hello, {name}!\"", "\"Hi, {name}!\"", 1);
    ensure!(
        changed != source,
        "the hello source has no greeting line to change"
    );
    let started = Instant::now();
    std::fs::write(&lib, changed)?;
    until_new(&client, &rust_url, &before, started + BUILD_LIMIT).await?;
    let rebuild = started.elapsed();
    no_failure(&mut events)?;
    let body = get(&client, &rust_url).await?.1;
    ensure!(
        body.contains("Hi, Ada!"),
        "the rebuilt function answers {body}"
    );
    eprintln!(
        "  Rust func, one-line change to live: {:.1} ms",
        ms(rebuild)
    );

    drop(watch);
    mesh.shutdown().await?;
    samples.sort();
    let median = match samples.len() % 2 {
        1 => ms(samples[samples.len() / 2]),
        _ => (ms(samples[samples.len() / 2 - 1]) + ms(samples[samples.len() / 2])) / 2.0,
    };
    let max = samples.last().map_or(0.0, |d| ms(*d));
    eprintln!("save-to-live: {rounds} reloads, median {median:.1} ms, max {max:.1} ms");
    println!(
        "{{\"scenario\":\"save_to_live\",\"median_ms\":{median:.1},\"max_ms\":{max:.1},\"rust_rebuild_ms\":{:.0}}}",
        ms(rebuild)
    );
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The `x-funcmesh-bundle` and body of a 200 answer from `url`.
async fn get(client: &HttpClient, url: &str) -> anyhow::Result<(String, String)> {
    let resp = client
        .get(url.parse()?)
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    let hash = resp
        .headers()
        .get("x-funcmesh-bundle")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = resp.into_body().collect().await?.to_bytes();
    let body = String::from_utf8_lossy(&body).into_owned();
    ensure!(status == 200, "GET {url} answered {status}: {body}");
    Ok((hash, body))
}

/// Asks `url` until a version other than `old` answers; that version.
async fn until_new(
    client: &HttpClient,
    url: &str,
    old: &str,
    deadline: Instant,
) -> anyhow::Result<String> {
    loop {
        let (hash, _) = get(client, url).await?;
        if hash != old {
            return Ok(hash);
        }
        if Instant::now() > deadline {
            bail!("{url} still answers from {old}");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Fails the run if a reload failed since the last look.
fn no_failure(events: &mut broadcast::Receiver<ReloadEvent>) -> anyhow::Result<()> {
    while let Ok(event) = events.try_recv() {
        if let ReloadEvent::Failed { error, .. } = event {
            bail!("a reload failed: {error}");
        }
    }
    Ok(())
}

/// A copy of the `hello` crate as its own workspace, with the examples'
/// release profile, stack size and lock file; its target directory is
/// shared by every run, so the dependencies are built for wasm32 once.
fn write_rust_crate(repo: &Path, example: &Path, dir: &Path) -> anyhow::Result<()> {
    let examples = repo.join("swagger-examples");
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::create_dir_all(dir.join(".cargo"))?;
    let sdk: PathBuf = repo.join("func-sdk");
    let workspace = std::fs::read_to_string(examples.join("Cargo.toml"))?;
    let profile = workspace
        .find("[profile.release]")
        .map_or("", |at| &workspace[at..]);
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"hello-rust\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
             [lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n\n\
             [dependencies]\nfunc-sdk = {{ path = {sdk:?} }}\n\n[workspace]\n\n{profile}"
        ),
    )?;
    let config = std::fs::read_to_string(examples.join(".cargo/config.toml")).unwrap_or_default();
    let target = repo.join("target/bench-guests");
    std::fs::write(
        dir.join(".cargo/config.toml"),
        format!("{config}\n[build]\ntarget-dir = {target:?}\n"),
    )?;
    std::fs::copy(examples.join("Cargo.lock"), dir.join("Cargo.lock"))?;
    std::fs::copy(example.join("src/lib.rs"), dir.join("src/lib.rs"))?;
    std::fs::copy(example.join("funcmesh.toml"), dir.join("funcmesh.toml"))?;
    let spec = std::fs::read_to_string(example.join("openapi.yaml"))?;
    let spec = spec.replacen("url: /hello", "url: /hello-rust", 1);
    std::fs::write(dir.join("openapi.yaml"), spec)?;
    Ok(())
}
