//! How every command logs: `--log` (the filter), `--log-format text|json`,
//! and the per-Func levels the mesh announces
//! (`funcmesh_core::control::log_level`), applied to the filter while the
//! process runs.

use std::sync::Arc;

use anyhow::Context as _;
use funcmesh_core::control::log_level::{self, LogLevels};
use parking_lot::Mutex;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::{EnvFilter, Layer as _, reload};

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `fields` (the
    /// message and its fields) and `spans` (`request_id` and `bundle` for
    /// a request's lines), for a log collector.
    Json,
}

impl LogFormat {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// The logging every command is given: its filter and its format.
#[derive(Debug, Clone)]
pub struct Logging {
    /// The `--log` filter.
    pub filter: String,
    /// `--log-format`.
    pub format: LogFormat,
}

impl Logging {
    /// The same logging, as a child `funcmesh` process is told it.
    pub fn args(&self) -> [String; 4] {
        [
            "--log".to_owned(),
            self.filter.clone(),
            "--log-format".to_owned(),
            self.format.name().to_owned(),
        ]
    }
}

/// A subscriber that writes to `writer` as `logging` says (text in colour
/// only when `colour`: a terminal reads it, a file or a collector would
/// keep the escapes), and exports the request spans through `tracer` when
/// traces are on; with the hook that applies per-Func levels to its log
/// filter. The filter is the log lines' alone: spans are exported whatever
/// the log level.
pub fn subscriber(
    logging: &Logging,
    writer: BoxMakeWriter,
    colour: bool,
    tracer: Option<opentelemetry_sdk::trace::Tracer>,
) -> anyhow::Result<(Box<dyn tracing::Subscriber + Send + Sync>, log_level::Hook)> {
    let filter = EnvFilter::try_new(&logging.filter).context("parsing --log")?;
    let (filter, handle) = reload::Layer::new(filter);
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(colour)
        .with_writer(writer);
    let lines = match logging.format {
        LogFormat::Text => fmt.with_filter(filter).boxed(),
        LogFormat::Json => fmt
            .json()
            .with_current_span(false)
            .with_filter(filter)
            .boxed(),
    };
    let lines = tracing_subscriber::registry().with(lines);
    // Two types rather than an `Option` layer: a `None` layer would turn
    // every callsite the log filter disables from never into sometimes,
    // checked again at every span and event.
    let subscriber: Box<dyn tracing::Subscriber + Send + Sync> = match tracer {
        Some(tracer) => Box::new(
            lines.with(
                tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    // What each span would pay for and no reader needs:
                    // source locations, thread names, targets, busy and
                    // idle times (a clock read at every poll), and the
                    // OpenTelemetry context made current at every poll
                    // (no other instrumentation here reads it).
                    .with_location(false)
                    .with_threads(false)
                    .with_target(false)
                    .with_tracked_inactivity(false)
                    .with_context_activation(false)
                    .with_filter(filter_fn(funcmesh_core::trace::is_exported)),
            ),
        ),
        None => Box::new(lines),
    };
    let base = logging.filter.clone();
    let applied = Arc::new(Mutex::new(String::new()));
    let hook: log_level::Hook = Box::new(move |levels: &LogLevels| {
        let directives = levels.directives(funcmesh_bus::now_ms());
        let mut last = applied.lock();
        if *last == directives {
            return;
        }
        let text = match directives.is_empty() {
            true => base.clone(),
            false => format!("{base},{directives}"),
        };
        match EnvFilter::try_new(&text).map(|filter| handle.reload(filter)) {
            Ok(Ok(())) => {
                tracing::info!(levels = %directives, "per-Func log levels applied");
                *last = directives;
            }
            Ok(Err(error)) => tracing::warn!(%error, "per-Func log levels not applied"),
            Err(error) => tracing::warn!(%error, "per-Func log levels refused"),
        }
    });
    Ok((subscriber, hook))
}

/// Makes [`subscriber`] this process's, and its hook the one per-Func
/// levels go through; with `traces`, its request spans are exported.
pub fn init(
    logging: &Logging,
    writer: BoxMakeWriter,
    colour: bool,
    traces: Option<&crate::traces::Traces>,
) -> anyhow::Result<()> {
    let (subscriber, hook) = subscriber(logging, writer, colour, traces.map(|t| t.tracer()))?;
    tracing::subscriber::set_global_default(subscriber).context("installing the logger")?;
    log_level::set_hook(hook);
    if traces.is_some() {
        funcmesh_core::trace::set_exporting();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use funcmesh_core::control::log_level::{LogLevelChange, LogLevels};

    use super::*;

    /// Lines written, shared with the test.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn take(&self) -> String {
            String::from_utf8(std::mem::take(&mut *self.0.lock())).unwrap()
        }
    }

    fn request(func: &str) {
        let span = tracing::info_span!(
            "runner.execute",
            request_id = "r1",
            func = tracing::field::Empty
        );
        span.record("func", tracing::field::display(func));
        let _entered = span.enter();
        tracing::debug!("detail of {func}");
        tracing::info!("answered {func}");
    }

    fn with(
        format: LogFormat,
    ) -> (
        Box<dyn tracing::Subscriber + Send + Sync>,
        log_level::Hook,
        Lines,
    ) {
        let lines = Lines::default();
        let writer = lines.clone();
        let logging = Logging {
            filter: "info".into(),
            format,
        };
        let (subscriber, hook) = subscriber(
            &logging,
            BoxMakeWriter::new(move || writer.clone()),
            false,
            None,
        )
        .unwrap();
        (subscriber, hook, lines)
    }

