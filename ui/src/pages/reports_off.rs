//! Rapports without the `report` feature: the page says where the report comes from.

use std::collections::HashMap;

use axum::extract::Query;
use axum::response::Response;

use crate::Ctx;
use crate::nav::Page;

const BODY: &str = "<p class=\"notice\" role=\"status\">Cette version de la passerelle est construite sans le générateur de rapports \
    (fonctionnalité <code>report</code> du paquet <code>filieris-ui</code>) : le rapport d'exécution est produit par la commande \
    <code>filieris-steering report</code>.</p>";

pub async fn page(ctx: Ctx, Query(_): Query<HashMap<String, String>>) -> Response {
    if let Some(denied) = ctx.guard(Page::Reports) {
        return denied;
    }
    ctx.page("Rapports", Page::Reports, BODY)
}

pub async fn download(ctx: Ctx, Query(_): Query<HashMap<String, String>>) -> Response {
    ctx.page("Rapports", Page::Reports, BODY)
}
