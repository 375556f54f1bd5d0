//! gRPC adapter of the budget: parses and validates requests at the
//! boundary, checks the caller's role, and hands typed values to the storage.

use chrono::NaiveDate;
use filieris_kernel::date::parse_date;
use filieris_proto::finance as pb;
use filieris_proto::finance::budget_service_server::BudgetService;
use filieris_runtime::Identity;
use filieris_runtime::error::Violations;
use filieris_runtime::idempotency::IdempotencyKey;
use filieris_runtime::pagination::page_size;
use filieris_runtime::write::{self, Writers};
use prost::Message;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::domain;
use super::storage::{AssetSaleIn, AuthorityIn, FundYear, Spending, Store, TransferIn, TransferStep, WriteContext, parse_child};
use crate::error::{DOMAIN, FinanceError};

/// Who may change budgets.
pub const WRITERS: Writers = Writers { roles: &["admin", "finance"], denied_reason: "FINANCE_WRITE_DENIED", holds: "budgets" };

/// The BudgetService implementation.
#[derive(Clone)]
pub struct BudgetApi {
    store: Store,
}

impl BudgetApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn size(requested: i32) -> Result<u32, FinanceError> {
    Ok(page_size(DOMAIN, requested)?)
}

fn date(v: &mut Violations, field: &str, text: &str) -> Option<NaiveDate> {
    if text.is_empty() {
        v.add(field, "is required (YYYY-MM-DD)");
        None
    } else {
        v.check(field, parse_date(text))
    }
}

fn in_year(v: &mut Violations, field: &str, d: Option<NaiveDate>, year: i16) {
    if let Some(d) = d
        && chrono::Datelike::year(&d) != i32::from(year)
    {
        v.add(field, format!("must be within {year}"));
    }
}

fn positive(v: &mut Violations, field: &str, amount: i64) {
    if amount <= 0 {
        v.add(field, "must be a positive amount in cents");
    }
}

fn required(v: &mut Violations, field: &str, text: &str) {
    if text.trim().is_empty() {
        v.add(field, "is required");
    }
}

fn authority(v: &mut Violations, field: &str, a: Option<&pb::Authority>, kinds: &[&str]) -> AuthorityIn {
    let Some(a) = a else {
        v.add(field, format!("is required ({} decision with its reference and date)", kinds.join(" or ")));
        return AuthorityIn::default();
    };
    if !kinds.contains(&a.kind.as_str()) {
        v.add(format!("{field}.kind"), format!("must be {}", kinds.join(" or ")));
    }
    required(v, &format!("{field}.reference"), &a.reference);
    let d = date(v, &format!("{field}.date"), &a.date);
    AuthorityIn { kind: a.kind.clone(), reference: a.reference.clone(), date: d }
}

fn line_name(name: &str) -> Result<(FundYear, String), FinanceError> {
    parse_child(name, "lines")
        .map(|(fy, code)| (fy, code.to_owned()))
        .ok_or_else(|| FinanceError::field("line", "must be funds/{fund}/years/{year}/lines/{code}"))
}

fn child_id(name: &str, collection: &str) -> Result<(FundYear, Uuid), FinanceError> {
    parse_child(name, collection)
        .and_then(|(fy, id)| Uuid::parse_str(id).ok().map(|u| (fy, u)))
        .ok_or_else(|| FinanceError::field("name", format!("must be funds/{{fund}}/years/{{year}}/{collection}/{{id}}")))
}

fn revenue_year(name: &str, field: &str) -> Result<i16, FinanceError> {
    name.strip_prefix("revenueYears/")
        .and_then(|y| y.parse::<i16>().ok())
        .filter(|y| (2000..=2100).contains(y))
        .ok_or_else(|| FinanceError::field(field, "must be revenueYears/{year}"))
}

