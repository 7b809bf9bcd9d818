//! Prometheus metrics: what every component registers, in one form.
//!
//! Each component keeps its figures where it counts them (atomics, or a
//! per-Func [`Family`] of histograms) and registers them in a [`Registry`]
//! that the process serves on `--metrics ADDR` (`funcmesh::metrics`).
//! Figures that already exist as counters are read at scrape time by a
//! [`Collector`], so the request path pays nothing for them.
//!
//! Names follow Prometheus conventions: `funcmesh_<component>_<what>`,
//! seconds and bytes in base units, counters ending in `_total` (the
//! encoder adds it). Labels stay bounded: a Func (a bundle's name), a pool,
//! a queue, a status class or an outcome; never a request id or a path.

use std::fmt;
use std::sync::Arc;

pub use prometheus_client::collector::Collector;
pub use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::encoding::{
    EncodeLabel as _, EncodeLabelSet, EncodeMetric as _, LabelSetEncoder,
};
pub use prometheus_client::metrics::counter::Counter;
pub use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
pub use prometheus_client::metrics::gauge::Gauge;
pub use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::{MetricType, counter::ConstCounter};
pub use prometheus_client::registry::Registry;

/// The `Content-Type` of [`encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The label of a request that no Func answered (no route, refused
/// before a Func was chosen).
pub const NO_FUNC: &str = "";

/// Every metric of `registry` in the OpenMetrics text format.
pub fn encode(registry: &Registry) -> String {
    let mut text = String::with_capacity(16 * 1024);
    // Writing to a `String` cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, registry);
    text
}

/// The buckets of every latency histogram, in seconds: 250 µs to about
/// 16 s, doubling, which covers a WebAssembly call and a deadline alike.
pub fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.000_25, 2.0, 17,
    ))
}

/// A latency histogram per label set.
pub type LatencyFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// A new, empty [`LatencyFamily`].
pub fn latency_family<L>() -> LatencyFamily<L>
where
    L: Clone + std::hash::Hash + Eq,
{
    Family::new_with_constructor(latency_histogram as fn() -> Histogram)
}

/// A Func's name as a label value: shared, so that a label set costs a
/// reference count, not a copy.
pub type FuncName = Arc<str>;

/// `func` and a second label whose values are fixed words (a status class,
/// an outcome).
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct FuncLabels {
    /// The Func (bundle name); [`NO_FUNC`] when none answered.
    pub func: FuncName,
    /// The second label's name.
    pub key: &'static str,
    /// Its value.
    pub value: &'static str,
}

impl FuncLabels {
    /// Only `func`.
    pub fn func(func: &FuncName) -> Self {
        Self::new(func, "", "")
    }

    /// `func` and `key="value"`.
    pub fn new(func: &FuncName, key: &'static str, value: &'static str) -> Self {
        Self {
            func: Arc::clone(func),
            key,
            value,
        }
    }
}

impl EncodeLabelSet for FuncLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> fmt::Result {
        ("func", &*self.func).encode(encoder.encode_label())?;
        match self.key.is_empty() {
            true => Ok(()),
            false => (self.key, self.value).encode(encoder.encode_label()),
        }
    }
}

/// An HTTP status's class as Prometheus users label it: `2xx` ... `5xx`.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Writes one counter without labels.
pub fn counter(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, MetricType::Counter)?)
}

/// Writes one gauge without labels.
pub fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> fmt::Result {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

/// A label set: `(name, value)` pairs.
pub type Labels<'a> = Vec<(&'a str, &'a str)>;

/// Writes one metric of `kind` with a metric per label set.
fn family<'a, M: prometheus_client::encoding::EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    metrics: impl IntoIterator<Item = (Labels<'a>, M)>,
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, metric) in metrics {
        metric.encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Writes one counter with a value per label set.
pub fn counter_family<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    values: impl IntoIterator<Item = (Labels<'a>, u64)>,
) -> fmt::Result {
    let counters = values.into_iter().map(|(l, v)| (l, ConstCounter::new(v)));
    family(encoder, name, help, MetricType::Counter, counters)
}

/// Writes one gauge with a value per label set.
pub fn gauge_family<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    values: impl IntoIterator<Item = (Labels<'a>, i64)>,
) -> fmt::Result {
    let gauges = values.into_iter().map(|(l, v)| (l, ConstGauge::new(v)));
    family(encoder, name, help, MetricType::Gauge, gauges)
}

/// A [`Collector`] from a closure, for figures read at scrape time.
pub struct CollectWith<F>(pub F);

impl<F> fmt::Debug for CollectWith<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CollectWith")
    }
}

impl<F> Collector for CollectWith<F>
where
    F: Fn(&mut DescriptorEncoder) -> fmt::Result + Send + Sync + 'static,
{
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        (self.0)(&mut encoder)
    }
}

/// Registers the bus's counters of this process (every bus it opened).
pub fn register_bus(registry: &mut Registry) {
    registry.register_collector(Box::new(CollectWith(|encoder: &mut DescriptorEncoder| {
        let figures = funcmesh_bus::stats::snapshot();
        let by = |pick: fn(&funcmesh_bus::stats::SystemFigures) -> u64| {
            figures
                .iter()
                .map(move |f| (vec![("system", f.system)], pick(f)))
                .collect::<Vec<_>>()
        };
        counter_family(
            encoder,
            "funcmesh_bus_publishes",
            "Messages the bus took (work queues and broadcasts).",
            by(|f| f.published),
        )?;
        counter_family(
            encoder,
            "funcmesh_bus_publish_failures",
            "Publishes the bus refused or could not complete.",
            by(|f| f.publish_failures),
        )?;
        counter_family(
            encoder,
            "funcmesh_bus_reconnects",
            "Times a connection to the broker was lost and opened again.",
            by(|f| f.reconnects),
        )
    })));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn func_labels_encode_bounded_words() {
        let mut registry = Registry::default();
        let family: LatencyFamily<FuncLabels> = latency_family();
        registry.register("funcmesh_test_seconds", "A test.", family.clone());
        let hello: FuncName = Arc::from("hello");
        family
            .get_or_create(&FuncLabels::new(&hello, "code", status_class(200)))
            .observe(0.001);
        family
            .get_or_create(&FuncLabels::func(&hello))
            .observe(0.002);
        let text = encode(&registry);
        assert!(
            text.contains(r#"funcmesh_test_seconds_count{func="hello",code="2xx"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"funcmesh_test_seconds_count{func="hello"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn collectors_write_counters_and_gauges() {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(CollectWith(|e: &mut DescriptorEncoder| {
            counter(e, "funcmesh_test_things", "Things.", 3)?;
            gauge_family(
                e,
                "funcmesh_test_depth",
                "Depth.",
                [(vec![("queue", "q")], 7)],
            )
        })));
        let text = encode(&registry);
        assert!(text.contains("funcmesh_test_things_total 3"), "{text}");
        assert!(
            text.contains(r#"funcmesh_test_depth{queue="q"} 7"#),
            "{text}"
        );
    }

    #[test]
    fn status_classes() {
        assert_eq!(
            [101, 204, 302, 404, 503, 999].map(status_class),
            ["1xx", "2xx", "3xx", "4xx", "5xx", "5xx"]
        );
    }
}
