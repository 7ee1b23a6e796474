//! Logging (JSON lines or pretty text) and OpenTelemetry tracing with OTLP export.
//!
//! The OpenTelemetry layer is installed only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set:
//! building OTel spans costs a measurable share of a request's CPU (see bench/README.md),
//! so without a collector requests are only logged (their trace id is then the caller's
//! `traceparent` one, or a random one). JSON lines are flat ([`json`]).

mod json;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::filter::FilterExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

use crate::config::{Config, LogFormat, OtlpProtocol};

/// Flushes and stops trace export when dropped (at shutdown).
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("warning: flushing traces failed: {e}");
        }
    }
}

/// The OTLP exporter for the configured endpoint and protocol.
fn exporter(config: &Config, endpoint: &str) -> anyhow::Result<SpanExporter> {
    Ok(match config.otel_protocol {
        OtlpProtocol::HttpProtobuf => {
            let base = endpoint.trim_end_matches('/');
            let url = if base.ends_with("/v1/traces") {
                base.to_owned()
            } else {
                format!("{base}/v1/traces")
            };
            SpanExporter::builder()
                .with_http()
                .with_endpoint(url)
                .build()?
        }
        // One transport is built in (it keeps tonic out of the build).
        OtlpProtocol::Grpc => anyhow::bail!(
            "OTEL_EXPORTER_OTLP_PROTOCOL=grpc: this build exports traces over OTLP/HTTP only; \
             set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf and point OTEL_EXPORTER_OTLP_ENDPOINT \
             at the collector's OTLP/HTTP port (4318), e.g. http://localhost:4318"
        ),
    })
}

/// The service's own spans at info level and above (requests, database calls,
/// hashing): the ones log lines take their correlation ids from.
fn app_spans() -> tracing_subscriber::filter::FilterFn<impl Fn(&tracing::Metadata<'_>) -> bool> {
    tracing_subscriber::filter::filter_fn(|m| {
        m.is_span() && m.target().starts_with("todo_api") && *m.level() <= tracing::Level::INFO
    })
}

/// Installs the global subscriber and propagator; keep the guard until exit.
pub fn init(config: &Config) -> anyhow::Result<TelemetryGuard> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let resource = Resource::builder()
        .with_service_name(config.otel_service_name.clone())
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = &config.otel_endpoint {
        // Batch export runs on its own thread: requests never wait for the collector.
        builder = builder.with_batch_exporter(exporter(config, endpoint)?);
    }
    let provider = builder.build();
    let otel = config.otel_endpoint.is_some().then(|| {
        opentelemetry::global::set_tracer_provider(provider.clone());
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("todo-api"))
            .with_filter(EnvFilter::new("todo_api=info"))
    });

    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = match config.log_format {
        LogFormat::Json => fmt::layer()
            .fmt_fields(json::NoSpanFields)
            .event_format(json::FlatJson)
            .with_ansi(false)
            .boxed(),
        LogFormat::Pretty => fmt::layer().pretty().boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(json::Correlation.with_filter(app_spans()))
        // The service's spans are seen whatever LOG_LEVEL says: a warning inside a
        // request is written with the request's ids.
        .with(logs.with_filter(filter.or(app_spans())))
        .with(otel)
        .try_init();
    Ok(TelemetryGuard { provider })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_is_refused_with_what_to_set() {
        let config = Config::from_lookup(|k| match k {
            "JWT_SECRET_KEY" => Some("x".repeat(32)),
            "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("grpc".into()),
            _ => None,
        })
        .unwrap();
        let e = exporter(&config, "http://localhost:4317")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf") && e.contains("4318"),
            "{e}"
        );
        let http =
            Config::from_lookup(|k| (k == "JWT_SECRET_KEY").then(|| "x".repeat(32))).unwrap();
        assert!(exporter(&http, "http://localhost:4318").is_ok());
    }
}
