//! The JSON log line: one flat object per event, every field at the top level (no
//! `fields`/`span` nesting, so log pipelines index them without remapping), plus the
//! correlation ids of where the event happened:
//!
//! - `span_id`: the OpenTelemetry span id of the innermost span when traces are
//!   exported, else an id of the log's own, one per span;
//! - `trace_id` and `request_id`: from the enclosing request (the OpenTelemetry trace
//!   id when traces are exported, else the one the request recorded on its span: the
//!   caller's `traceparent` trace id, or a random one).
//!
//! ```json
//! {"timestamp":"2026-12-02T01:02:03.456789Z","level":"INFO","target":"todo_api::http::middleware","message":"request","method":"GET","route":"/api/v1/todos","status":200,"latency_ms":1.9,"user_id":"0193…","request_id":"9f1c…","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}
//! ```

use std::fmt;

use opentelemetry::trace::TraceContextExt;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};
use tracing_subscriber::Layer;

/// The correlation fields a span may carry for the events inside it.
const REQUEST_ID: &str = "request_id";
const TRACE_ID: &str = "trace_id";

/// What [`Correlation`] keeps per span: its own log span id and the correlation
/// fields recorded on it.
struct SpanIds {
    span_id: u64,
    request_id: Option<String>,
    trace_id: Option<String>,
}

impl Visit for SpanIds {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            REQUEST_ID => self.request_id = Some(value.to_owned()),
            TRACE_ID => self.trace_id = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if matches!(field.name(), REQUEST_ID | TRACE_ID) {
            self.record_str(field, &format!("{value:?}"));
        }
    }
}

/// A layer that gives every span a log span id and remembers the `request_id` and
/// `trace_id` recorded on it, for [`FlatJson`].
pub struct Correlation;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Correlation {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ids = SpanIds {
            span_id: rand::random::<u64>().max(1),
            request_id: None,
            trace_id: None,
        };
        attrs.record(&mut ids);
        span.extensions_mut().insert(ids);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(ids) = ext.get_mut::<SpanIds>() {
            values.record(ids);
        }
    }
}

/// The event's fields as JSON values (`log.*` fields of `log` records left out: the
/// normalized metadata already says where they come from).
struct Fields<'a>(&'a mut Map<String, Value>);

impl Fields<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        if !field.name().starts_with("log.") {
            self.0.insert(field.name().to_owned(), value);
        }
    }
}

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let v = serde_json::Number::from_f64(value)
            .map_or_else(|| value.to_string().into(), Value::Number);
        self.put(field, v);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

/// The OpenTelemetry trace and span id of `span`, when it is exported. The dispatcher
/// is the global one (the service sets no scoped dispatcher): inside an event a scoped
/// lookup would find none.
fn otel_ids<S: for<'a> LookupSpan<'a>>(span: &SpanRef<'_, S>) -> Option<(String, String)> {
    let cx = tracing::dispatcher::get_default(|d| {
        tracing_opentelemetry::get_otel_context(&span.id(), d)
    })?;
    let otel = cx.span();
    let sc = otel.span_context();
    sc.is_valid()
        .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
}

/// Adds `request_id`, `trace_id` and `span_id` of the event's place (fields of the
/// event itself win). The span id is the innermost span's: its OpenTelemetry id when
/// it is exported, else its log id; the trace id is the one of the innermost exported
/// span, else the one recorded on the request.
fn correlate<S, N>(ctx: &FmtContext<'_, S, N>, map: &mut Map<String, Value>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    let Some(scope) = ctx.event_scope() else {
        return;
    };
    let (mut span_id, mut otel_trace) = (None, None);
    let (mut request_id, mut trace_id) = (None, None);
    for span in scope {
        // Before the extensions are borrowed: this takes them mutably.
        if otel_trace.is_none() {
            if let Some((t, s)) = otel_ids(&span) {
                span_id.get_or_insert(s);
                otel_trace = Some(t);
            }
        }
        let ext = span.extensions();
        if let Some(ids) = ext.get::<SpanIds>() {
            span_id.get_or_insert_with(|| format!("{:016x}", ids.span_id));
            request_id = request_id.or_else(|| ids.request_id.clone());
            trace_id = trace_id.or_else(|| ids.trace_id.clone());
        }
    }
    let trace_id = otel_trace.or(trace_id);
    for (key, value) in [
        (REQUEST_ID, request_id),
        (TRACE_ID, trace_id),
        ("span_id", span_id),
    ] {
        if let Some(v) = value {
            map.entry(key).or_insert(Value::String(v));
        }
    }
}

/// The field formatter of the JSON log layer: formats nothing. [`FlatJson`] takes an
/// event's fields from the event and the correlation ids from [`Correlation`], never the
/// spans' formatted fields, which the layer would otherwise build as JSON for every span
/// (each request and database call) whether or not a line is written.
pub struct NoSpanFields;

impl<'w> FormatFields<'w> for NoSpanFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        _writer: Writer<'w>,
        _fields: R,
    ) -> fmt::Result {
        Ok(())
    }
}

/// The flat JSON event format (see the module documentation).
pub struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let mut map = Map::new();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        map.insert("timestamp".into(), now.into());
        map.insert("level".into(), meta.level().as_str().into());
        map.insert("target".into(), meta.target().into());
        event.record(&mut Fields(&mut map));
        correlate(ctx, &mut map);
        let line = serde_json::to_string(&map).map_err(|_| fmt::Error)?;
        writeln!(writer, "{line}")
    }
}
