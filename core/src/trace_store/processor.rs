//! The span processor that feeds the store: one more sink of the masking processor, so the store
//! sees exactly the masked spans the OTLP exporter sees.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

use super::{StoredSpan, TraceStore};

/// The span processors that feed `store` (none when there is no store), for
/// `crate::telemetry::init`.
pub fn sinks(store: Option<&Arc<TraceStore>>) -> Vec<Box<dyn SpanProcessor>> {
    store
        .map(|s| Box::new(TraceStoreProcessor::new(s.clone())) as Box<dyn SpanProcessor>)
        .into_iter()
        .collect()
}

/// Feeds finished spans into a [`TraceStore`].
#[derive(Debug, Clone)]
pub struct TraceStoreProcessor {
    store: Arc<TraceStore>,
    service: Arc<Mutex<String>>,
}

impl TraceStoreProcessor {
    /// A processor writing into `store`.
    pub fn new(store: Arc<TraceStore>) -> Self {
        Self {
            store,
            service: Arc::new(Mutex::new(String::new())),
        }
    }
}

impl SpanProcessor for TraceStoreProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        let service = self
            .service
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        self.store.insert(StoredSpan::from_data(&span, &service));
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        if let Some(v) = resource.get(&opentelemetry::Key::from_static_str("service.name")) {
            *self.service.lock().unwrap_or_else(|p| p.into_inner()) = v.as_str().into_owned();
        }
    }
}
