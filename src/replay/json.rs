//! JSON bodies compared as values: object members in any order, numbers as
//! numbers (`1` and `1.0` are the same), arrays element by element.

use serde::Serialize;
use serde_json::Value;

use super::jsonpath::{self, JsonPath, Step};

/// One place where two JSON documents differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JsonChange {
    /// Where, e.g. `$.items[2].id`.
    pub path: String,
    /// What changed there.
    #[serde(flatten)]
    pub kind: ChangeKind,
}

/// What changed at a place.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ChangeKind {
    /// Both have a value there, and the values differ.
    Changed {
        /// The captured value.
        captured: Value,
        /// The replayed value.
        replayed: Value,
    },
    /// The captured answer had a value there; the replayed one has none.
    Missing {
        /// The captured value.
        captured: Value,
    },
    /// The replayed answer has a value the captured one did not.
    Added {
        /// The replayed value.
        replayed: Value,
    },
}

/// Every difference between `captured` and `replayed`, in document order,
/// leaving out the places that `ignore` names.
pub fn diff(captured: &Value, replayed: &Value, ignore: &[JsonPath]) -> Vec<JsonChange> {
    let mut walk = Walk {
        ignore,
        steps: Vec::new(),
        changes: Vec::new(),
    };
    walk.value(captured, replayed);
    walk.changes
}

struct Walk<'a> {
    ignore: &'a [JsonPath],
    steps: Vec<Step>,
    changes: Vec<JsonChange>,
}

impl Walk<'_> {
    fn ignored(&self) -> bool {
        self.ignore.iter().any(|path| path.matches(&self.steps))
    }

    fn value(&mut self, captured: &Value, replayed: &Value) {
        if self.ignored() {
            return;
        }
        match (captured, replayed) {
            (Value::Object(old), Value::Object(new)) => {
                // Sorted, so that the report reads the same whatever the
                // order the Func wrote its members in.
                let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
                keys.sort();
                keys.dedup();
                for key in keys {
                    self.member(Step::Key(key.clone()), old.get(key), new.get(key));
                }
            }
            (Value::Array(old), Value::Array(new)) => {
                for index in 0..old.len().max(new.len()) {
                    self.member(Step::Index(index), old.get(index), new.get(index));
                }
            }
            (Value::Number(old), Value::Number(new)) if same_number(old, new) => {}
            (old, new) if old == new => {}
            (old, new) => self.record(ChangeKind::Changed {
                captured: old.clone(),
                replayed: new.clone(),
            }),
        }
    }

    /// One member of an object or array, on either side or both.
    fn member(&mut self, step: Step, captured: Option<&Value>, replayed: Option<&Value>) {
        self.steps.push(step);
        match (captured, replayed) {
            (Some(o), Some(n)) => self.value(o, n),
            (Some(o), None) => self.record(ChangeKind::Missing {
                captured: o.clone(),
            }),
            (None, Some(n)) => self.record(ChangeKind::Added {
                replayed: n.clone(),
            }),
            (None, None) => {}
        }
        self.steps.pop();
    }

    fn record(&mut self, kind: ChangeKind) {
        if !self.ignored() {
            self.changes.push(JsonChange {
                path: jsonpath::display(&self.steps),
                kind,
            });
        }
    }
}

fn same_number(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    if let (Some(a), Some(b)) = (a.as_i64(), b.as_i64()) {
        return a == b;
    }
    if let (Some(a), Some(b)) = (a.as_u64(), b.as_u64()) {
        return a == b;
    }
    a.as_f64() == b.as_f64()
}

#[cfg(test)]
mod tests;
