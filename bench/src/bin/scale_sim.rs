//! The scaling simulator: synthetic load traces replayed through the
//! tron's scaling rule and, on the same simulated pool, through models of
//! KEDA's and Knative's (KPA) defaults. Prints one table row per trace and
//! policy, then whether the rule meets its targets. Needs no broker; runs
//! in well under a second.
//!
//!   scale_sim                           # the table
//!   scale_sim --timeline TRACE POLICY   # one trace, second by second
//!
//! TRACE is a prefix of a trace's name (`step`, `sine`, ...), POLICY one
//! of `funcmesh`, `keda`, `kpa`.
//!
//! The pool: runners serve 8 calls at once for 20 ms each (400 calls/s a
//! runner), a replica is ready 1 s after it is asked for (a local
//! process), min 0, max 50.

#[path = "../scale_sim/funcmesh.rs"]
mod funcmesh;
#[path = "../scale_sim/keda.rs"]
mod keda;
#[path = "../scale_sim/kpa.rs"]
mod kpa;
// Shared with scale_live, which uses parts this binary does not.
#[path = "../scale_sim/pool.rs"]
#[allow(dead_code)]
mod pool;
#[path = "../scale_sim/traces.rs"]
#[allow(dead_code)]
mod traces;

use anyhow::Context as _;
use funcmesh_tron::scale::rule::{PoolLimits, RuleConfig};

use pool::{Figures, Params, Policy, simulate};

const PARAMS: Params = Params {
    service: 0.020,
    target: 8,
    startup: 1.0,
    min: 0,
    max: 50,
};

fn policies(config: &RuleConfig, limits: PoolLimits) -> Vec<(&'static str, Box<dyn Policy>)> {
    vec![
        (
            "funcmesh",
            Box::new(funcmesh::Funcmesh::new(config.clone(), limits)),
        ),
        ("KEDA", Box::new(keda::Keda::new(PARAMS.target, PARAMS.max))),
        ("Knative KPA", Box::new(kpa::Kpa::new(PARAMS.target))),
    ]
}

fn main() -> anyhow::Result<()> {
    let limits = PoolLimits::new(PARAMS.min, PARAMS.max, PARAMS.target).context("pool limits")?;
    let config = RuleConfig::default();
    config.validate().context("rule config")?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, trace, policy] = args.as_slice()
        && flag == "--timeline"
    {
        let trace = traces::all()
            .into_iter()
            .find(|t| t.name.starts_with(trace.as_str()))
            .with_context(|| format!("no trace named {trace}..."))?;
        let (_, mut policy) = policies(&config, limits)
            .into_iter()
            .find(|(name, _)| name.to_lowercase().contains(&policy.to_lowercase()))
            .with_context(|| format!("no policy {policy}"))?;
        let figures = simulate(&trace, PARAMS, policy.as_mut(), true);
        println!("{figures:?}");
        return Ok(());
    }
    anyhow::ensure!(
        args.is_empty(),
        "usage: scale_sim [--timeline TRACE POLICY]"
    );
    println!(
        "pool: {} calls at once per runner, {} ms per call, replicas ready {} s after asked, min {}, max {}",
        PARAMS.target,
        PARAMS.service * 1e3,
        PARAMS.startup,
        PARAMS.min,
        PARAMS.max
    );
    println!();
    println!(
        "| trace | policy | capacity reached (s after each step) | over-provisioned runner-s | under capacity (s) | longest wait (s) | changes | reversals |"
    );
    println!("|---|---|---|--:|--:|--:|--:|--:|");
    let mut ours = Vec::new();
    for trace in traces::all() {
        let policies: Vec<(&str, Box<dyn Policy>)> = vec![
            (
                "funcmesh",
                Box::new(funcmesh::Funcmesh::new(config.clone(), limits)),
            ),
            ("KEDA", Box::new(keda::Keda::new(PARAMS.target, PARAMS.max))),
            ("Knative KPA", Box::new(kpa::Kpa::new(PARAMS.target))),
        ];
        for (name, mut policy) in policies {
            let figures = simulate(&trace, PARAMS, policy.as_mut(), false);
            println!("{}", row(trace.name, name, &figures));
            if name == "funcmesh" {
                let start = trace.edges.first().copied().unwrap_or(0.0);
                ours.push((trace.name, start, figures));
            }
        }
    }
    println!();
    targets(&ours, config.down_window_ms as f64 / 1e3);
    println!();
    windows(limits)?;
    Ok(())
}

