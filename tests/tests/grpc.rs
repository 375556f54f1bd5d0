//! The platform over gRPC and gRPC-Web: through the gateway with a
//! credential, and health and reflection on every gRPC server.

use bytes::{Buf, BufMut, BytesMut};
use filieris_e2e::{ADMIN_KEY, Platform};
use filieris_proto::registry as pb;
use filieris_proto::registry::registry_service_client::RegistryServiceClient;
use prost::Message;
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

async fn channel(url: &str) -> Channel {
    Channel::from_shared(url.to_owned()).expect("url").connect().await.expect("connect")
}

fn authed<T>(msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    let v: MetadataValue<_> = format!("Bearer {ADMIN_KEY}").parse().expect("header");
    r.metadata_mut().insert("authorization", v);
    r
}

fn list(filter: &str, page_size: i32) -> pb::ListStructuresRequest {
    pb::ListStructuresRequest {
        page_size,
        page_token: String::new(),
        filter: filter.into(),
        search: String::new(),
        as_of_date: String::new(),
    }
}

#[tokio::test]
async fn grpc_grpc_web_health_and_reflection() {
    let p = Platform::start().await.expect("platform");
    let gateway = channel(&p.gateway_url).await;

    // gRPC through the gateway: refused without a credential, served with one.
    let mut client = RegistryServiceClient::new(gateway.clone());
    let err = client.list_structures(list("", 1)).await.expect_err("no credential");
    assert_eq!(err.code(), Code::Unauthenticated);
    let page = client.list_structures(authed(list("category = HEALTH_CENTRE", 10))).await.expect("list").into_inner();
    assert_eq!(page.total_size, 163);
    assert_eq!(page.structures.len(), 10);

    // The registry refuses calls that did not come through the gateway (no signed identity).
    let registry_url = format!("http://{}", p.registry_addr);
    let mut direct = RegistryServiceClient::new(channel(&registry_url).await);
    let err = direct.list_structures(authed(list("", 1))).await.expect_err("unsigned");
    assert_eq!(err.code(), Code::Unauthenticated);

    // Health answers on the registry and on the gateway.
    for url in [registry_url.clone(), p.gateway_url.clone()] {
        let mut health = HealthClient::new(channel(&url).await);
        let r = health.check(HealthCheckRequest { service: String::new() }).await.expect("health").into_inner();
        assert_eq!(r.status, ServingStatus::Serving as i32, "{url}");
    }
    let mut health = HealthClient::new(channel(&registry_url).await);
    let r = health.check(HealthCheckRequest { service: filieris_registry::SERVICE_NAME.into() }).await.expect("health").into_inner();
    assert_eq!(r.status, ServingStatus::Serving as i32);

    // Reflection lists the registry service.
    let mut reflection = ServerReflectionClient::new(channel(&registry_url).await);
    let request = ServerReflectionRequest { host: String::new(), message_request: Some(MessageRequest::ListServices(String::new())) };
    let mut stream = reflection.server_reflection_info(tokio_stream::iter(vec![request])).await.expect("reflection").into_inner();
    let response = stream.message().await.expect("message").expect("some");
    let Some(MessageResponse::ListServicesResponse(services)) = response.message_response else { panic!("unexpected reflection answer") };
    assert!(services.service.iter().any(|s| s.name == filieris_registry::SERVICE_NAME));

    // gRPC-Web through the gateway, framed by hand as a browser library would.
    let mut body = BytesMut::new();
    let msg = list("category = PHARMACY", 5).encode_to_vec();
    body.put_u8(0);
    body.put_u32(msg.len() as u32);
    body.put_slice(&msg);
    let r = reqwest::Client::new()
        .post(format!("{}/filieris.registry.v1.RegistryService/ListStructures", p.gateway_url))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .bearer_auth(ADMIN_KEY)
        .body(body.freeze())
        .send()
        .await
        .expect("grpc-web");
    assert_eq!(r.status().as_u16(), 200);
    let mut bytes = r.bytes().await.expect("body");
    let mut response = None;
    let mut trailers = String::new();
    while bytes.remaining() >= 5 {
        let flag = bytes.get_u8();
        let len = bytes.get_u32() as usize;
        let frame = bytes.split_to(len);
        if flag & 0x80 == 0 {
            response = Some(pb::ListStructuresResponse::decode(frame).expect("decode"));
        } else {
            trailers = String::from_utf8_lossy(&frame).to_string();
        }
    }
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    let response = response.expect("message frame");
    assert_eq!(response.total_size, 25);
}