/// Runs a write RPC: role check, idempotency key, refusals audited
/// (`filieris_runtime::write::guarded`).
async fn write<Req, Resp, F, Fut>(
    api: &BudgetApi,
    request: Request<Req>,
    method: &'static str,
    resource: impl Fn(&Req) -> String,
    request_id: impl Fn(&mut Req) -> String,
    run: F,
) -> Result<Response<Resp>, Status>
where
    Req: Message + Clone,
    F: FnOnce(Req, Identity, Option<IdempotencyKey>, String) -> Fut,
    Fut: std::future::Future<Output = Result<Resp, FinanceError>>,
{
    write::guarded(api.store.pool(), DOMAIN, &WRITERS, request, method, resource, request_id, run).await
}

#[tonic::async_trait]
impl BudgetService for BudgetApi {
    async fn list_budget_lines(
        &self,
        request: Request<pb::ListBudgetLinesRequest>,
    ) -> Result<Response<pb::ListBudgetLinesResponse>, Status> {
        let req = request.into_inner();
        let fy = FundYear::parse(&req.parent)?;
        let (lines, next_page_token) = self.store.list_lines(&fy, size(req.page_size)?, &req.page_token).await?;
        Ok(Response::new(pb::ListBudgetLinesResponse { lines, next_page_token }))
    }

    async fn get_budget_line(&self, request: Request<pb::GetBudgetLineRequest>) -> Result<Response<pb::GetBudgetLineResponse>, Status> {
        let (fy, code) = line_name(&request.get_ref().name)?;
        Ok(Response::new(pb::GetBudgetLineResponse { line: Some(self.store.get_line(&fy, &code).await?) }))
    }

    async fn list_movements(&self, request: Request<pb::ListMovementsRequest>) -> Result<Response<pb::ListMovementsResponse>, Status> {
        let req = request.into_inner();
        let fy = FundYear::parse(&req.parent)?;
        let (movements, next_page_token) = self.store.list_movements(&fy, &req.line, size(req.page_size)?, &req.page_token).await?;
        Ok(Response::new(pb::ListMovementsResponse { movements, next_page_token }))
    }

