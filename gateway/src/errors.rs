//! Errors as JSON: a `google.rpc.Status` rendered with the HTTP status of its
//! code (AIP-193):
//!
//! ```json
//! {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "…",
//!            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", …}]}}
//! ```
//!
//! Details come from the status's `grpc-status-details-bin` payload and are
//! decoded with the descriptor pool, so any detail type the protos define
//! renders with its protobuf JSON form; an unknown one keeps its bytes.

use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use filieris_proto::google::rpc::Status as RpcStatus;
use filieris_runtime::error::{ApiError, http_status};
use http::{HeaderValue, StatusCode};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use serde_json::{Value as Json, json};
use tonic::Code;

/// The canonical name of a gRPC code, as in `google.rpc.Code`.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The JSON error body of a status, with `code` set to `http`.
pub fn status_json(status: &tonic::Status, http: u16, pool: &DescriptorPool) -> Json {
    json!({
        "error": {
            "code": http,
            "status": code_name(status.code()),
            "message": status.message(),
            "details": details_json(status.details(), pool),
        }
    })
}

/// Renders each `Any` of an encoded `google.rpc.Status`.
pub fn details_json(encoded: &[u8], pool: &DescriptorPool) -> Vec<Json> {
    if encoded.is_empty() {
        return Vec::new();
    }
    let Ok(status) = RpcStatus::decode(encoded) else {
        return Vec::new();
    };
    status.details.iter().map(|any| any_json(&any.type_url, &any.value, pool)).collect()
}

fn any_json(type_url: &str, value: &[u8], pool: &DescriptorPool) -> Json {
    let name = type_url.rsplit('/').next().unwrap_or(type_url);
    let rendered = pool
        .get_message_by_name(name)
        .and_then(|desc| DynamicMessage::decode(desc, value).ok())
        .and_then(|msg| serde_json::to_value(&msg).ok());
    match rendered {
        Some(Json::Object(mut map)) => {
            map.insert("@type".into(), Json::String(type_url.to_owned()));
            Json::Object(map)
        }
        Some(other) => json!({"@type": type_url, "value": other}),
        None => json!({"@type": type_url, "value": base64::engine::general_purpose::STANDARD.encode(value)}),
    }
}

/// A JSON error response for a status (HTTP status from its code).
pub fn error_response(status: &tonic::Status, pool: &DescriptorPool) -> Response {
    let http = http_status(status.code());
    error_response_with(status, http, pool)
}

/// A JSON error response with an explicit HTTP status (405 and the like).
pub fn error_response_with(status: &tonic::Status, http: u16, pool: &DescriptorPool) -> Response {
    let code = StatusCode::from_u16(http).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = status_json(status, code.as_u16(), pool);
    let mut response = (code, axum::Json(body)).into_response();
    if status.code() == Code::Unauthenticated {
        response.headers_mut().insert(http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// A JSON error response for an [`ApiError`].
pub fn api_error_response(err: ApiError, pool: &DescriptorPool) -> Response {
    error_response(&tonic::Status::from(err), pool)
}

#[cfg(test)]
mod tests {
    use filieris_runtime::error::Violations;
    use tonic_types::{ErrorDetails, StatusExt};

    use super::*;

    fn pool() -> DescriptorPool {
        crate::descriptors::pool().expect("descriptor set")
    }

    #[test]
    fn renders_error_info_and_field_violations() {
        let mut v = Violations::new();
        v.add("structure.finess", "FINESS check digit is wrong");
        let err = v.into_result("registry.filieris").expect_err("invalid").with_metadata("finess", "590000018");
        let status = tonic::Status::from(err);
        let body = status_json(&status, http_status(status.code()), &pool());
        assert_eq!(body["error"]["code"], 400);
        assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
        assert_eq!(body["error"]["message"], "invalid structure.finess: FINESS check digit is wrong");
        let details = body["error"]["details"].as_array().expect("details");
        let info = details.iter().find(|d| d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo").expect("error info");
        assert_eq!(info["reason"], "INVALID_ARGUMENT");
        assert_eq!(info["domain"], "registry.filieris");
        assert_eq!(info["metadata"]["finess"], "590000018");
        let bad = details.iter().find(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest").expect("bad request");
        assert_eq!(bad["fieldViolations"][0]["field"], "structure.finess");
        assert_eq!(bad["fieldViolations"][0]["description"], "FINESS check digit is wrong");
    }

    #[test]
    fn maps_codes_to_http() {
        let pool = pool();
        for (code, http) in [(Code::NotFound, 404), (Code::Aborted, 409), (Code::Unauthenticated, 401), (Code::Unavailable, 503)] {
            let response = error_response(&tonic::Status::new(code, "x"), &pool);
            assert_eq!(response.status().as_u16(), http);
        }
        let plain = status_json(&tonic::Status::not_found("gone"), 404, &pool);
        assert_eq!(plain["error"]["details"], json!([]));
    }

    #[test]
    fn unknown_detail_types_keep_their_bytes() {
        let mut details = ErrorDetails::new();
        details.set_error_info("R", "d", std::collections::HashMap::new());
        let status = tonic::Status::with_error_details(Code::Internal, "x", details);
        let mut encoded = RpcStatus::decode(status.details()).expect("status");
        encoded.details.push(prost_types::Any { type_url: "type.googleapis.com/x.Unknown".into(), value: vec![1, 2] });
        let rendered = details_json(&encoded.encode_to_vec(), &pool());
        assert_eq!(rendered.len(), 2);
        assert_eq!(rendered[1], json!({"@type": "type.googleapis.com/x.Unknown", "value": "AQI="}));
    }
}