/// The scale-down trade-off: the same rule with other clear-drop windows
/// and noise bands, on the traces they matter for.
fn windows(limits: PoolLimits) -> anyhow::Result<()> {
    let defaults = RuleConfig::default();
    println!(
        "the rule with other scale-down settings (the defaults: a {} s window, a {}% noise band, a {} s clear-drop window):",
        defaults.down_window_ms / 1_000,
        defaults.tolerance_pct,
        defaults.clear_drop_window_ms / 1_000,
    );
    println!();
    println!(
        "| window | noise band | clear drop after | sine: over-provisioned | sine: under capacity (s) | steady: changes once settled | spike: over-provisioned |"
    );
    println!("|--:|--:|--:|--:|--:|--:|--:|");
    let all = traces::all();
    let trace = |prefix: &str| {
        all.iter()
            .find(|t| t.name.starts_with(prefix))
            .with_context(|| format!("no trace {prefix}"))
    };
    let (sine, steady, spike) = (trace("sine")?, trace("steady")?, trace("spike")?);
    let settings = [
        (30, 15, 1),
        (30, 15, 2),
        (30, 15, 3),
        (30, 15, 5),
        (30, 15, 10),
        (30, 0, 1),
        (30, 5, 1),
        (30, 10, 1),
        (30, 20, 1),
        (10, 15, 10),
        (30, 15, 30),
        (60, 15, 60),
    ];
    for (window_s, band_pct, clear_s) in settings {
        let config = RuleConfig {
            down_window_ms: window_s * 1_000,
            tolerance_pct: band_pct,
            clear_drop_window_ms: clear_s * 1_000,
            ..RuleConfig::default()
        };
        let run = |trace: &traces::Trace| {
            let mut policy = funcmesh::Funcmesh::new(config.clone(), limits);
            simulate(trace, PARAMS, &mut policy, false)
        };
        let (on_sine, on_steady, on_spike) = (run(sine), run(steady), run(spike));
        let start = steady.edges.first().copied().unwrap_or(0.0);
        let settled = on_steady
            .changed_at
            .iter()
            .filter(|at| **at >= start + window_s as f64 + SETTLE_S)
            .count();
        let clear = match clear_s >= window_s {
            true => "(the window)".to_owned(),
            false => format!("{clear_s} s"),
        };
        println!(
            "| {window_s} s | {band_pct}% | {clear} | {:.0}% | {:.1} | {settled} | {:.0}% |",
            on_sine.over * 100.0,
            on_sine.under,
            on_spike.over * 100.0,
        );
    }
    Ok(())
}

fn row(trace: &str, policy: &str, f: &Figures) -> String {
    let reach = match f.reach.is_empty() {
        true => "-".to_owned(),
        false => f
            .reach
            .iter()
            .map(|r| r.map_or("never".to_owned(), |s| format!("{s:.1}")))
            .collect::<Vec<_>>()
            .join(" / "),
    };
    format!(
        "| {trace} | {policy} | {reach} | {:.0}% | {:.1} | {:.1} | {} | {} |",
        f.over * 100.0,
        f.under,
        f.max_wait,
        f.changes,
        f.reversals
    )
}

/// Seconds after the load's step from which a steady load has settled,
/// besides one scale-down window: the ramp, and margin.
const SETTLE_S: f64 = 30.0;

/// The rule's targets, each with the figures it is judged on.
fn targets(ours: &[(&str, f64, Figures)], window_s: f64) {
    let find = |prefix: &str| {
        ours.iter()
            .find(|(name, _, _)| name.starts_with(prefix))
            .map(|(_, start, f)| (*start, f))
    };
    let (mut warm, mut cold) = (Vec::new(), Vec::new());
    for (name, _, f) in ours {
        for (i, reach) in f.reach.iter().enumerate() {
            let seconds = reach.unwrap_or(f64::INFINITY);
            let step = (format!("{name} #{}", i + 1), seconds);
            match f.cold[i] {
                true => cold.push(step),
                false => warm.push(step),
            }
        }
    }
    let late: Vec<String> = warm
        .iter()
        .filter(|(_, s)| *s > 2.0 + 1e-9)
        .map(|(name, s)| format!("{name}: {s:.1} s"))
        .collect();
    let list = |steps: &[(String, f64)]| {
        steps
            .iter()
            .map(|(name, s)| format!("{name}: {s:.1} s"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "target: capacity within 2 s of a step: {} for the {} steps on a pool that has served before ({}){}",
        met(late.is_empty()),
        warm.len(),
        list(&warm),
        match late.is_empty() {
            true => String::new(),
            false => format!("; late: {}", late.join(", ")),
        }
    );
    println!(
        "  (a pool that has never completed a call does not know its service time: {})",
        list(&cold)
    );
    if let Some((_, sine)) = find("sine") {
        println!(
            "target: at most 15% over-provisioned runner-seconds on the sine: {} ({:.1}%)",
            met(sine.over <= 0.15),
            sine.over * 100.0
        );
    }
    if let Some((start, steady)) = find("steady") {
        let settled: Vec<String> = steady
            .changed_at
            .iter()
            .filter(|at| **at >= start + window_s + SETTLE_S)
            .map(|at| format!("{at:.0} s"))
            .collect();
        let before: Vec<String> = steady
            .changed_at
            .iter()
            .filter(|at| **at < start + window_s + SETTLE_S)
            .map(|at| format!("{at:.0}"))
            .collect();
        println!(
            "target: zero flaps on steady load: {} ({} changes from {} s after the step on; before, the ramp from zero and the release of the runners that drained the first backlog, at {} s)",
            met(settled.is_empty()),
            match settled.is_empty() {
                true => "no".to_owned(),
                false => settled.join(", "),
            },
            window_s + SETTLE_S,
            before.join(", "),
        );
    }
}

fn met(ok: bool) -> &'static str {
    match ok {
        true => "met",
        false => "NOT met",
    }
}
