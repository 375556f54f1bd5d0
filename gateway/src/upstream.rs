//! Calls to the services: unary calls with already-encoded messages (REST
//! transcoding) over a lazily connected `tonic` channel per service.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use http::uri::PathAndQuery;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, Endpoint};

use crate::config::Upstream;

/// A codec passing protobuf bytes through untouched: the gateway encodes and
/// decodes with the descriptor pool, not with generated types.
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesCodec;

impl Codec for BytesCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = BytesCodec;
    type Decoder = BytesCodec;

    fn encoder(&mut self) -> Self::Encoder {
        *self
    }

    fn decoder(&mut self) -> Self::Decoder {
        *self
    }
}

impl Encoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// A service the gateway forwards to.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    /// Short name (`registry`).
    pub name: &'static str,
    /// `filieris.<name>.`
    pub package_prefix: String,
    /// Base URL.
    pub url: http::Uri,
    /// Channel for unary REST calls (connects on first use, reconnects on failure).
    pub channel: Channel,
}

impl UpstreamClient {
    /// A client for `upstream`; no connection is made yet.
    pub fn new(upstream: &Upstream) -> Self {
        let channel = Endpoint::from(upstream.url.clone()).connect_timeout(Duration::from_secs(5)).tcp_nodelay(true).connect_lazy();
        Self { name: upstream.name, package_prefix: upstream.package_prefix(), url: upstream.url.clone(), channel }
    }

    /// True when this service serves the gRPC service `full_name`.
    pub fn serves(&self, full_name: &str) -> bool {
        full_name.starts_with(&self.package_prefix)
    }

    /// One unary call with an encoded request; returns the encoded response.
    pub async fn unary(&self, path: &str, body: Bytes, metadata: MetadataMap, timeout: Duration) -> Result<Bytes, Status> {
        let path = PathAndQuery::try_from(path).map_err(|e| Status::internal(format!("invalid gRPC path {path}: {e}")))?;
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready().await.map_err(|e| Status::unavailable(format!("service {} is unavailable: {e}", self.name)))?;
        let mut request = tonic::Request::from_parts(metadata, tonic::Extensions::default(), body);
        request.set_timeout(timeout);
        // The service enforces the deadline too; this bounds a service that never answers.
        match tokio::time::timeout(timeout + Duration::from_secs(1), grpc.unary(request, path, BytesCodec)).await {
            Ok(result) => result.map(tonic::Response::into_inner),
            Err(_) => Err(Status::deadline_exceeded(format!("service {} did not answer within {timeout:?}", self.name))),
        }
    }
}
