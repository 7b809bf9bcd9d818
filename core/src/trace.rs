//! One request, one trace: the spans a request opens in the gateway, the
//! tron and the runner are linked through the W3C trace context the
//! envelope carries ([`TraceContext`]), so that an OpenTelemetry backend
//! shows them as one trace however many processes it crossed.
//!
//! The binary installs the exporter (OTLP, off unless configured) and then
//! calls [`set_exporting`]; until then every function here returns at its
//! first load of one flag, and the envelope carries the client's
//! `traceparent` unchanged, as it always did.
//!
//! The spans exported are the `tracing` spans named in [`SPANS`] (the
//! components open them for their logs too), plus the queue waits, which
//! [`continue_after_queue`] records once the wait is over, from the time the sender
//! wrote in the envelope.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::global::BoxedTracer;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{Span as _, SpanKind, Tracer as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::envelope::TraceContext;

/// The `tracing` spans exported as OpenTelemetry spans: a request's way
/// through the mesh, one per hop and stage.
pub const SPANS: [&str; 6] = [
    "gateway.request",
    "tron.dispatch",
    "runner.delivery",
    "runner.execute",
    "runner.instantiate",
    "runner.call",
];

/// The name of the span of a wait in the firehose (before the tron).
pub const FIREHOSE_WAIT: &str = "tron.queue_wait";
/// The name of the span of a wait in a Func queue (before the runner).
pub const FUNC_QUEUE_WAIT: &str = "runner.queue_wait";

/// The instrumentation scope of every span this mesh exports.
pub const SCOPE: &str = "funcmesh";

static EXPORTING: AtomicBool = AtomicBool::new(false);

/// The tracer of the spans recorded here (queue waits), taken from the
/// global provider once.
static TRACER: OnceLock<BoxedTracer> = OnceLock::new();

/// Says that this process exports traces (the exporter and the `tracing`
/// layer are installed, the global tracer provider set): from now on spans
/// are linked across processes.
pub fn set_exporting() {
    TRACER.get_or_init(|| opentelemetry::global::tracer(SCOPE));
    EXPORTING.store(true, Ordering::Release);
}

/// Whether this process exports traces.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Acquire)
}

/// Whether the exporting layer takes what `metadata` describes: the spans
/// of [`SPANS`], and warnings and errors logged inside them (as events of
/// the span).
pub fn is_exported(metadata: &tracing::Metadata<'_>) -> bool {
    match metadata.is_span() {
        true => SPANS.contains(&metadata.name()),
        false => *metadata.level() <= tracing::Level::WARN,
    }
}

/// Makes `span` (not yet entered) a child of the span `context` names,
/// which another process (or the client) opened. Without a context, the
/// span starts a trace of its own.
pub fn continue_trace(span: &tracing::Span, context: Option<&TraceContext>) {
    if !exporting() {
        return;
    }
    if let Some(context) = context {
        // Fails only when no exporting layer sees the span (disabled):
        // then there is nothing to link.
        let _ = span.set_parent(parent(context));
    }
}

/// The trace context to send on with a request that `span` handles: the
/// span's own, stamped with the time it is sent, when exporting; otherwise
/// `received` (the client's) unchanged.
pub fn onward(span: &tracing::Span, received: Option<TraceContext>) -> Option<TraceContext> {
    if !exporting() {
        return received;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
    let Some(traceparent) = carrier.remove("traceparent") else {
        // The span is not exported: pass on what came.
        return received;
    };
    Some(TraceContext {
        traceparent,
        tracestate: carrier.remove("tracestate").filter(|s| !s.is_empty()),
        sent_us: Some(micros_since_epoch(SystemTime::now())),
    })
}

/// Continues the trace `context` names after a wait in a queue: records
/// the wait as the span `wait`, from when the sender stamped `context` to
/// now, and makes `span` (not yet entered) a child of the sender's span,
/// as [`continue_trace`] does; the context is read once for both. No wait
/// is recorded for a context without a send time (a client's, or an older
/// sender's). Clocks of different hosts may disagree: a send time after
/// now is taken as now.
pub fn continue_after_queue(
    span: &tracing::Span,
    wait: &'static str,
    context: Option<&TraceContext>,
) {
    if !exporting() {
        return;
    }
    let Some(context) = context else {
        return;
    };
    let parent = parent(context);
    if let (Some(sent_us), Some(tracer)) = (context.sent_us, TRACER.get()) {
        let picked_up = SystemTime::now();
        let sent = (UNIX_EPOCH + Duration::from_micros(sent_us)).min(picked_up);
        tracer
            .span_builder(wait)
            .with_kind(SpanKind::Consumer)
            .with_start_time(sent)
            .start_with_context(tracer, &parent)
            .end_with_timestamp(picked_up);
    }
    // As in `continue_trace`.
    let _ = span.set_parent(parent);
}

fn micros_since_epoch(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The remote span `context` names, as a parent; an unreadable
/// `traceparent` gives an empty context (a new trace).
fn parent(context: &TraceContext) -> opentelemetry::Context {
    let mut carrier = HashMap::from([("traceparent".to_owned(), context.traceparent.clone())]);
    if let Some(state) = &context.tracestate {
        carrier.insert("tracestate".to_owned(), state.clone());
    }
    TraceContextPropagator::new().extract(&carrier)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn context(traceparent: &str) -> TraceContext {
        TraceContext {
            traceparent: traceparent.to_owned(),
            tracestate: Some("vendor=1".to_owned()),
            sent_us: None,
        }
    }

    #[test]
    fn a_readable_traceparent_is_a_remote_parent() {
        use opentelemetry::trace::TraceContextExt as _;
        let cx = parent(&context(CLIENT));
        let remote = cx.span().span_context().clone();
        assert!(remote.is_valid() && remote.is_remote() && remote.is_sampled());
        assert_eq!(
            remote.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(remote.span_id().to_string(), "00f067aa0ba902b7");
        assert_eq!(remote.trace_state().header(), "vendor=1");
        for bad in ["", "00-zz-00f067aa0ba902b7-01", "00-0000-0000-01"] {
            assert!(!parent(&context(bad)).span().span_context().is_valid());
        }
    }

    #[test]
    fn without_an_exporter_the_clients_context_goes_on_unchanged() {
        // No test here sets the flag: it is this process's, once.
        let received = Some(context(CLIENT));
        let span = tracing::info_span!("gateway.request");
        continue_trace(&span, received.as_ref());
        assert_eq!(onward(&span, received.clone()), received);
        continue_after_queue(&span, FUNC_QUEUE_WAIT, received.as_ref());
    }
}
