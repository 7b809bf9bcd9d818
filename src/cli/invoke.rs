//! `funcmesh invoke`: one request, its answer printed.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use funcmesh::invoke::{Invocation, invoke, split_url};
use funcmesh::replay::Target;

/// The exit code of an answer with a 5xx status.
const EXIT_SERVER_ERROR: u8 = 1;
/// The exit code when no answer came (the request could not be made, or
/// the bundle did not load).
const EXIT_NO_ANSWER: u8 = 2;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    funcmesh invoke 'http://127.0.0.1:8080/hello/greet?name=Ada'\n  \
    funcmesh invoke -d '{\"name\":\"Rex\",\"age\":3}' http://127.0.0.1:8080/petstore/pets\n  \
    funcmesh invoke swagger-examples/petstore /petstore/pets/7   # served in this process\n  \
    funcmesh invoke -H 'Host: greeter.example.com' swagger-examples /v2/hello/Grace\n\
\n\
Exit status:\n  \
    0  an answer came with a status below 500\n  \
    1  an answer came with a 5xx status\n  \
    2  no answer: the request could not be made (a body file that cannot be read), the gateway \
       could not be reached, the time ran out, or a bundle did not load")]
pub struct InvokeArgs {
    /// A gateway URL with the request's path and query
    /// (`http://host:port/base/op?x=1`), or a bundle directory (one bundle,
    /// or a directory of bundles) served in this process for the request.
    target: String,
    /// With a bundle directory: the request's path and query
    /// (`/base/op?x=1`).
    path: Option<String>,
    /// The method (default: GET, or POST with --data).
    #[arg(long, short = 'X')]
    method: Option<http::Method>,
    /// A request header, `Name: value`. Repeatable.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE", value_parser = funcmesh::replay::parse_header)]
    headers: Vec<(String, String)>,
    /// The body: the text itself, `@FILE` for a file's bytes, `@-` for
    /// stdin. Its content type is application/json when it is JSON, unless
    /// a Content-Type header is given.
    #[arg(long, short = 'd', value_name = "DATA")]
    data: Option<String>,
    /// How long the answer may take, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    timeout_ms: u64,
    #[command(flatten)]
    python: super::flags::PythonFlags,
}

/// Runs `funcmesh invoke`; prints the answer on stdout, and the request id
/// on stderr.
pub async fn run(args: InvokeArgs) -> anyhow::Result<ExitCode> {
    let (target, path) = match target_and_path(&args) {
        Ok(found) => found,
        Err(error) => {
            eprintln!("Error: {error:#}");
            return Ok(ExitCode::from(EXIT_NO_ANSWER));
        }
    };
    let body = match args.data.as_deref().map(read_data).transpose() {
        Ok(body) => body,
        Err(error) => {
            eprintln!("Error: {error:#}");
            return Ok(ExitCode::from(EXIT_NO_ANSWER));
        }
    };
    let method = args.method.clone().unwrap_or(match body {
        Some(_) => http::Method::POST,
        None => http::Method::GET,
    });
    let invocation = Invocation {
        method,
        path,
        headers: args.headers.clone(),
        body,
        timeout: Duration::from_millis(args.timeout_ms.max(1)),
    };
    let answer = match invoke(&target, &invocation, &args.python.config()).await {
        Ok(answer) => answer,
        Err(error) => {
            eprintln!("Error: {error:#}");
            return Ok(ExitCode::from(EXIT_NO_ANSWER));
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&answer.render())
        .and_then(|()| stdout.flush())
        .context("writing the answer")?;
    if answer.status.is_server_error() {
        eprintln!(
            "{} answered {}{}",
            target,
            answer.status,
            answer
                .request_id()
                .map(|id| format!(" (request id {id}; the mesh's log has it)"))
                .unwrap_or_default()
        );
        return Ok(ExitCode::from(EXIT_SERVER_ERROR));
    }
    Ok(ExitCode::SUCCESS)
}

fn target_and_path(args: &InvokeArgs) -> anyhow::Result<(Target, String)> {
    if args.target.contains("://") {
        if args.path.is_some() {
            bail!(
                "give the path inside the URL ({}/...), not after it",
                args.target.trim_end_matches('/')
            );
        }
        return split_url(&args.target);
    }
    let dir = PathBuf::from(&args.target);
    if !dir.is_dir() {
        bail!(
            "{} is neither an http:// URL nor a bundle directory",
            args.target
        );
    }
    let Some(path) = &args.path else {
        bail!(
            "say which path to request after the directory, e.g. `funcmesh invoke {} /base/op`; `funcmesh check {}` lists the bundle's routes",
            args.target,
            args.target
        );
    };
    if !path.starts_with('/') {
        bail!("the path {path:?} must start with /");
    }
    Ok((Target::Bundles(dir), path.clone()))
}

/// `--data`: the text, `@FILE`'s bytes, or stdin's for `@-`.
fn read_data(data: &str) -> anyhow::Result<Bytes> {
    match data.strip_prefix('@') {
        Some("-") => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("reading the body from stdin")?;
            Ok(bytes.into())
        }
        Some(file) => std::fs::read(file)
            .map(Bytes::from)
            .with_context(|| format!("reading the body from {file}")),
        None => Ok(Bytes::copy_from_slice(data.as_bytes())),
    }
}