    async fn record_spending(&self, request: Request<pb::RecordSpendingRequest>) -> Result<Response<pb::RecordSpendingResponse>, Status> {
        let method = "BudgetService/RecordSpending";
        write(
            self,
            request,
            method,
            |r| r.line.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let (fy, code) = line_name(&req.line)?;
                let mut v = Violations::new();
                let kind = pb::SpendingKind::try_from(req.kind).unwrap_or(pb::SpendingKind::Unspecified);
                if kind == pb::SpendingKind::Unspecified {
                    v.add("kind", "is required: COMMITMENT, COMMITMENT_RELEASE or EXECUTION");
                }
                positive(&mut v, "amount_cents", req.amount_cents);
                let d = date(&mut v, "date", &req.date);
                in_year(&mut v, "date", d, fy.year);
                required(&mut v, "reason", &req.reason);
                let commitment = if req.commitment.is_empty() {
                    None
                } else {
                    match parse_child(&req.commitment, "movements")
                        .and_then(|(cfy, id)| (cfy == fy).then_some(id))
                        .and_then(|id| id.parse().ok())
                    {
                        Some(id) => Some(id),
                        None => {
                            v.add("commitment", "must be a movement of the same fund year: funds/{fund}/years/{year}/movements/{id}");
                            None
                        }
                    }
                };
                v.into_result(DOMAIN)?;
                let spending =
                    Spending { line: code, kind, amount: req.amount_cents, date: d.unwrap_or_default(), commitment, reason: req.reason };
                let ctx = WriteContext { identity: &identity, method, key: key.as_ref(), request_id: &rid };
                self.store.record_spending(&ctx, &fy, &spending).await
            },
        )
        .await
    }

    async fn amend_budget(&self, request: Request<pb::AmendBudgetRequest>) -> Result<Response<pb::AmendBudgetResponse>, Status> {
        let method = "BudgetService/AmendBudget";
        write(
            self,
            request,
            method,
            |r| r.line.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let (fy, code) = line_name(&req.line)?;
                let mut v = Violations::new();
                if req.amount_cents == 0 {
                    v.add("amount_cents", "must not be 0");
                }
                let a = authority(&mut v, "authority", req.authority.as_ref(), &["BOARD"]);
                required(&mut v, "reason", &req.reason);
                v.into_result(DOMAIN)?;
                let ctx = WriteContext { identity: &identity, method, key: key.as_ref(), request_id: &rid };
                self.store.amend(&ctx, &fy, &code, req.amount_cents, &a, &req.reason).await
            },
        )
        .await
    }

    async fn create_transfer(&self, request: Request<pb::CreateTransferRequest>) -> Result<Response<pb::CreateTransferResponse>, Status> {
        let method = "BudgetService/CreateTransfer";
        write(
            self,
            request,
            method,
            |r| r.parent.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let fy = FundYear::parse(&req.parent)?;
                let mut v = Violations::new();
                required(&mut v, "from_line", &req.from_line);
                required(&mut v, "to_line", &req.to_line);
                positive(&mut v, "amount_cents", req.amount_cents);
                let d = date(&mut v, "transfer_date", &req.transfer_date);
                in_year(&mut v, "transfer_date", d, fy.year);
                required(&mut v, "reason", &req.reason);
                let ministries =
                    req.ministries_authorisation.as_ref().map(|a| authority(&mut v, "ministries_authorisation", Some(a), &["MINISTRIES"]));
                v.into_result(DOMAIN)?;
                let t = TransferIn {
                    from: req.from_line,
                    to: req.to_line,
                    amount: req.amount_cents,
                    date: d.unwrap_or_default(),
                    reason: req.reason,
                    amending_decision: req.amending_decision,
                    ministries,
                };
                let ctx = WriteContext { identity: &identity, method, key: key.as_ref(), request_id: &rid };
                Ok(pb::CreateTransferResponse { transfer: Some(self.store.create_transfer(&ctx, &fy, &t).await?) })
            },
        )
        .await
    }

    async fn get_transfer(&self, request: Request<pb::GetTransferRequest>) -> Result<Response<pb::GetTransferResponse>, Status> {
        let (fy, id) = child_id(&request.get_ref().name, "transfers")?;
        Ok(Response::new(pb::GetTransferResponse { transfer: Some(self.store.get_transfer(&fy, id).await?) }))
    }

    async fn list_transfers(&self, request: Request<pb::ListTransfersRequest>) -> Result<Response<pb::ListTransfersResponse>, Status> {
        let req = request.into_inner();
        let fy = FundYear::parse(&req.parent)?;
        let (transfers, next_page_token) = self.store.list_transfers(&fy, size(req.page_size)?, &req.page_token).await?;
        Ok(Response::new(pb::ListTransfersResponse { transfers, next_page_token }))
    }

    async fn vote_transfer(&self, request: Request<pb::VoteTransferRequest>) -> Result<Response<pb::VoteTransferResponse>, Status> {
        let method = "BudgetService/VoteTransfer";
        write(
            self,
            request,
            method,
            |r| r.name.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let (fy, id) = child_id(&req.name, "transfers")?;
                let mut v = Violations::new();
                let a = authority(&mut v, "vote", req.vote.as_ref(), &["BOARD"]);
                v.into_result(DOMAIN)?;
                let ctx = WriteContext { identity: &identity, method, key: key.as_ref(), request_id: &rid };
                Ok(pb::VoteTransferResponse { transfer: Some(self.store.decide_transfer(&ctx, &fy, id, TransferStep::Vote, &a).await?) })
            },
        )
        .await
    }

    async fn approve_transfer(
        &self,
        request: Request<pb::ApproveTransferRequest>,
    ) -> Result<Response<pb::ApproveTransferResponse>, Status> {
        let method = "BudgetService/ApproveTransfer";
        write(
            self,
            request,
            method,
            |r| r.name.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let (fy, id) = child_id(&req.name, "transfers")?;
                let mut v = Violations::new();
                let a = authority(&mut v, "approval", req.approval.as_ref(), &["MINISTRIES"]);
                v.into_result(DOMAIN)?;
                let ctx = WriteContext { identity: &identity, method, key: key.as_ref(), request_id: &rid };
                Ok(pb::ApproveTransferResponse {
                    transfer: Some(self.store.decide_transfer(&ctx, &fy, id, TransferStep::Approve, &a).await?),
                })
            },
        )
        .await
    }

    async fn reject_transfer(&self, request: Request<pb::RejectTransferRequest>) -> Result<Response<pb::RejectTransferResponse>, Status> {
        let method = "BudgetService/RejectTransfer";
        write(
            self,
            request,
            method,
            |r| r.name.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let (fy, id) = child_id(&req.name, "transfers")?;
                let mut v = Violations::new();
                let a = authority(&mut v, "rejection", req.rejection.as_ref(), &["BOARD", "MINISTRIES"]);
                v.into_result(DOMAIN)?;
                let ctx = WriteContext { identity: &identity, method, key: key.as_ref(), request_id: &rid };
                Ok(pb::RejectTransferResponse {
                    transfer: Some(self.store.decide_transfer(&ctx, &fy, id, TransferStep::Reject, &a).await?),
                })
            },
        )
        .await
    }

    async fn list_notifications(
        &self,
        request: Request<pb::ListNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        let req = request.into_inner();
        let fy = FundYear::parse(&req.parent)?;
        let filter = pb::NotificationFilter::try_from(req.filter).unwrap_or(pb::NotificationFilter::Unspecified);
        let (notifications, next_page_token) = self.store.list_notifications(&fy, filter, size(req.page_size)?, &req.page_token).await?;
        Ok(Response::new(pb::ListNotificationsResponse { notifications, next_page_token }))
    }

    async fn mark_notification_sent(
        &self,
        request: Request<pb::MarkNotificationSentRequest>,
    ) -> Result<Response<pb::MarkNotificationSentResponse>, Status> {
        let method = "BudgetService/MarkNotificationSent";
        write(
            self,
            request,
            method,
            |r| r.name.clone(),
            |_| String::new(),
            |req, identity, key, rid| async move {
                let (fy, id) = child_id(&req.name, "notifications")?;
                let mut v = Violations::new();
                let sent = date(&mut v, "sent_date", &req.sent_date);
                v.into_result(DOMAIN)?;
                let ctx = WriteContext { identity: &identity, method, key: key.as_ref(), request_id: &rid };
                Ok(pb::MarkNotificationSentResponse {
                    notification: Some(self.store.mark_notification_sent(&ctx, &fy, id, sent.unwrap_or_default()).await?),
                })
            },
        )
        .await
    }

    async fn start_year_close(&self, request: Request<pb::StartYearCloseRequest>) -> Result<Response<pb::StartYearCloseResponse>, Status> {
        let method = "BudgetService/StartYearClose";
        write(
            self,
            request,
            method,
            |r| r.name.clone(),
            |_| String::new(),
            |req, identity, _, _| async move {
                let fy = FundYear::parse(&req.name)?;
                let (close, fresh) = self.store.start_close(&identity, &fy).await?;
                if fresh {
                    let store = self.store.clone();
                    tokio::spawn(async move { store.run_close(fy).await });
                }
                Ok(pb::StartYearCloseResponse { close: Some(close) })
            },
        )
        .await
    }

    async fn get_year_close(&self, request: Request<pb::GetYearCloseRequest>) -> Result<Response<pb::GetYearCloseResponse>, Status> {
        let name = &request.get_ref().name;
        let fy = name
            .strip_suffix("/close")
            .and_then(|n| FundYear::parse(n).ok())
            .ok_or_else(|| FinanceError::field("name", "must be funds/{fund}/years/{year}/close"))?;
        Ok(Response::new(pb::GetYearCloseResponse { close: Some(self.store.get_close(&fy).await?) }))
    }

    async fn record_revenue(&self, request: Request<pb::RecordRevenueRequest>) -> Result<Response<pb::RecordRevenueResponse>, Status> {
        let method = "BudgetService/RecordRevenue";
        write(
            self,
            request,
            method,
            |r| r.parent.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let year = revenue_year(&req.parent, "parent")?;
                let mut v = Violations::new();
                if !(req.account.starts_with('7') && req.account.len() >= 3 && req.account.bytes().all(|b| b.is_ascii_digit())) {
                    v.add("account", "must be a revenue account of class 7 (digits, e.g. 7083)");
                }
                positive(&mut v, "amount_cents", req.amount_cents);
                let d = date(&mut v, "date", &req.date);
                in_year(&mut v, "date", d, year);
                required(&mut v, "reason", &req.reason);
                v.into_result(DOMAIN)?;
                let ctx = WriteContext { identity: &identity, method, key: key.as_ref(), request_id: &rid };
                self.store.record_revenue(&ctx, year, &req.account, req.amount_cents, d.unwrap_or_default(), &req.reason).await
            },
        )
        .await
    }

    async fn set_revenue_estimate(
        &self,
        request: Request<pb::SetRevenueEstimateRequest>,
    ) -> Result<Response<pb::SetRevenueEstimateResponse>, Status> {
        let method = "BudgetService/SetRevenueEstimate";
        write(
            self,
            request,
            method,
            |r| r.parent.clone(),
            |_| String::new(),
            |req, identity, key, rid| async move {
                let year = revenue_year(&req.parent, "parent")?;
                let mut v = Violations::new();
                if !(req.account.starts_with('7') && req.account.bytes().all(|b| b.is_ascii_digit())) {
                    v.add("account", "must be a revenue account of class 7 (digits)");
                }
                if req.amount_cents < 0 {
                    v.add("amount_cents", "must not be negative");
                }
                v.into_result(DOMAIN)?;
                let ctx = WriteContext { identity: &identity, method, key: key.as_ref(), request_id: &rid };
                self.store.set_estimate(&ctx, year, &req.account, req.amount_cents).await
            },
        )
        .await
    }

    async fn apply_revenue_reuse(
        &self,
        request: Request<pb::ApplyRevenueReuseRequest>,
    ) -> Result<Response<pb::ApplyRevenueReuseResponse>, Status> {
        let method = "BudgetService/ApplyRevenueReuse";
        write(
            self,
            request,
            method,
            |r| r.name.clone(),
            |_| String::new(),
            |req, identity, _, _| async move {
                let year = revenue_year(&req.name, "name")?;
                self.store.apply_revenue_reuse(&identity, year).await
            },
        )
        .await
    }

    async fn record_asset_sale(
        &self,
        request: Request<pb::RecordAssetSaleRequest>,
    ) -> Result<Response<pb::RecordAssetSaleResponse>, Status> {
        let method = "BudgetService/RecordAssetSale";
        write(
            self,
            request,
            method,
            |r| r.asset.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let mut v = Violations::new();
                let year = i16::try_from(req.year).ok().filter(|y| domain::COG_YEARS.contains(y));
                if year.is_none() {
                    v.add("year", "must be a year of the COG (2022 to 2024)");
                }
                required(&mut v, "asset", &req.asset);
                let d = date(&mut v, "sale_date", &req.sale_date);
                if let Some(y) = year {
                    in_year(&mut v, "sale_date", d, y);
                }
                positive(&mut v, "price_cents", req.price_cents);
                if req.net_book_value_cents < 0 {
                    v.add("net_book_value_cents", "must not be negative");
                }
                let buyer = pb::Buyer::try_from(req.buyer).unwrap_or(pb::Buyer::Unspecified);
                if buyer == pb::Buyer::Unspecified {
                    v.add("buyer", "is required: BUYER_OTHER or BUYER_SOCIAL_SECURITY_BODY");
                }
                let pct = req.investment_percent.unwrap_or(100);
                if !(0..=100).contains(&pct) {
                    v.add("investment_percent", "must be between 0 and 100");
                }
                if req.square_metres < 0 {
                    v.add("square_metres", "must not be negative");
                }
                required(&mut v, "reason", &req.reason);
                v.into_result(DOMAIN)?;
                let sale = AssetSaleIn {
                    year: year.unwrap_or_default(),
                    asset: req.asset,
                    date: d.unwrap_or_default(),
                    price: req.price_cents,
                    net_book_value: req.net_book_value_cents,
                    social_security_buyer: buyer == pb::Buyer::SocialSecurityBody,
                    investment_percent: i16::try_from(pct).unwrap_or(100),
                    square_metres: req.square_metres,
                    reason: req.reason,
                };
                let ctx = WriteContext { identity: &identity, method, key: key.as_ref(), request_id: &rid };
                Ok(pb::RecordAssetSaleResponse { sale: Some(self.store.record_asset_sale(&ctx, &sale).await?) })
            },
        )
        .await
    }

    async fn set_inflation_rates(
        &self,
        request: Request<pb::SetInflationRatesRequest>,
    ) -> Result<Response<pb::SetInflationRatesResponse>, Status> {
        let method = "BudgetService/SetInflationRates";
        write(
            self,
            request,
            method,
            |r| r.name.clone(),
            |_| String::new(),
            |req, identity, key, rid| async move {
                let year = req
                    .name
                    .strip_prefix("inflationYears/")
                    .and_then(|y| y.parse::<i16>().ok())
                    .filter(|y| (2000..=2100).contains(y))
                    .ok_or_else(|| FinanceError::field("name", "must be inflationYears/{year}"))?;
                let mut v = Violations::new();
                // Plausibility bounds: ±50 % a year.
                for (field, bp) in
                    [("forecast_basis_points", Some(req.forecast_basis_points)), ("actual_basis_points", req.actual_basis_points)]
                {
                    if bp.is_some_and(|b| !(-5_000..=5_000).contains(&b)) {
                        v.add(field, "must be between -5000 and 5000 basis points");
                    }
                }
                required(&mut v, "source", &req.source);
                v.into_result(DOMAIN)?;
                let ctx = WriteContext { identity: &identity, method, key: key.as_ref(), request_id: &rid };
                self.store.set_inflation(&ctx, year, req.forecast_basis_points, req.actual_basis_points, &req.source).await
            },
        )
        .await
    }

    async fn apply_indexation(
        &self,
        request: Request<pb::ApplyIndexationRequest>,
    ) -> Result<Response<pb::ApplyIndexationResponse>, Status> {
        let method = "BudgetService/ApplyIndexation";
        write(
            self,
            request,
            method,
            |r| r.name.clone(),
            |_| String::new(),
            |req, identity, _, _| async move {
                let fy = FundYear::parse(&req.name)?;
                self.store.apply_indexation(&identity, &fy).await
            },
        )
        .await
    }

    async fn get_budget_execution(
        &self,
        request: Request<pb::GetBudgetExecutionRequest>,
    ) -> Result<Response<pb::GetBudgetExecutionResponse>, Status> {
        let fy = FundYear::parse(&request.get_ref().name)?;
        Ok(Response::new(pb::GetBudgetExecutionResponse { rows: self.store.execution(&fy).await? }))
    }

    async fn get_asset_sale_totals(
        &self,
        request: Request<pb::GetAssetSaleTotalsRequest>,
    ) -> Result<Response<pb::GetAssetSaleTotalsResponse>, Status> {
        let year = i16::try_from(request.get_ref().year)
            .ok()
            .filter(|y| (2000..=2100).contains(y))
            .ok_or_else(|| FinanceError::field("year", "is not a year"))?;
        Ok(Response::new(self.store.asset_sale_totals(year).await?))
    }
}
