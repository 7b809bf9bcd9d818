//! `funcmesh clean`: remove what a mesh left on its broker under a
//! namespace, after saying what that is.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::bail;
use funcmesh_bus::namespace::{self, Held};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    funcmesh clean --bus 'nats://127.0.0.1:4222?namespace=shop'          # lists, then asks\n  \
    funcmesh clean --bus 'kafka://127.0.0.1:9092?namespace=shop' --dry-run\n  \
    funcmesh clean --bus 'amqp://guest:guest@127.0.0.1:5672/%2f?namespace=shop' --yes\n\
\n\
On RabbitMQ the queues are listed through its management API \
(`rabbitmq-plugins enable rabbitmq_management`), with the bus URL's user.")]
pub struct CleanArgs {
    /// The bus URL, with the namespace to clean: `...?namespace=NAME`.
    #[arg(long, env = "FUNCMESH_BUS")]
    bus: String,
    /// RabbitMQ's management API (default: the bus URL's host on port
    /// 15672, or https on 15671 for amqps://).
    #[arg(long, value_name = "URL")]
    management: Option<String>,
    /// Remove without asking.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Only list what would be removed.
    #[arg(long, conflicts_with = "yes")]
    dry_run: bool,
    /// Remove also what running processes of the mesh still read.
    #[arg(long)]
    force: bool,
}

/// Runs `funcmesh clean`: the list and what was removed on stdout, the
/// question and what could not be removed on stderr.
pub async fn run(args: CleanArgs) -> anyhow::Result<()> {
    let options = namespace::Options {
        management: args.management.clone(),
    };
    let namespace = namespace::open(&args.bus, &options).await?;
    let where_ = namespace.describe();
    let held = namespace.held().await?;
    if held.is_empty() {
        println!("{where_}: nothing to remove");
        return Ok(());
    }
    println!("{where_} holds:");
    for item in &held {
        println!("  {}", line(item));
    }
    let read: Vec<&Held> = held
        .iter()
        .filter(|item| item.readers.is_some_and(|readers| readers > 0))
        .collect();
    let still_read = (!read.is_empty()).then(|| {
        let names: Vec<&str> = read.iter().map(|item| item.name.as_str()).collect();
        format!(
            "{} still read by running processes of the mesh ({})",
            match read.len() {
                1 => "1 of them is".to_owned(),
                n => format!("{n} of them are"),
            },
            names.join(", ")
        )
    });
    if args.dry_run {
        if let Some(still_read) = &still_read {
            println!("{still_read}: without --force, clean removes nothing");
        }
        println!("dry run: nothing removed");
        return Ok(());
    }
    if let Some(still_read) = still_read
        && !args.force
    {
        bail!("nothing removed: {still_read}; stop them first, or pass --force");
    }
    if !args.yes {
        confirm(held.len())?;
    }
    let mut failed = 0;
    for item in &held {
        match namespace.remove(item).await {
            Ok(()) => println!("removed {} {}", item.kind, item.name),
            Err(error) => {
                failed += 1;
                eprintln!("could not remove {} {}: {error}", item.kind, item.name);
            }
        }
    }
    if failed > 0 {
        bail!(
            "{failed} of {} could not be removed (above); run clean again once the broker answers",
            held.len()
        );
    }
    Ok(())
}

/// `queue shop.hello (3 messages, 1 reader)`.
fn line(item: &Held) -> String {
    let mut counts = Vec::new();
    if let Some(messages) = item.messages {
        counts.push(plural(messages, "message"));
    }
    if let Some(readers) = item.readers.filter(|readers| *readers > 0) {
        counts.push(plural(readers, "reader"));
    }
    match counts.is_empty() {
        true => format!("{} {}", item.kind, item.name),
        false => format!("{} {} ({})", item.kind, item.name, counts.join(", ")),
    }
}

fn plural(n: u64, what: &str) -> String {
    match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    }
}

/// Asks on the terminal; refuses without one.
fn confirm(count: usize) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!("nothing removed: pass --yes to remove these {count} without being asked");
    }
    eprint!("Remove these {count}? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        bail!("nothing removed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use funcmesh_bus::namespace::HeldKind;

    #[test]
    fn a_line_gives_the_counts_the_broker_told() {
        let mut item = Held {
            kind: HeldKind::Queue,
            name: "shop.hello".to_owned(),
            messages: Some(1),
            readers: Some(0),
        };
        assert_eq!(line(&item), "queue shop.hello (1 message)");
        item.readers = Some(2);
        item.messages = Some(0);
        assert_eq!(line(&item), "queue shop.hello (0 messages, 2 readers)");
        item.kind = HeldKind::Group;
        item.messages = None;
        item.readers = None;
        assert_eq!(line(&item), "consumer group shop.hello");
    }
}
