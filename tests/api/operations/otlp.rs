//! A minimal OTLP/HTTP trace receiver: `POST /v1/traces` with an
//! `application/x-protobuf` `ExportTraceServiceRequest`, kept in memory.

use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{handler, http::StatusCode, post, Body, EndpointExt, Response, Route, Server};
use prost::Message;

/// One received span, flattened with its resource's service name.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    pub service_name: Option<String>,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub name: String,
    /// OTLP `SpanKind` (2 = server).
    pub kind: i32,
    pub attributes: Vec<KeyValue>,
    /// OTLP `Status.code` (0 = unset, 1 = ok, 2 = error).
    pub status_code: i32,
}

impl ReceivedSpan {
    /// An attribute rendered as text (strings as they are, numbers in decimal).
    pub fn attr(&self, key: &str) -> Option<String> {
        attr_text(&self.attributes, key)
    }

    /// An attribute's typed value.
    pub fn value(&self, key: &str) -> Option<any_value::Value> {
        let kv = self.attributes.iter().find(|kv| kv.key == key)?;
        kv.value.as_ref()?.value.clone()
    }
}

fn attr_text(attributes: &[KeyValue], key: &str) -> Option<String> {
    let value = attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?;
    Some(match value.value.as_ref()? {
        any_value::Value::StringValue(s) => s.clone(),
        any_value::Value::IntValue(i) => i.to_string(),
        any_value::Value::BoolValue(b) => b.to_string(),
        any_value::Value::DoubleValue(d) => d.to_string(),
        other => format!("{other:?}"),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Clone, Default)]
struct Received {
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    /// Requests that were not a decodable protobuf export.
    rejected: Arc<Mutex<Vec<String>>>,
}

pub struct OtlpReceiver {
    pub endpoint: String,
    received: Received,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

#[handler]
async fn traces(req: &poem::Request, body: Body, Data(received): Data<&Received>) -> Response {
    let content_type = req.content_type().unwrap_or("").to_owned();
    let bytes = match body.into_bytes().await {
        Ok(b) => b,
        Err(e) => {
            received.rejected.lock().unwrap().push(format!("body: {e}"));
            return StatusCode::BAD_REQUEST.into();
        }
    };
    if !content_type.starts_with("application/x-protobuf") {
        received
            .rejected
            .lock()
            .unwrap()
            .push(format!("content type {content_type:?}"));
        return StatusCode::UNSUPPORTED_MEDIA_TYPE.into();
    }
    let export = match ExportTraceServiceRequest::decode(bytes) {
        Ok(e) => e,
        Err(e) => {
            received
                .rejected
                .lock()
                .unwrap()
                .push(format!("decode: {e}"));
            return StatusCode::BAD_REQUEST.into();
        }
    };
    let mut spans = received.spans.lock().unwrap();
    for rs in export.resource_spans {
        let service_name = rs
            .resource
            .as_ref()
            .and_then(|r| attr_text(&r.attributes, "service.name"));
        for ss in rs.scope_spans {
            for s in ss.spans {
                spans.push(ReceivedSpan {
                    service_name: service_name.clone(),
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    parent_span_id: hex(&s.parent_span_id),
                    name: s.name,
                    kind: s.kind,
                    attributes: s.attributes,
                    status_code: s.status.map_or(0, |st| st.code),
                });
            }
        }
    }
    Response::builder()
        .content_type("application/x-protobuf")
        .body(ExportTraceServiceResponse::default().encode_to_vec())
}

impl OtlpReceiver {
    pub async fn start() -> OtlpReceiver {
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("bind the OTLP receiver");
        let port = acceptor.local_addr()[0]
            .as_socket_addr()
            .expect("a TCP address")
            .port();
        let received = Received::default();
        let app = Route::new()
            .at("/v1/traces", post(traces))
            .data(received.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(
            Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
                app,
                async {
                    let _ = rx.await;
                },
                None,
            ),
        );
        OtlpReceiver {
            endpoint: format!("http://127.0.0.1:{port}"),
            received,
            shutdown: Some(tx),
        }
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.received.spans.lock().unwrap().clone()
    }

    pub fn rejected(&self) -> Vec<String> {
        self.received.rejected.lock().unwrap().clone()
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
