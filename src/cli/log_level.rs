//! `funcmesh log-level FUNC=LEVEL`: a Func's log level in every process of
//! a running mesh, for a while (`funcmesh_core::control::log_level`).

use std::time::Duration;

use funcmesh_bus::now_ms;
use funcmesh_core::control::log_level::{LEVELS, LogLevelChange};
use funcmesh_core::control::{self, LOG_LEVEL_TOPIC};

use super::flags::BusArg;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    funcmesh log-level hello=debug --bus amqp://guest:guest@127.0.0.1:5672/%2f\n  \
    funcmesh log-level hello=trace --for 2m\n  \
    funcmesh log-level hello=reset\n  \
    funcmesh log-level reset          # every Func back to each process's --log")]
pub struct LogLevelArgs {
    /// `FUNC=LEVEL` (LEVEL: trace, debug, info, warn, error), or
    /// `FUNC=reset`, or `reset` for every Func.
    #[arg(required = true, value_name = "FUNC=LEVEL")]
    changes: Vec<String>,
    /// How long a level holds: `90s`, `15m`, `2h` (at most 24h).
    #[arg(long = "for", value_name = "DURATION", default_value = "15m", value_parser = duration)]
    for_: Duration,
    /// How long to wait for a tron to announce the change, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    wait: u64,
    #[command(flatten)]
    bus: BusArg,
}

/// `90s`, `15m`, `2h`, or plain seconds.
fn duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is no duration: say 90s, 15m or 2h"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("`{text}` is no duration: say 90s, 15m or 2h")),
    };
    match seconds {
        0 => Err("a log level must hold for at least 1s".into()),
        s => Ok(Duration::from_secs(s)),
    }
}

/// What one `FUNC=LEVEL` asks for.
fn change(text: &str, hold: Duration) -> anyhow::Result<LogLevelChange> {
    let change = match text.split_once('=') {
        None if text == "reset" => LogLevelChange::Reset { func: None },
        None => anyhow::bail!(
            "`{text}`: say FUNC=LEVEL (LEVEL one of {}), FUNC=reset, or reset",
            LEVELS.join(", ")
        ),
        Some((func, "reset")) => LogLevelChange::Reset {
            func: Some(func.to_owned()),
        },
        Some((func, level)) => LogLevelChange::Set {
            func: func.to_owned(),
            level: level.to_ascii_lowercase(),
            until_ms: now_ms().saturating_add(hold.as_millis() as u64),
        },
    };
    change.check(now_ms()).map_err(anyhow::Error::msg)?;
    Ok(change)
}

/// Runs `funcmesh log-level`.
pub async fn run(args: LogLevelArgs) -> anyhow::Result<()> {
    let changes = args
        .changes
        .iter()
        .map(|text| change(text, args.for_))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (_, bus) = args.bus.connect().await?;
    let wait = Duration::from_secs(args.wait.max(1));
    for change in changes {
        let body = control::encode(&change);
        let levels = funcmesh::cluster::through_trons::send(
            std::sync::Arc::clone(&bus),
            LOG_LEVEL_TOPIC,
            body,
            wait,
            |announced| {
                let levels = &announced.log_levels.0;
                let shown = match &change {
                    LogLevelChange::Set {
                        func,
                        level,
                        until_ms,
                    } => levels
                        .get(func)
                        .is_some_and(|l| l.level == *level && l.until_ms == *until_ms),
                    LogLevelChange::Reset { func: Some(func) } => !levels.contains_key(func),
                    LogLevelChange::Reset { func: None } => levels.is_empty(),
                };
                shown.then(|| announced.log_levels.clone())
            },
        )
        .await?;
        if levels.is_empty() {
            println!("no Func has a log level of its own: every process logs as its --log says");
        }
        let now = now_ms();
        for (func, level) in &levels.0 {
            println!(
                "{func}: {} for {} s more",
                level.level,
                level.until_ms.saturating_sub(now).div_ceil(1000)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use funcmesh_core::control::log_level::DEFAULT_EXPIRY;

    use super::*;

    #[test]
    fn the_default_hold_is_the_documented_one() {
        assert_eq!(duration("15m"), Ok(DEFAULT_EXPIRY));
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(duration("30"), Ok(Duration::from_secs(30)));
        assert!(duration("0s").is_err());
        assert!(duration("5d").unwrap_err().contains("90s, 15m or 2h"));
    }

    #[test]
    fn changes_are_checked_before_anything_is_sent() {
        let hold = DEFAULT_EXPIRY;
        assert!(matches!(
            change("hello=DEBUG", hold).unwrap(),
            LogLevelChange::Set { level, .. } if level == "debug"
        ));
        assert_eq!(
            change("hello=reset", hold).unwrap(),
            LogLevelChange::Reset {
                func: Some("hello".into())
            }
        );
        assert_eq!(
            change("reset", hold).unwrap(),
            LogLevelChange::Reset { func: None }
        );
        let error = change("hello=loud", hold).unwrap_err().to_string();
        assert!(error.contains("none of"), "{error}");
        let error = change("hello", hold).unwrap_err().to_string();
        assert!(error.contains("FUNC=LEVEL"), "{error}");
        let error = change("hello=debug", Duration::from_secs(2 * 86_400))
            .unwrap_err()
            .to_string();
        assert!(error.contains("at most"), "{error}");
    }
}
