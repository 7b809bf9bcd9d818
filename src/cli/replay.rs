//! `funcmesh replay`: captured traffic sent again, answers compared.

/// `funcmesh replay FILE... --against TARGET`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {}

/// Runs `funcmesh replay`; the exit code says whether anything differed.
pub async fn run(_args: ReplayArgs) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!("funcmesh replay is not in this build yet")
}
