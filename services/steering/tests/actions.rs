//! The action calendar against a real PostgreSQL, one fresh database per
//! test: counts per axis and status, and status changes kept in history.

mod common;

use common::{as_role, req, setup};
use filieris_proto::steering as pb;
use filieris_proto::steering::steering_service_server::SteeringService;
use tonic::Code;

fn change(code: &str, status: pb::ActionStatus, owner: &str, end: &str, comment: &str, rid: &str) -> pb::UpdateActionStatusRequest {
    pb::UpdateActionStatusRequest {
        name: format!("actions/{code}"),
        status: status as i32,
        owner: owner.into(),
        start_date: String::new(),
        end_date: end.into(),
        comment: comment.into(),
        request_id: rid.into(),
    }
}

async fn counts(env: &common::Env, year: i32) -> pb::GetActionCountsResponse {
    env.api.get_action_counts(req(pb::GetActionCountsRequest { year })).await.expect("counts").into_inner()
}

fn row(c: &pb::AxisCounts) -> (i32, i32, i32, i32) {
    (c.total, c.to_come, c.in_progress, c.done)
}

#[tokio::test]
async fn counts_per_axis_and_status_follow_the_changes_and_history_keeps_them() {
    let env = setup().await;
    let start = counts(&env, 0).await;
    let totals: Vec<(i32, i32, i32, i32)> = start.axes.iter().map(row).collect();
    assert_eq!(totals, [(58, 58, 0, 0), (56, 56, 0, 0), (70, 70, 0, 0), (35, 35, 0, 0), (23, 23, 0, 0)]);
    assert_eq!(start.axes[0].axis_label, "Le projet de santé");
    assert_eq!(row(start.total.as_ref().expect("total")), (242, 242, 0, 0));

    // A test calendar: two actions of axis 1, one of axis 2, one of axis 4.
    use pb::ActionStatus::{Done, InProgress, ToCome};
    for body in [
        change("A001", InProgress, "DSI", "", "online booking pilot in Nord", "r1"),
        change("A001", Done, "", "2022-11-30", "deployed in every centre", "r2"),
        change("A012", InProgress, "DOS", "", "started", "r3"),
        change("A059", InProgress, "DOS", "", "territorial project drafted", "r4"),
        change("A191", Done, "DRH", "2022-06-30", "single company agreement signed", "r5"),
        change("A059", ToCome, "", "", "postponed to 2023", "r6"),
    ] {
        env.api.update_action_status(req(body)).await.expect("status");
    }
    // The same request id again is a replay, not a new change.
    env.api.update_action_status(req(change("A012", InProgress, "DOS", "", "started", "r3"))).await.expect("replay");

    let now = counts(&env, 0).await;
    let rows: Vec<(i32, i32, i32, i32)> = now.axes.iter().map(row).collect();
    assert_eq!(rows, [(58, 56, 1, 1), (56, 56, 0, 0), (70, 70, 0, 0), (35, 34, 0, 1), (23, 23, 0, 0)]);
    assert_eq!(row(now.total.as_ref().expect("total")), (242, 239, 1, 2));

    let history = env
        .api
        .list_action_status_history(req(pb::ListActionStatusHistoryRequest { name: "actions/A001".into() }))
        .await
        .expect("history")
        .into_inner()
        .changes;
    let seen: Vec<(i32, &str, &str, &str)> =
        history.iter().map(|c| (c.status, c.owner.as_str(), c.end_date.as_str(), c.comment.as_str())).collect();
    assert_eq!(
        seen,
        [
            (InProgress as i32, "DSI", "", "online booking pilot in Nord"),
            // The owner is kept when not given.
            (Done as i32, "DSI", "2022-11-30", "deployed in every centre"),
        ]
    );
    assert!(history.iter().all(|c| c.recorded_by == "staff:steering-test"));
    let a012 = env
        .api
        .list_action_status_history(req(pb::ListActionStatusHistoryRequest { name: "actions/A012".into() }))
        .await
        .expect("history")
        .into_inner()
        .changes;
    assert_eq!(a012.len(), 1);

    let done = env.api.list_actions(req(pb::ListActionsRequest { axis: 0, status: Done as i32 })).await.expect("list").into_inner().actions;
    assert_eq!(done.iter().map(|a| a.code.as_str()).collect::<Vec<_>>(), ["A001", "A191"]);
    assert_eq!((done[1].axis, done[1].years.as_slice(), done[1].end_date.as_str()), (4, &[2022][..], "2022-06-30"));

    // Scheduled in 2024: the 194 whole-period actions and the 10 the data file
    // ticks 2024 (its best-guess reading of the ambiguous rows, indicators.md §4.2).
    let y2024 = counts(&env, 2024).await;
    assert_eq!(y2024.total.as_ref().map(|t| t.total), Some(194 + 10));
}

#[tokio::test]
async fn invalid_status_changes_are_refused() {
    let env = setup().await;
    let no_end = env.api.update_action_status(req(change("A001", pb::ActionStatus::Done, "", "", "done", ""))).await.expect_err("no end");
    assert_eq!(no_end.code(), Code::InvalidArgument);
    let no_comment =
        env.api.update_action_status(req(change("A001", pb::ActionStatus::InProgress, "", "", " ", ""))).await.expect_err("no comment");
    assert_eq!(no_comment.code(), Code::InvalidArgument);
    let unknown = env.api.update_action_status(req(change("A054", pb::ActionStatus::InProgress, "", "", "x", ""))).await.expect_err("A054");
    assert_eq!(unknown.code(), Code::NotFound);
    let reader = env
        .api
        .update_action_status(as_role(change("A001", pb::ActionStatus::InProgress, "", "", "x", ""), &["reader"]))
        .await
        .expect_err("reader");
    assert_eq!(reader.code(), Code::PermissionDenied);
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM action_status").fetch_one(&env.pool).await.expect("count");
    assert_eq!(n, 0);
}
