//! The span reader that feeds the store: it reads what the masking processor hands the OTLP
//! exporter, so the store sees exactly the masked spans the exporter sees, without a copy of
//! each for itself.

use std::sync::{Arc, Mutex};

use opentelemetry_sdk::trace::SpanData;

use crate::telemetry::masking::SpanReader;

use super::{StoredSpan, TraceStore};

/// The span readers that feed `store` (none when there is no store), for
/// `crate::telemetry::init`.
pub fn sinks(store: Option<&Arc<TraceStore>>) -> Vec<Box<dyn SpanReader>> {
    store
        .map(|s| Box::new(TraceStoreProcessor::new(s.clone())) as Box<dyn SpanReader>)
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

impl SpanReader for TraceStoreProcessor {
    fn read(&self, span: &SpanData) {
        // The stored span's strings are made here: marked as the store's, with what the store
        // allocates to hold it.
        super::heap::for_the_store(|| {
            let service = self.service.lock().unwrap_or_else(|p| p.into_inner());
            let stored = StoredSpan::from_data(span, &service);
            drop(service);
            self.store.insert(stored);
        });
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        if let Some(v) = resource.get(&opentelemetry::Key::from_static_str("service.name")) {
            *self.service.lock().unwrap_or_else(|p| p.into_inner()) = v.as_str().into_owned();
        }
    }
}
