//! Each runner pool's size limits, as the tron is told them.
//!
//! Two sources, and a pool is defined in at most one of them:
//! - a pools file (`--pools FILE`), TOML:
//!   ```toml
//!   [pools.default]
//!   min = 1       # runners kept even when idle (0: scale to zero)
//!   max = 10      # runners at most
//!   target = 8    # calls in flight per runner at which it counts as full
//!   ```
//! - flags, one per pool: `--pool NAME:min=1,max=10,target=8` (keys left
//!   out take the defaults below).
//!
//! A pool named in both is refused at start, as are limits that contradict
//! each other (`min` above `max`, `target` or `max` of 0). A pool that a
//! bundle names but neither source defines gets [`PoolSettings::default`].

use std::collections::BTreeMap;
use std::path::Path;

use funcmesh_core::bundle::valid_pool_name;
use serde::{Deserialize, Serialize};

/// One pool's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSettings {
    /// Runners kept even when idle; 0 lets the pool scale to zero (the
    /// first request then waits, within its deadline, for a runner).
    #[serde(default = "default_min")]
    pub min: u32,
    /// Runners at most.
    #[serde(default = "default_max")]
    pub max: u32,
    /// Calls in flight per runner at which a runner counts as full.
    #[serde(default = "default_target")]
    pub target: u32,
}

const fn default_min() -> u32 {
    1
}

const fn default_max() -> u32 {
    10
}

const fn default_target() -> u32 {
    8
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            min: default_min(),
            max: default_max(),
            target: default_target(),
        }
    }
}

impl PoolSettings {
    /// Refuses limits that contradict each other.
    pub fn validate(&self) -> Result<(), String> {
        if self.max == 0 {
            return Err("max must be at least 1".into());
        }
        if self.min > self.max {
            return Err(format!("min = {} is above max = {}", self.min, self.max));
        }
        if self.target == 0 {
            return Err("target must be at least 1".into());
        }
        Ok(())
    }
}

/// Every pool's limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pools {
    defined: BTreeMap<String, PoolSettings>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolsFile {
    #[serde(default)]
    pools: BTreeMap<String, PoolSettings>,
}

impl Pools {
    /// The pools of the file at `path` (if any) and of the flags, each
    /// `NAME:key=value,...`.
    pub fn load(path: Option<&Path>, flags: &[String]) -> Result<Self, String> {
        let mut pools = Self::default();
        if let Some(path) = path {
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("reading {}: {error}", path.display()))?;
            pools =
                Self::parse_file(&text).map_err(|error| format!("{}: {error}", path.display()))?;
        }
        for flag in flags {
            let (name, settings) =
                parse_flag(flag).map_err(|error| format!("--pool {flag}: {error}"))?;
            if pools.defined.contains_key(&name) {
                return Err(format!(
                    "--pool {flag}: pool {name} is defined twice (in the pools file or by another --pool); define each pool in one place"
                ));
            }
            pools.defined.insert(name, settings);
        }
        Ok(pools)
    }

    fn parse_file(text: &str) -> Result<Self, String> {
        let file: PoolsFile = toml::from_str(text).map_err(|error| error.to_string())?;
        for (name, settings) in &file.pools {
            check(name, settings)?;
        }
        Ok(Self {
            defined: file.pools,
        })
    }

    /// The limits of pool `name`.
    pub fn get(&self, name: &str) -> PoolSettings {
        self.defined.get(name).copied().unwrap_or_default()
    }

    /// The pools defined, by name.
    pub fn defined(&self) -> impl Iterator<Item = (&str, &PoolSettings)> {
        self.defined
            .iter()
            .map(|(name, settings)| (name.as_str(), settings))
    }
}

fn check(name: &str, settings: &PoolSettings) -> Result<(), String> {
    if !valid_pool_name(name) {
        return Err(format!(
            "pool {name:?}: a pool is named with 1 to 63 letters, digits, `-` or `_`"
        ));
    }
    settings
        .validate()
        .map_err(|error| format!("pool {name}: {error}"))
}

/// `NAME:min=1,max=10,target=8`.
fn parse_flag(flag: &str) -> Result<(String, PoolSettings), String> {
    let (name, rest) = flag.split_once(':').unwrap_or((flag, ""));
    let mut settings = PoolSettings::default();
    for pair in rest.split(',').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("`{pair}` is not key=value"))?;
        let value: u32 = value
            .trim()
            .parse()
            .map_err(|_| format!("{key} = `{value}` is not a whole number"))?;
        match key.trim() {
            "min" => settings.min = value,
            "max" => settings.max = value,
            "target" => settings.target = value,
            other => return Err(format!("unknown key `{other}` (min, max, target)")),
        }
    }
    check(name, &settings)?;
    Ok((name.to_owned(), settings))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn flags(flags: &[&str]) -> Result<Pools, String> {
        let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        Pools::load(None, &flags)
    }

    #[test]
    fn flags_and_defaults() {
        let pools = flags(&["default:min=0,max=4", "batch:target=2"]).unwrap();
        assert_eq!(
            pools.get("default"),
            PoolSettings {
                min: 0,
                max: 4,
                target: 8
            }
        );
        assert_eq!(pools.get("batch").target, 2);
        assert_eq!(pools.get("undefined"), PoolSettings::default());
        assert_eq!(
            flags(&["plain"]).unwrap().get("plain"),
            PoolSettings::default()
        );
    }

    #[test]
    fn a_file_and_flags_together_but_each_pool_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pools.toml");
        std::fs::write(&path, "[pools.default]\nmin = 0\nmax = 3\n").unwrap();
        let pools = Pools::load(Some(&path), &["batch:max=2".into()]).unwrap();
        assert_eq!(pools.get("default").max, 3);
        assert_eq!(pools.get("batch").max, 2);
        let twice = Pools::load(Some(&path), &["default:max=5".into()]).unwrap_err();
        assert!(twice.contains("defined twice"), "{twice}");
    }

    #[test]
    fn contradictions_are_refused_with_the_reason() {
        for (flag, reason) in [
            ("p:min=5,max=2", "min = 5 is above max = 2"),
            ("p:max=0", "max must be at least 1"),
            ("p:target=0", "target must be at least 1"),
            ("p:min=x", "not a whole number"),
            ("p:size=3", "unknown key `size`"),
            ("p:min", "not key=value"),
            ("bad name:min=1", "a pool is named"),
        ] {
            let error = flags(&[flag]).unwrap_err();
            assert!(error.contains(reason), "{flag}: {error}");
        }
        assert!(
            flags(&["a:max=1", "a:max=2"])
                .unwrap_err()
                .contains("defined twice")
        );
        let error = Pools::parse_file("[pools.default]\nmin = 3\nmax = 1\n").unwrap_err();
        assert!(error.contains("min = 3 is above max = 1"), "{error}");
        let error = Pools::parse_file("[pools.default]\nminimum = 3\n").unwrap_err();
        assert!(error.contains("unknown field `minimum`"), "{error}");
    }
}
