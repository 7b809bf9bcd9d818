//! `funcmesh new` and `funcmesh sdk`: starting a Func outside this
//! repository.

use std::path::PathBuf;

use anyhow::bail;
use funcmesh::new::{Language, Names};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    funcmesh new rust orders          # ./orders: a Rust bundle, its SDK vendored\n  \
    funcmesh new python quotes --dir ~/funcs/quotes\n  \
    funcmesh dev orders               # serve it, reloaded on save")]
pub struct NewArgs {
    /// The language of the Func.
    #[arg(value_enum)]
    language: Language,
    /// The bundle's name: also its base path (`/NAME/...`) and its crate or
    /// Python package.
    name: String,
    /// Where to write it (default: ./NAME); must be new or empty.
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// `funcmesh new`.
pub fn new(args: &NewArgs) -> anyhow::Result<()> {
    let names = Names::new(&args.name)?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&names.name));
    let written = funcmesh::new::write(args.language, &names, &dir)?;
    for path in &written {
        println!("  {}", dir.join(path).display());
    }
    let (build, test) = match args.language {
        Language::Rust => ("the first build takes a minute", "cargo test"),
        Language::Python => (
            "reloaded on every save",
            "funcmesh sdk python --pip --python PYTHON, then PYTHON -m pytest",
        ),
    };
    let shown = dir.display();
    println!(
        "\nA {} bundle `{}` is in {shown}. Next:\n  funcmesh dev {shown}      # serve it on 127.0.0.1:8080 ({build})\n  curl -s 'http://127.0.0.1:8080/{}/hello?name=Ada'\n  cd {shown} && {test}\n{shown}/README.md says more.",
        match args.language {
            Language::Rust => "Rust",
            Language::Python => "Python",
        },
        names.name,
        names.name,
    );
    Ok(())
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    funcmesh sdk rust orders/vendor      # this binary's Rust SDK beside the bundle's older one\n  \
    funcmesh sdk python --pip --python .venv/bin/python\n  \
    funcmesh sdk python /tmp/funcmesh-py  # the Python package's project, to install as you like")]
pub struct SdkArgs {
    /// Which SDK.
    #[arg(value_enum)]
    language: Language,
    /// Where to write it: the Rust crate goes in DIR/func-sdk-VERSION, the
    /// Python project in DIR.
    dir: Option<PathBuf>,
    /// Python: install the package (and its pytest plugin) with pip
    /// instead of writing it.
    #[arg(long, conflicts_with = "dir")]
    pip: bool,
    /// With --pip: the Python whose pip installs it (a virtualenv's, say).
    #[arg(long, requires = "pip", default_value = "python3")]
    python: PathBuf,
}

/// `funcmesh sdk`.
pub fn sdk(args: &SdkArgs) -> anyhow::Result<()> {
    use funcmesh::sdk;
    match (args.language, &args.dir, args.pip) {
        (Language::Python, _, true) => {
            sdk::pip_install(&args.python)?;
            println!(
                "the funcmesh package {} and its pytest plugin are installed for {}",
                sdk::VERSION,
                args.python.display()
            );
        }
        (Language::Rust, _, true) => {
            bail!("--pip installs the Python SDK; the Rust SDK is written to a directory")
        }
        (Language::Python, Some(dir), false) => {
            sdk::write_python(dir)?;
            println!(
                "the funcmesh package {} is in {} (install it with `pip install {}`)",
                sdk::VERSION,
                dir.display(),
                dir.display()
            );
        }
        (Language::Rust, Some(dir), false) => {
            let written = sdk::write_rust(dir)?;
            println!(
                "the Rust SDK {} is in {}; point a bundle's Cargo.toml at it: func-sdk = {{ path = \"{}\" }}",
                sdk::VERSION,
                written.display(),
                written.display()
            );
        }
        (_, None, false) => {
            bail!("say where to write the SDK (DIR), or give --pip for the Python one")
        }
    }
    Ok(())
}
