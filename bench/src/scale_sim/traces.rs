//! The synthetic load traces: requests per second over time.

use std::f64::consts::PI;

/// One trace.
#[derive(Debug, Clone)]
pub struct Trace {
    pub name: &'static str,
    /// Its length, in seconds.
    pub seconds: f64,
    /// The times (s) the load steps up, from which the seconds to reach
    /// the needed capacity are counted.
    pub edges: Vec<f64>,
    shape: Shape,
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Step {
        at: f64,
        rate: f64,
    },
    Ramp {
        from: f64,
        to: f64,
        rate: f64,
    },
    Spike {
        base: f64,
        at: f64,
        length: f64,
        factor: f64,
    },
    Sine {
        mean: f64,
        amplitude: f64,
        period: f64,
    },
    OnOff {
        first: f64,
        on: f64,
        off: f64,
        rate: f64,
    },
    Noisy {
        at: f64,
        rate: f64,
        noise: f64,
    },
}

impl Trace {
    /// `rate` requests a second from `at` for `length` seconds, nothing
    /// before or after, over `seconds` in all.
    pub fn pulse(name: &'static str, at: f64, length: f64, rate: f64, seconds: f64) -> Self {
        Self {
            name,
            seconds,
            edges: vec![at],
            shape: Shape::OnOff {
                first: at,
                on: length,
                off: seconds * 2.0,
                rate,
            },
        }
    }

    /// Requests per second at `t` seconds.
    pub fn rate(&self, t: f64) -> f64 {
        match self.shape {
            Shape::Step { at, rate } => {
                if t >= at {
                    rate
                } else {
                    0.0
                }
            }
            Shape::Ramp { from, to, rate } => rate * ((t - from) / (to - from)).clamp(0.0, 1.0),
            Shape::Spike {
                base,
                at,
                length,
                factor,
            } => match t >= at && t < at + length {
                true => base * factor,
                false => base,
            },
            Shape::Sine {
                mean,
                amplitude,
                period,
            } => mean + amplitude * (2.0 * PI * t / period).sin(),
            Shape::OnOff {
                first,
                on,
                off,
                rate,
            } => {
                let into = t - first;
                match into >= 0.0 && into % (on + off) < on {
                    true => rate,
                    false => 0.0,
                }
            }
            Shape::Noisy { at, rate, noise } => match t >= at {
                // A new level each second, uniform within +-noise.
                true => rate * (1.0 + noise * unit(t.floor() as u64)),
                false => 0.0,
            },
        }
    }
}

/// A deterministic value in [-1, 1] for each `n` (splitmix64).
fn unit(n: u64) -> f64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// The traces, in the order of the table.
pub fn all() -> Vec<Trace> {
    vec![
        Trace {
            name: "step 0 -> 5,000/s",
            seconds: 180.0,
            edges: vec![10.0],
            shape: Shape::Step {
                at: 10.0,
                rate: 5_000.0,
            },
        },
        Trace {
            name: "ramp 0 -> 5,000/s in 60 s",
            seconds: 180.0,
            edges: vec![],
            shape: Shape::Ramp {
                from: 10.0,
                to: 70.0,
                rate: 5_000.0,
            },
        },
        Trace {
            name: "spike 500 -> 5,000/s for 10 s",
            seconds: 180.0,
            edges: vec![60.0],
            shape: Shape::Spike {
                base: 500.0,
                at: 60.0,
                length: 10.0,
                factor: 10.0,
            },
        },
        Trace {
            name: "sine 1,000..5,000/s, 60 s period",
            seconds: 600.0,
            edges: vec![],
            shape: Shape::Sine {
                mean: 3_000.0,
                amplitude: 2_000.0,
                period: 60.0,
            },
        },
        Trace {
            name: "on/off 5,000/s: 20 s on, 100 s off",
            seconds: 370.0,
            edges: vec![10.0, 130.0, 250.0],
            shape: Shape::OnOff {
                first: 10.0,
                on: 20.0,
                off: 100.0,
                rate: 5_000.0,
            },
        },
        Trace {
            name: "steady 2,000/s +-10%",
            seconds: 610.0,
            edges: vec![10.0],
            shape: Shape::Noisy {
                at: 10.0,
                rate: 2_000.0,
                noise: 0.1,
            },
        },
    ]
}
