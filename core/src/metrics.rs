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
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub use prometheus_client::collector::Collector;
pub use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::encoding::{
    EncodeLabel as _, EncodeLabelSet, EncodeMetric as _, LabelSetEncoder, MetricEncoder, NoLabelSet,
};
pub use prometheus_client::metrics::counter::Counter;
pub use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
pub use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric, counter::ConstCounter};
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

/// The upper bound of a latency histogram's first bucket, in
/// microseconds; each next bucket's is twice the one before.
const FIRST_BUCKET_US: u64 = 250;
/// The buckets with a bound: 250 µs to about 16 s, which covers a
/// WebAssembly call and a deadline alike. One more takes the rest (`+Inf`).
const BOUNDED_BUCKETS: usize = 17;

/// A latency histogram that every request of every thread records into
/// without a lock: a counter per bucket and the sum, each an atomic
/// (prometheus-client's histogram takes a write lock per observation,
/// which the request path of a busy mesh cannot afford). Clones share
/// their counts.
#[derive(Debug, Clone, Default)]
pub struct Latency(Arc<LatencyCounts>);

#[derive(Debug, Default)]
struct LatencyCounts {
    /// Observations per bucket (not cumulative); the last is `+Inf`.
    buckets: [AtomicU64; BOUNDED_BUCKETS + 1],
    sum_us: AtomicU64,
}

impl Latency {
    /// Records one duration.
    pub fn observe(&self, elapsed: std::time::Duration) {
        self.observe_us(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    /// Records one duration of `us` microseconds.
    pub fn observe_us(&self, us: u64) {
        self.0.buckets[bucket_of(us)].fetch_add(1, Relaxed);
        self.0.sum_us.fetch_add(us, Relaxed);
    }
}

/// The bucket of `us`: the first whose bound is at least `us`.
fn bucket_of(us: u64) -> usize {
    // Bucket i holds up to 250 µs * 2^i: i = ceil(log2(ceil(us / 250))).
    let quarter_ms = us.div_ceil(FIRST_BUCKET_US).max(1);
    let index = (u64::BITS - (quarter_ms - 1).leading_zeros()) as usize;
    index.min(BOUNDED_BUCKETS)
}

impl TypedMetric for Latency {
    const TYPE: MetricType = MetricType::Histogram;
}

impl prometheus_client::encoding::EncodeMetric for Latency {
    fn encode(&self, mut encoder: MetricEncoder) -> fmt::Result {
        let mut buckets = Vec::with_capacity(BOUNDED_BUCKETS + 1);
        let mut count = 0;
        for (i, bucket) in self.0.buckets.iter().enumerate() {
            let n = bucket.load(Relaxed);
            count += n;
            let bound = match i < BOUNDED_BUCKETS {
                true => (FIRST_BUCKET_US << i) as f64 / 1e6,
                // The encoder writes `+Inf` for it.
                false => f64::MAX,
            };
            buckets.push((bound, n));
        }
        let sum = self.0.sum_us.load(Relaxed) as f64 / 1e6;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// A latency histogram per label set.
pub type LatencyFamily<L> = Family<L, Latency>;

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
        let family: LatencyFamily<FuncLabels> = LatencyFamily::default();
        registry.register("funcmesh_test_seconds", "A test.", family.clone());
        let hello: FuncName = Arc::from("hello");
        family
            .get_or_create(&FuncLabels::new(&hello, "code", status_class(200)))
            .observe_us(1_000);
        family
            .get_or_create(&FuncLabels::func(&hello))
            .observe_us(2_000);
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
    fn latencies_land_in_doubling_buckets() {
        assert_eq!(
            [
                0,
                1,
                250,
                251,
                500,
                501,
                1_000,
                1_001,
                16_384_000,
                16_384_001,
                u64::MAX
            ]
            .map(bucket_of),
            [0, 0, 0, 1, 1, 2, 2, 3, 16, 17, 17]
        );
        let mut registry = Registry::default();
        let latency = Latency::default();
        registry.register("funcmesh_test_seconds", "A test.", latency.clone());
        for us in [100, 300, 300, 20_000_000] {
            latency.observe_us(us);
        }
        let text = encode(&registry);
        for line in [
            r#"funcmesh_test_seconds_bucket{le="0.00025"} 1"#,
            r#"funcmesh_test_seconds_bucket{le="0.0005"} 3"#,
            r#"funcmesh_test_seconds_bucket{le="16.384"} 3"#,
            r#"funcmesh_test_seconds_bucket{le="+Inf"} 4"#,
            "funcmesh_test_seconds_count 4",
            "funcmesh_test_seconds_sum 20.0007",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }

    #[test]
    fn status_classes() {
        assert_eq!(
            [101, 204, 302, 404, 503, 999].map(status_class),
            ["1xx", "2xx", "3xx", "4xx", "5xx", "5xx"]
        );
    }
}
