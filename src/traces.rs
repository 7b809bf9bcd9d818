//! OpenTelemetry traces, exported over OTLP/HTTP (protobuf) when the
//! standard variables ask for it, and not at all otherwise.
//!
//! - On when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
//!   `OTEL_EXPORTER_OTLP_ENDPOINT` is set, or `OTEL_TRACES_EXPORTER=otlp`
//!   (then to `http://localhost:4318`); off when `OTEL_TRACES_EXPORTER=none`
//!   or `OTEL_SDK_DISABLED=true`, whatever else is set.
//! - `OTEL_SERVICE_NAME` names the process (by default `funcmesh-gateway`,
//!   `funcmesh-tron`, `funcmesh-runner` or `funcmesh-dev`);
//!   `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)`, `OTEL_BSP_*`,
//!   and the exporter's `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`, `_TIMEOUT`,
//!   `_COMPRESSION` and `_CERTIFICATE` (a CA for an `https://` collector)
//!   mean what the OpenTelemetry specification says.
//! - Only `http/protobuf` is spoken: a `grpc` or `http/json` protocol is
//!   refused at start, not ignored.
//!
//! Spans are batched on the SDK's own thread; each batch is sent by the
//! process's runtime (hyper, rustls for `https://`), so that the request
//! path never waits for the collector and a slow or absent collector costs
//! dropped spans (the SDK counts them), not requests.

use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use funcmesh_core::tls::{AdminConnector, AdminTrust};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracerProvider, Tracer};

/// How long the exporter may take to flush what is left when the process
/// stops.
const FLUSH_AT_EXIT: Duration = Duration::from_secs(5);

/// The exporter this process runs.
#[derive(Debug)]
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// The exporter the process's environment asks for, sending from
    /// `runtime`; none when traces are off. `service` names the process
    /// unless `OTEL_SERVICE_NAME` does.
    pub fn from_env(
        service: &str,
        runtime: tokio::runtime::Handle,
    ) -> anyhow::Result<Option<Self>> {
        Self::configured(&|name| std::env::var(name).ok(), service, runtime)
    }

    fn configured(
        env: &dyn Fn(&str) -> Option<String>,
        service: &str,
        runtime: tokio::runtime::Handle,
    ) -> anyhow::Result<Option<Self>> {
        if !asked(env)? {
            return Ok(None);
        }
        let trust = AdminTrust {
            ca: signal_or_general(env, "CERTIFICATE").map(Into::into),
        };
        let connector = trust
            .connector()
            .context("OTEL_EXPORTER_OTLP_CERTIFICATE")?;
        let timeout = match signal_or_general(env, "TIMEOUT") {
            Some(ms) => Duration::from_millis(ms.trim().parse().with_context(|| {
                format!("OTEL_EXPORTER_OTLP_TIMEOUT={ms}: a number of milliseconds")
            })?),
            None => Duration::from_secs(10),
        };
        let client = OnRuntime {
            client: opentelemetry_http::hyper::HyperClient::new(connector, timeout, None),
            runtime,
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_timeout(timeout)
            .with_http_client(client)
            .build()
            .context("the OTLP trace exporter")?;
        let mut resource = Resource::builder().with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ));
        if env("OTEL_SERVICE_NAME").is_none_or(|s| s.is_empty()) {
            resource = resource.with_service_name(service.to_owned());
        }
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build();
        opentelemetry::global::set_tracer_provider(provider.clone());
        Ok(Some(Self { provider }))
    }

    /// The tracer the `tracing` layer exports through.
    pub fn tracer(&self) -> Tracer {
        self.provider.tracer(funcmesh_core::trace::SCOPE)
    }

    /// Sends what is left, waiting a few seconds at most. Called off the
    /// runtime's workers, with the runtime still running (it sends).
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown_with_timeout(FLUSH_AT_EXIT) {
            eprintln!("traces: the last spans were not all sent: {error}");
        }
    }
}

/// Whether the environment asks for traces; an error for what this
/// exporter cannot do.
fn asked(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<bool> {
    let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    if set("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Ok(false);
    }
    let exporter = set("OTEL_TRACES_EXPORTER");
    match exporter.as_deref().map(str::trim) {
        Some("none") => return Ok(false),
        Some("otlp") | None => {}
        Some(other) => anyhow::bail!(
            "OTEL_TRACES_EXPORTER={other}: funcmesh exports traces over OTLP only \
             (set it to otlp, or none for no traces)"
        ),
    }
    let endpoint = signal_or_general(env, "ENDPOINT").is_some();
    if !endpoint && exporter.is_none() {
        return Ok(false);
    }
    match signal_or_general(env, "PROTOCOL").as_deref().map(str::trim) {
        None | Some("http/protobuf") => Ok(true),
        Some(other) => anyhow::bail!(
            "OTEL_EXPORTER_OTLP_PROTOCOL={other}: funcmesh exports OTLP over HTTP with \
             protobuf only; set http/protobuf and point the endpoint at the collector's \
             HTTP receiver (port 4318 by default)"
        ),
    }
}

/// `OTEL_EXPORTER_OTLP_TRACES_{key}`, else `OTEL_EXPORTER_OTLP_{key}`,
/// when set and not empty.
fn signal_or_general(env: &dyn Fn(&str) -> Option<String>, key: &str) -> Option<String> {
    [
        format!("OTEL_EXPORTER_OTLP_TRACES_{key}"),
        format!("OTEL_EXPORTER_OTLP_{key}"),
    ]
    .iter()
    .find_map(|name| env(name).filter(|v| !v.trim().is_empty()))
}

/// An HTTP client whose requests run on the process's runtime: the SDK's
/// batch thread has no runtime of its own, and hyper needs one.
#[derive(Debug, Clone)]
struct OnRuntime {
    client: opentelemetry_http::hyper::HyperClient<AdminConnector>,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        self.runtime
            .spawn(async move { client.send_bytes(request).await })
            .await?
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn off_unless_an_endpoint_or_the_exporter_is_named() {
        let on = |pairs: &[(&str, &str)]| asked(&env_of(pairs)).unwrap();
        assert!(!on(&[]));
        assert!(!on(&[("OTEL_SERVICE_NAME", "x")]));
        assert!(on(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]));
        assert!(on(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://c:4318/v1/traces"
        )]));
        assert!(on(&[("OTEL_TRACES_EXPORTER", "otlp")]));
        assert!(!on(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]));
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
        assert!(!on(&[endpoint, ("OTEL_TRACES_EXPORTER", "none")]));
        assert!(!on(&[endpoint, ("OTEL_SDK_DISABLED", "TRUE")]));
        assert!(on(&[endpoint, ("OTEL_SDK_DISABLED", "false")]));
        assert!(on(&[
            endpoint,
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        ]));
    }

    #[test]
    fn what_it_cannot_do_is_refused_by_name() {
        let refused = |pairs: &[(&str, &str)]| format!("{:#}", asked(&env_of(pairs)).unwrap_err());
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317");
        let grpc = refused(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]);
        assert!(
            grpc.contains("protocol=grpc") || grpc.contains("PROTOCOL=grpc"),
            "{grpc}"
        );
        assert!(grpc.contains("4318"), "{grpc}");
        let json = refused(&[
            endpoint,
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
        ]);
        assert!(json.contains("http/json"), "{json}");
        let zipkin = refused(&[("OTEL_TRACES_EXPORTER", "zipkin")]);
        assert!(zipkin.contains("OTEL_TRACES_EXPORTER=zipkin"), "{zipkin}");
    }
}
