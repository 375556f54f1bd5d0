//! The finance service as the missions service calls it: ANGDM spending is
//! executed on the BNASS `*-IND` lines, and the lines' positions read back.
//! Calls carry the service's own signed identity (`service:missions`, role
//! `finance`); the request id of an execution is derived from the statement,
//! so a retry never records twice.

use filieris_proto::finance as fin;
use filieris_proto::finance::budget_service_client::BudgetServiceClient;
use filieris_runtime::config::InternalKey;
use filieris_runtime::identity::{CallerKind, Identity};
use tonic::transport::Channel;

use crate::error::MissionsError;

/// Caller id of the service's own calls.
pub const SERVICE_CALLER: &str = "service:missions";

/// A finance budget client acting as the missions service.
#[derive(Clone)]
pub struct Finance {
    client: BudgetServiceClient<Channel>,
    key: InternalKey,
}

/// What an execution wrote.
#[derive(Debug, Clone, Default)]
pub struct Executed {
    /// The execution movement's name.
    pub movement: String,
    /// The evaluative line went beyond its credits.
    pub overrun: bool,
}

fn refused(status: tonic::Status) -> MissionsError {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown | tonic::Code::Cancelled => {
            MissionsError::FinanceUnavailable(status.message().to_owned())
        }
        _ => MissionsError::FinanceRefused(format!("{:?}: {}", status.code(), status.message())),
    }
}

impl Finance {
    /// A client over a (lazily connected) channel to the finance service.
    pub fn new(channel: Channel, key: InternalKey) -> Self {
        Self { client: BudgetServiceClient::new(channel), key }
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let me =
            Identity { caller: SERVICE_CALLER.into(), kind: CallerKind::Service, roles: vec!["finance".into()], scopes: vec!["*".into()] };
        let mut req = tonic::Request::new(message);
        me.attach(&self.key, &mut req);
        req
    }

    /// Records an EXECUTION of `amount_cents` on `line` at `date`.
    pub async fn execute(
        &self,
        line: &str,
        amount_cents: i64,
        date: &str,
        reason: &str,
        request_id: &str,
    ) -> Result<Executed, MissionsError> {
        let req = self.request(fin::RecordSpendingRequest {
            line: line.to_owned(),
            kind: fin::SpendingKind::Execution as i32,
            amount_cents,
            date: date.to_owned(),
            commitment: String::new(),
            reason: reason.to_owned(),
            request_id: request_id.to_owned(),
        });
        let resp = self.client.clone().record_spending(req).await.map_err(refused)?.into_inner();
        let movement = resp.movements.iter().rev().find(|m| m.kind == fin::MovementKind::Execution as i32).or(resp.movements.last());
        Ok(Executed { movement: movement.map(|m| m.name.clone()).unwrap_or_default(), overrun: resp.evaluative_overrun })
    }

    /// The position of a line.
    pub async fn position(&self, line: &str) -> Result<fin::LinePosition, MissionsError> {
        let resp = self
            .client
            .clone()
            .get_budget_line(self.request(fin::GetBudgetLineRequest { name: line.to_owned() }))
            .await
            .map_err(refused)?;
        Ok(resp.into_inner().line.and_then(|l| l.position).unwrap_or_default())
    }
}
