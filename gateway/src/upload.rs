//! `POST /v1/actBatches:upload`: a CSV or NDJSON file of acts, streamed as it
//! arrives into the activity service's client-streaming `ImportActs` (header
//! first, then the body's bytes as `data` parts). The service parses and
//! validates; the answer is the batch summary as JSON, like `POST
//! /v1/actBatches`. An upload cut off mid-body aborts the call, so the
//! service rolls the batch back instead of storing half a file.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use filieris_proto::activity as pb;
use filieris_proto::activity::activity_service_client::ActivityServiceClient;
use filieris_runtime::error::{ApiError, ErrorCode};
use prost_reflect::DynamicMessage;
use tokio_stream::StreamExt;

use crate::errors::{api_error_response, error_response};
use crate::{DOMAIN, Gateway, RequestId, upstream_headers};

/// The activity service's full name.
const ACTIVITY: &str = "filieris.activity.v1.ActivityService";
/// The RPC an upload is authorised as.
const IMPORT_ACTS: &str = "filieris.activity.v1.ActivityService/ImportActs";

fn bad(reason: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidArgument, DOMAIN, reason, message)
}

/// Handles an upload.
pub(crate) async fn upload_acts(State(gateway): State<Arc<Gateway>>, mut req: Request) -> Response {
    let pool = &gateway.descriptors;
    let identity = match crate::admit(&gateway, &mut req, IMPORT_ACTS).await {
        Ok(identity) => identity,
        Err(response) => return response,
    };
    let content_type = req.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let format = if content_type.starts_with("text/csv") {
        pb::UploadFormat::Csv
    } else if content_type.starts_with("application/x-ndjson") || content_type.starts_with("application/jsonl") {
        pb::UploadFormat::Ndjson
    } else {
        return api_error_response(bad("UNSUPPORTED_UPLOAD_FORMAT", "content-type must be text/csv or application/x-ndjson"), pool);
    };
    let Some(request_id) = req.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned) else {
        return api_error_response(
            bad("IDEMPOTENCY_KEY_REQUIRED", "an upload needs an Idempotency-Key header (the batch's request id)"),
            pool,
        );
    };
    let source_system = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("sourceSystem=").or_else(|| kv.strip_prefix("source_system="))))
        .unwrap_or("")
        .to_owned();
    let Some(upstream) = gateway.upstreams.iter().find(|u| u.serves(ACTIVITY)) else {
        return api_error_response(
            ApiError::new(ErrorCode::Unavailable, DOMAIN, "UPSTREAM_UNAVAILABLE", "the activity service is not configured"),
            pool,
        );
    };
    let headers = upstream_headers(&gateway, &identity, req.headers(), req.extensions().get::<RequestId>());

    // Body → parts. A failed body read stops the call (the service then rolls back).
    let (tx, rx) = tokio::sync::mpsc::channel::<pb::ImportActsRequest>(16);
    let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<String>();
    let header = pb::ImportActsRequest {
        part: Some(pb::import_acts_request::Part::Header(pb::ImportHeader { request_id, source_system, format: format as i32 })),
    };
    let mut body = req.into_body().into_data_stream();
    tokio::spawn(async move {
        if tx.send(header).await.is_err() {
            return;
        }
        while let Some(frame) = body.next().await {
            match frame {
                Ok(bytes) => {
                    let part = pb::ImportActsRequest { part: Some(pb::import_acts_request::Part::Data(bytes.to_vec())) };
                    if tx.send(part).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = failed_tx.send(e.to_string());
                    return;
                }
            }
        }
    });
    let mut request = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
    *request.metadata_mut() = tonic::metadata::MetadataMap::from_headers(headers);
    let mut client = ActivityServiceClient::new(upstream.channel.clone());
    let outcome = tokio::select! {
        r = client.import_acts(request) => r,
        Ok(reason) = failed_rx => {
            return api_error_response(bad("UPLOAD_INTERRUPTED", format!("the upload body could not be read ({reason}); nothing was stored")), pool);
        }
    };
    match outcome {
        Ok(response) => {
            let batch = response.into_inner().batch.unwrap_or_default();
            match pool.get_message_by_name("filieris.activity.v1.ActBatch") {
                Some(desc) => match DynamicMessage::decode(desc, prost::Message::encode_to_vec(&batch).as_slice()) {
                    Ok(message) => match serde_json::to_value(&message) {
                        Ok(json) => axum::Json(json).into_response(),
                        Err(e) => api_error_response(ApiError::internal(DOMAIN, &e), pool),
                    },
                    Err(e) => api_error_response(ApiError::internal(DOMAIN, &e), pool),
                },
                None => api_error_response(ApiError::internal(DOMAIN, &"ActBatch is missing from the descriptors"), pool),
            }
        }
        Err(status) => error_response(&status, pool),
    }
}
