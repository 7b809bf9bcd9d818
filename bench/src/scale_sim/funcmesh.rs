//! The tron's rule, as the scaler runs it: the pool's counters through an
//! `Estimator`, the rates and the pool's state through the `Rule`, once a
//! tick (1 s).

use funcmesh_tron::scale::rule::{Estimator, Observation, PoolLimits, Rule, RuleConfig};

use crate::pool::{Policy, View};

pub struct Funcmesh {
    estimator: Estimator,
    rule: Rule,
}

impl Funcmesh {
    pub fn new(config: RuleConfig, limits: PoolLimits) -> Self {
        Self {
            estimator: Estimator::new(),
            rule: Rule::new(config, limits),
        }
    }
}

impl Policy for Funcmesh {
    fn tick(&mut self, view: &View) -> u32 {
        let rates = self
            .estimator
            .update(view.at_ms, view.completed, view.run_us, view.depth);
        let decision = self.rule.decide(&Observation {
            at_ms: view.at_ms,
            depth: view.depth,
            in_flight: view.in_flight,
            arrival_rate: rates.arrival_rate,
            service_time: rates.service_time,
            current: view.current,
            ready: view.ready,
        });
        decision.desired
    }
}
