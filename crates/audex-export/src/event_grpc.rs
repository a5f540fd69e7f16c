//! `audex.v1.EventService/Export`: batches of whole AuditEvents over gRPC, for
//! SIEM pipelines that want the full event (gzip, headers, TLS as for OTLP).
use crate::delivery::{Accepted, ExportFuture, Exporter};
use crate::grpc_channel::{classify, GrpcTarget};
use crate::otlp::OtlpConfig;
use audex_proto::v1::event_service_client::EventServiceClient;
use audex_proto::v1::{AuditEvent, ExportRequest};
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;

/// The protobuf gRPC exporter.
pub struct EventGrpc {
    cfg: OtlpConfig,
    target: GrpcTarget,
    client: Option<EventServiceClient<Channel>>,
}

impl EventGrpc {
    pub fn new(cfg: OtlpConfig) -> Result<EventGrpc, String> {
        let target = GrpcTarget::new(&cfg, 4317)?;
        Ok(EventGrpc {
            cfg,
            target,
            client: None,
        })
    }
}

impl Exporter for EventGrpc {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn export<'a>(&'a mut self, events: &'a [AuditEvent]) -> ExportFuture<'a> {
        Box::pin(async move {
            let body = ExportRequest {
                events: events.to_vec(),
                node: self.cfg.resource.host_name.clone(),
            };
            let req = self.target.request(body, self.cfg.timeout);
            let (gzip, endpoint) = (self.cfg.gzip, &self.target.endpoint);
            let client = self.client.get_or_insert_with(|| {
                let c = EventServiceClient::new(endpoint.connect_lazy());
                if gzip {
                    c.send_compressed(CompressionEncoding::Gzip)
                        .accept_compressed(CompressionEncoding::Gzip)
                } else {
                    c
                }
            });
            match client.export(req).await {
                Ok(r) => {
                    let r = r.into_inner();
                    Ok(Accepted {
                        rejected: r.rejected,
                        message: r.error_message,
                    })
                }
                Err(status) => Err(classify(&status)),
            }
        })
    }
}
