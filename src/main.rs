//! `funcmesh`: one binary, every component.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tracing_subscriber::fmt::writer::BoxMakeWriter;

mod cli;
#[cfg(feature = "python")]
mod python_worker;

// Every request allocates in several components on several threads; glibc's
// allocator spent an eighth of the mesh's time in the benchmark.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `funcmesh --version`: the release and the commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("FUNCMESH_GIT_COMMIT"),
    ")"
);

/// A serverless dispatch mesh: Swagger-described Func bundles behind a message bus.
#[derive(Debug, Parser)]
#[command(
    name = "funcmesh",
    version = VERSION,
    after_help = "Start with:\n  \
    funcmesh new rust hello     # or python: a bundle to start from, in ./hello\n  \
    funcmesh dev hello          # serve it on 127.0.0.1:8080, reloaded on save\n  \
    funcmesh invoke 'http://127.0.0.1:8080/hello/hello?name=Ada'\n\n\
    `funcmesh COMMAND --help` describes each command, with examples."
)]
struct Cli {
    /// Log filter, e.g. `info` or `funcmesh_runner=debug,info`. The file
    /// watcher's own chatter is kept to warnings by default, and so is the
    /// Kafka client's (the bus logs broker outages itself).
    #[arg(
        long,
        global = true,
        env = "FUNCMESH_LOG",
        default_value = "info,notify=warn,rdkafka=error"
    )]
    log: String,
    /// How log lines are written: `text` for people, `json` (one object
    /// per line) for a log collector.
    #[arg(
        long,
        global = true,
        env = "FUNCMESH_LOG_FORMAT",
        value_enum,
        default_value_t = cli::flags::LogFormat::Text
    )]
    log_format: cli::flags::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve every bundle under DIR: gateway, tron and runners in one process
    /// on the in-process bus.
    Dev(cli::DevArgs),
    /// Serve HTTP: each request goes onto the bus as an envelope, and its
    /// answer comes back from this gateway's reply queue.
    Gateway(cli::GatewayArgs),
    /// Own the bundle directory and store, announce the routes, dispatch the
    /// firehose and answer dead letters.
    Tron(Box<cli::TronArgs>),
    /// Run the Funcs of every announced route, with bundles fetched from a
    /// tron by hash.
    Runner(cli::RunnerArgs),
    /// Upload a bundle to a tron's store; the tron makes it live.
    Push(cli::PushArgs),
    /// Capture traffic for replay: switch capture on a cluster's gateways,
    /// or copy the requests flowing through a Func's queue to a file.
    Capture(cli::capture::CaptureArgs),
    /// Send captured traffic again, to a gateway or to a bundle directory
    /// served in-process, and report every answer that differs.
    Replay(cli::replay::ReplayArgs),
    /// Send one request to a gateway, or to a bundle directory served in
    /// this process, and print the answer as `curl -i` does.
    Invoke(cli::invoke::InvokeArgs),
    /// Work on a bundle directory.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Set a Func's log level in every process of a running mesh, for a
    /// while, through the trons.
    LogLevel(cli::log_level::LogLevelArgs),
    /// Print a new mesh token (the secret every process of a mesh shares),
    /// or keep one in a file.
    Token(cli::TokenArgs),
    /// Write a new bundle to start from: its spec, handlers, tests and
    /// README, in Rust (the SDK vendored) or Python.
    New(cli::new::NewArgs),
    /// Write the Rust SDK where a bundle can build against it, or install
    /// the Python SDK (with its pytest plugin) into a Python.
    Sdk(cli::new::SdkArgs),
    /// Remove what a mesh left on its broker under a namespace (queues,
    /// streams, topics, exchanges, consumer groups), after listing it.
    Clean(cli::clean::CleanArgs),
    /// Print the completions of this command line for a shell.
    #[command(after_help = "Examples:\n  \
    funcmesh completions bash > ~/.local/share/bash-completion/completions/funcmesh\n  \
    funcmesh completions zsh > \"${fpath[1]}/_funcmesh\"\n  \
    funcmesh completions fish > ~/.config/fish/completions/funcmesh.fish")]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Load a bundle (building a Rust func crate first) and print its routes.
    #[command(after_help = "Examples:\n  \
    funcmesh check swagger-examples/petstore\n  \
    STAGE=staging funcmesh check words-staged   # with the ${VAR}s its routes read")]
    Check {
        /// The bundle directory.
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum BundleCommand {
    /// Make a bundle self-contained: install a Python bundle's
    /// requirements.txt into its lib/ with pip, build a Rust func crate to
    /// WebAssembly; then load it and print its routes.
    #[command(after_help = "Examples:\n  \
    funcmesh bundle build swagger-examples/words-py   # pip installs requirements.txt into lib/\n  \
    funcmesh bundle build quotes --python .venv/bin/python")]
    Build {
        /// The bundle directory.
        dir: PathBuf,
        /// The Python whose pip installs the requirements (default: the one
        /// this binary embeds).
        #[arg(long, env = "FUNCMESH_PYTHON")]
        python: Option<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    // A Python worker is this binary started by a runner: no CLI, no
    // runtime, no logging of its own.
    #[cfg(feature = "python")]
    if python_worker::requested() {
        return python_worker::main();
    }
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("Error: {error:?}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    // Logs go to stderr, whatever the command: stdout is for results (a
    // replay's report, an invoked answer, `check`'s routes), so they can
    // be piped. Colour only on a terminal, and never with NO_COLOR.
    use std::io::IsTerminal as _;
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let writer = BoxMakeWriter::new(std::io::stderr);
    let logging = cli::flags::Logging {
        filter: cli.log.clone(),
        format: cli.log_format,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    // The commands that serve requests export their spans when the
    // OpenTelemetry variables ask for it.
    let service = match &cli.command {
        Command::Dev(_) => Some("funcmesh-dev"),
        Command::Gateway(_) => Some("funcmesh-gateway"),
        Command::Tron(_) => Some("funcmesh-tron"),
        Command::Runner(_) => Some("funcmesh-runner"),
        _ => None,
    };
    let traces = match service {
        Some(service) => funcmesh::traces::Traces::from_env(service, runtime.handle().clone())
            .context("OpenTelemetry traces")?,
        None => None,
    };
    funcmesh::logging::init(&logging, writer, colour, traces.as_ref())?;
    let code = runtime.block_on(async {
        match cli.command {
            // Replay's exit code says whether the answers differed.
            Command::Replay(args) => cli::replay::run(args).await,
            // Invoke's exit code says whether the answer was a 5xx.
            Command::Invoke(args) => cli::invoke::run(args).await,
            command => run_command(command, &logging)
                .await
                .map(|()| std::process::ExitCode::SUCCESS),
        }
    });
    if let Some(traces) = traces {
        traces.shutdown();
    }
    code
}

/// Runs `command`; `log` is how it logs, which the runners a tron starts
/// are told too.
async fn run_command(command: Command, log: &cli::flags::Logging) -> anyhow::Result<()> {
    match command {
        Command::Dev(args) => cli::dev(args, wait_for_signal()).await,
        Command::Gateway(args) => cli::gateway(args, wait_for_signal()).await,
        Command::Tron(args) => cli::tron(*args, log, wait_for_signal()).await,
        Command::Runner(args) => cli::runner(args, wait_for_signal()).await,
        Command::Push(args) => cli::push(args).await,
        Command::Capture(args) => cli::capture::run(args).await,
        Command::Replay(args) => cli::replay::run(args).await.map(drop),
        Command::Invoke(args) => cli::invoke::run(args).await.map(drop),
        Command::Bundle(BundleCommand::Build { dir, python }) => {
            let python = python.unwrap_or_else(funcmesh::vendor::default_python);
            let built = dir.clone();
            tokio::task::spawn_blocking(move || funcmesh::vendor::build(&built, &python)).await??;
            check(&dir).await
        }
        Command::LogLevel(args) => cli::log_level::run(args).await,
        Command::Token(args) => cli::token(&args),
        Command::New(args) => cli::new::new(&args),
        Command::Sdk(args) => tokio::task::spawn_blocking(move || cli::new::sdk(&args)).await?,
        Command::Check { dir } => check(&dir).await,
        Command::Clean(args) => cli::clean::run(args).await,
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "funcmesh",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    }
}

async fn check(dir: &std::path::Path) -> anyhow::Result<()> {
    let owned = dir.to_path_buf();
    let bundle =
        tokio::task::spawn_blocking(move || funcmesh_core::bundle::load_any(&owned)).await??;
    println!("bundle   {}", bundle.name);
    println!("hash     {}", bundle.hash);
    println!(
        "route    {}{}",
        bundle.host.as_deref().unwrap_or("*"),
        bundle.base_path
    );
    for op in &bundle.operations {
        println!(
            "  {:7} {}{}  -> {}",
            op.method, bundle.base_path, op.path, op.id
        );
    }
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// clap's own checks of every command's arguments (unique ids, valid
    /// defaults), which otherwise run only when that command is parsed.
    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }

    /// `--help` of every command ends with examples.
    #[test]
    fn every_command_has_examples() {
        fn visit(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in command.get_subcommands() {
                let path = format!("{path} {}", sub.get_name());
                let has = sub
                    .get_after_help()
                    .is_some_and(|help| help.to_string().contains("Example"));
                // A group of subcommands may leave its examples to them.
                if !has && sub.get_subcommands().next().is_none() {
                    missing.push(path.clone());
                }
                visit(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        let cli = super::Cli::command();
        visit(&cli, "funcmesh", &mut missing);
        missing.retain(|path| path != "funcmesh help" && !path.starts_with("funcmesh help "));
        assert!(missing.is_empty(), "no examples in --help: {missing:?}");
    }
}
