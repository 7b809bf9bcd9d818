//! Which Funcs are captured, at what rate, switched at run time.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use super::writer::{CaptureStats, CaptureWriter, Exchange};

/// Every route: the rule for `*` applies to Funcs without a rule of their own.
pub const ANY_ROUTE: &str = "*";

/// Capture one Func's traffic, or a sample of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    /// The Func's name (its bundle's name), or `*` for every Func.
    pub route: String,
    /// The share of exchanges captured, from 0 (none) to 1 (all).
    #[serde(default = "default_rate")]
    pub rate: f64,
}

impl RouteRule {
    /// Checks that it names a Func and that its rate is a share.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.rate) {
            return Err(format!(
                "capture rate for {:?} must be between 0 and 1, not {}",
                self.route, self.rate
            ));
        }
        if self.route.trim().is_empty() {
            return Err("a capture rule must name a Func, or * for every Func".into());
        }
        Ok(())
    }
}

const fn default_rate() -> f64 {
    1.0
}

/// The capture rules of a mesh; no rule captures nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureRules {
    /// One rule per Func; a later rule for the same Func replaces an earlier one.
    #[serde(default)]
    pub routes: Vec<RouteRule>,
}

impl CaptureRules {
    /// Checks every rule.
    pub fn validate(&self) -> Result<(), String> {
        self.routes.iter().try_for_each(RouteRule::validate)
    }

    /// These rules with `rule` set (replacing the Func's rule, if any).
    pub fn with(mut self, rule: RouteRule) -> Self {
        self.routes.retain(|r| r.route != rule.route);
        self.routes.push(rule);
        self
    }

    /// These rules without the one for `route`.
    pub fn without(mut self, route: &str) -> Self {
        self.routes.retain(|r| r.route != route);
        self
    }

    /// Whether anything is captured.
    pub fn is_active(&self) -> bool {
        self.routes.iter().any(|r| r.rate > 0.0)
    }

    /// Parses `NAME` or `NAME=RATE`, as the command line writes a rule.
    pub fn parse_rule(text: &str) -> Result<RouteRule, String> {
        let (route, rate) = match text.split_once('=') {
            Some((route, rate)) => {
                let rate = rate
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| format!("{text:?}: the rate must be a number from 0 to 1"))?;
                (route, rate)
            }
            None => (text, 1.0),
        };
        let rule = RouteRule {
            route: route.trim().to_owned(),
            rate,
        };
        rule.validate()?;
        Ok(rule)
    }
}

/// A process's capture: the rules in force and the writer behind them.
///
/// The request path asks [`sample`](Self::sample) for each request; with no
/// rule active that is one relaxed atomic load.
#[derive(Debug)]
pub struct Capture {
    writer: Option<CaptureWriter>,
    active: AtomicBool,
    rules: RwLock<(CaptureRules, Arc<HashMap<String, f64>>)>,
}

impl Capture {
    /// A capture that can never be switched on (no writer).
    pub fn off() -> Self {
        Self {
            writer: None,
            active: AtomicBool::new(false),
            rules: RwLock::default(),
        }
    }

    /// A capture writing through `writer`, with no rule yet.
    pub fn new(writer: CaptureWriter) -> Self {
        Self {
            writer: Some(writer),
            ..Self::off()
        }
    }

    /// Whether any rule captures anything: the request path's first,
    /// cheapest question.
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Whether this process can capture at all.
    pub fn can_capture(&self) -> bool {
        self.writer.is_some()
    }

    /// Puts `rules` in force from the next request on.
    pub fn set_rules(&self, rules: CaptureRules) -> Result<(), String> {
        rules.validate()?;
        if rules.is_active() && self.writer.is_none() {
            return Err("this process has no capture directory".into());
        }
        let rates: HashMap<String, f64> = rules
            .routes
            .iter()
            .map(|r| (r.route.clone(), r.rate))
            .collect();
        let active = rules.is_active();
        *self.rules.write() = (rules, Arc::new(rates));
        self.active.store(active, Ordering::Release);
        Ok(())
    }

    /// The rules in force.
    pub fn rules(&self) -> CaptureRules {
        self.rules.read().0.clone()
    }

    /// Whether to capture this request to `route` (a Func's name).
    pub fn sample(&self, route: &str) -> bool {
        if !self.is_active() {
            return false;
        }
        let rates = Arc::clone(&self.rules.read().1);
        let rate = rates
            .get(route)
            .or_else(|| rates.get(ANY_ROUTE))
            .copied()
            .unwrap_or(0.0);
        rate >= 1.0 || (rate > 0.0 && unit_random() < rate)
    }

    /// Hands an exchange to the writer; never waits. Counted as dropped when
    /// the writer is behind.
    pub fn offer(&self, exchange: Exchange) {
        if let Some(writer) = &self.writer {
            writer.offer(exchange);
        }
    }

    /// The writer's counters; zero without a writer.
    pub fn stats(&self) -> CaptureStats {
        self.writer
            .as_ref()
            .map(CaptureWriter::stats)
            .unwrap_or_default()
    }

    /// Writes out everything handed over so far, and waits for it.
    pub fn flush(&self) {
        if let Some(writer) = &self.writer {
            writer.flush();
        }
    }
}

/// A uniform number in [0, 1) from a per-thread xorshift generator: the
/// sample decision must cost next to nothing, and needs no cryptography.
fn unit_random() -> f64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(seed());
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

fn seed() -> u64 {
    // The tail of a v7 UUID is random; never zero, which xorshift cannot leave.
    let bits = uuid::Uuid::now_v7().as_u128() as u64;
    bits | 1
}
