//! `funcmesh capture on|off`: a change of the capture rules the trons
//! announce to the gateways.

use serde::{Deserialize, Serialize};

use crate::capture::{CaptureRules, RouteRule};

/// A change of the capture rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CaptureChange {
    /// Capture a Func (or `*`, every Func) at a rate.
    On {
        /// The Func and the rate.
        rule: RouteRule,
    },
    /// Stop capturing a Func.
    Off {
        /// The Func; `None` stops every rule.
        route: Option<String>,
    },
}

impl CaptureChange {
    /// `rules` with the change made.
    pub fn apply(&self, rules: CaptureRules) -> CaptureRules {
        match self {
            CaptureChange::On { rule } => rules.with(rule.clone()),
            CaptureChange::Off { route: Some(route) } => rules.without(route),
            CaptureChange::Off { route: None } => CaptureRules::default(),
        }
    }

    /// Whether `rules` show the change made.
    pub fn shows_in(&self, rules: &CaptureRules) -> bool {
        self.apply(rules.clone()) == *rules
    }
}