    #[test]
    fn a_funcs_debug_lines_come_and_go_with_its_level() {
        let (subscriber, hook, lines) = with(LogFormat::Text);
        tracing::subscriber::with_default(subscriber, || {
            request("hello");
            let before = lines.take();
            assert!(
                before.contains("answered hello") && !before.contains("detail"),
                "{before}"
            );

            let now = funcmesh_bus::now_ms();
            let change = LogLevelChange::Set {
                func: "hello".into(),
                level: "debug".into(),
                until_ms: now + 60_000,
            };
            let levels = LogLevels::default().apply(&change, now);
            hook(&levels);
            request("hello");
            request("words.py");
            let during = lines.take();
            assert!(during.contains("detail of hello"), "{during}");
            assert!(!during.contains("detail of words.py"), "{during}");

            hook(&LogLevels::default());
            request("hello");
            let after = lines.take();
            assert!(!after.contains("detail"), "{after}");
        });
    }

    #[test]
    fn json_lines_carry_the_request_id_and_the_func() {
        let (subscriber, _hook, lines) = with(LogFormat::Json);
        tracing::subscriber::with_default(subscriber, || request("hello"));
        let text = lines.take();
        let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(line["level"], "INFO", "{line}");
        assert_eq!(line["fields"]["message"], "answered hello", "{line}");
        assert_eq!(line["spans"][0]["request_id"], "r1", "{line}");
        assert_eq!(line["spans"][0]["func"], "hello", "{line}");
    }

    /// Spans as exported.
    #[derive(Debug, Clone, Default)]
    struct Kept(Arc<Mutex<Vec<opentelemetry_sdk::trace::SpanData>>>);

    impl opentelemetry_sdk::trace::SpanExporter for Kept {
        async fn export(
            &self,
            batch: Vec<opentelemetry_sdk::trace::SpanData>,
        ) -> opentelemetry_sdk::error::OTelSdkResult {
            self.0.lock().extend(batch);
            Ok(())
        }
    }

    #[test]
    fn request_spans_are_exported_and_linked_whatever_the_log_level() {
        use funcmesh_core::envelope::TraceContext;
        use funcmesh_core::trace;
        use opentelemetry::trace::TracerProvider as _;

        let kept = Kept::default();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_simple_exporter(kept.clone())
            .build();
        // Queue waits are recorded through the global provider.
        opentelemetry::global::set_tracer_provider(provider.clone());
        let logging = Logging {
            filter: "error".into(),
            format: LogFormat::Text,
        };
        let lines = Lines::default();
        let writer = lines.clone();
        let (subscriber, _hook) = subscriber(
            &logging,
            BoxMakeWriter::new(move || writer.clone()),
            false,
            Some(provider.tracer(trace::SCOPE)),
        )
        .unwrap();
        trace::set_exporting();
        let client = TraceContext {
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
            tracestate: None,
            sent_us: None,
        };
        tracing::subscriber::with_default(subscriber, || {
            // The gateway's side of the hop.
            let gateway = tracing::info_span!("gateway.request", request_id = "r1");
            trace::continue_trace(&gateway, Some(&client));
            let sent = gateway.in_scope(|| {
                tracing::info_span!("not.exported").in_scope(|| tracing::info!("kept out"));
                trace::onward(&gateway, Some(client.clone()))
            });
            drop(gateway);
            let sent = sent.unwrap();
            assert!(sent.sent_us.is_some(), "{sent:?}");
            assert_ne!(sent.traceparent, client.traceparent);
            // The runner's side.
            let execute = tracing::info_span!("runner.execute", func = "hello");
            trace::continue_after_queue(&execute, trace::FUNC_QUEUE_WAIT, Some(&sent));
            execute.in_scope(|| {
                tracing::debug_span!("runner.call").in_scope(|| tracing::warn!("guest trapped"));
            });
        });
        let spans = kept.0.lock().clone();
        let by_name = |name: &str| {
            spans
                .iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("{name} in {spans:#?}"))
        };
        let mut names: Vec<&str> = spans.iter().map(|s| &*s.name).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "gateway.request",
                "runner.call",
                "runner.execute",
                "runner.queue_wait"
            ]
        );
        let gateway = by_name("gateway.request");
        assert_eq!(
            gateway.span_context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(gateway.parent_span_id.to_string(), "00f067aa0ba902b7");
        assert!(gateway.parent_span_is_remote);
        for name in ["runner.execute", "runner.queue_wait"] {
            let span = by_name(name);
            assert_eq!(
                span.parent_span_id,
                gateway.span_context.span_id(),
                "{name}"
            );
            assert_eq!(
                span.span_context.trace_id(),
                gateway.span_context.trace_id()
            );
        }
        let wait = by_name("runner.queue_wait");
        assert!(wait.start_time <= wait.end_time);
        let call = by_name("runner.call");
        assert_eq!(
            call.parent_span_id,
            by_name("runner.execute").span_context.span_id()
        );
        assert_eq!(call.events.events.len(), 1, "{call:?}");
        // The log filter (errors only) saw none of it.
        assert_eq!(lines.take(), "");
    }
}
