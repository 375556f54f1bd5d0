//! The report renderer on a fixed `ReportData`: the sections of the 2018
//! model are there, special values are shown as such, a NOT_AVAILABLE
//! reason appears, unreachable services are named, the charts carry no NaN,
//! the manifest lists every file with its SHA-256, and the same data gives
//! the same bytes. No database and no network.

use chrono::DateTime;
use filieris_proto::finance as fin;
use filieris_proto::steering as pb;
use filieris_steering::report::data::{OpeningRate, Rates};
use filieris_steering::report::{Period, ReportData, render, write_files};
use sha2::{Digest, Sha256};

fn def(key: &str, block: &str, number: i32, label: &str, unit: &str, base: pb::PrintedValue) -> pb::IndicatorDefinition {
    pb::IndicatorDefinition {
        key: key.into(),
        block: block.into(),
        number,
        label_fr: label.into(),
        nature: pb::IndicatorNature::Steering as i32,
        unit: unit.into(),
        base: Some(base),
        ..Default::default()
    }
}

fn nc() -> pb::PrintedValue {
    pb::PrintedValue { raw: "NC".into(), kind: pb::ValueKind::Nc as i32, ..Default::default() }
}

fn data(period: Period) -> ReportData {
    let definitions = vec![
        def(
            "COG22.FINRES.1",
            "FINRES",
            1,
            "Réduire le déficit de Freyming-Creutzwald",
            "EUR",
            pb::PrintedValue {
                raw: "-2 805 515,12".into(),
                kind: pb::ValueKind::Value as i32,
                numerator: -280_551_512,
                scale: 2,
                year: 2019,
            },
        ),
        def("COG22.OFFRE.12", "OFFRE", 12, "Taux d'ouverture <MG>", "PCT", nc()),
        def("COG22.OFFRE.1", "OFFRE", 1, "Centres certifiés AFNOR", "COUNT", nc()),
        def("COG22.OFFRE.2", "OFFRE", 2, "Part des SSR certifiés A", "PCT", nc()),
        def("COG22.SUP.7", "SUP", 7, "Pôle d'expertise", "BOOL", nc()),
    ];
    let values = vec![
        pb::IndicatorValue {
            indicator: "indicators/COG22.FINRES.1".into(),
            kind: pb::ValueKind::Value as i32,
            numerator: -165_240_000,
            display: "-1652400.00".into(),
            provenance: pb::Provenance::Final as i32,
            status: pb::Status::Met as i32,
            target_raw: "-40%".into(),
            definition_version: 1,
            ..Default::default()
        },
        pb::IndicatorValue {
            indicator: "indicators/COG22.OFFRE.12".into(),
            kind: pb::ValueKind::Value as i32,
            numerator: 2,
            denominator: Some(3),
            display: "66.7".into(),
            provenance: pb::Provenance::Final as i32,
            status: pb::Status::NoTarget as i32,
            target_raw: "x".into(),
            definition_version: 1,
            ..Default::default()
        },
        pb::IndicatorValue {
            indicator: "indicators/COG22.OFFRE.1".into(),
            kind: pb::ValueKind::Nd as i32,
            provenance: pb::Provenance::NotAvailable as i32,
            status: pb::Status::NotEvaluable as i32,
            reason: "manual value not entered yet (quality directorate)".into(),
            ..Default::default()
        },
        pb::IndicatorValue {
            indicator: "indicators/COG22.OFFRE.2".into(),
            kind: pb::ValueKind::Value as i32,
            numerator: 8,
            denominator: Some(11),
            display: "72.7".into(),
            provenance: pb::Provenance::Manual as i32,
            status: pb::Status::NoTarget as i32,
            target_raw: "x".into(),
            reason: "HAS".into(),
            ..Default::default()
        },
        pb::IndicatorValue {
            indicator: "indicators/COG22.SUP.7".into(),
            kind: pb::ValueKind::Nc as i32,
            provenance: pb::Provenance::Final as i32,
            status: pb::Status::NotEvaluable as i32,
            ..Default::default()
        },
    ];
    let axis = |axis: i32, label: &str, total, to_come, in_progress, done| pb::AxisCounts {
        axis,
        axis_label: label.into(),
        total,
        to_come,
        in_progress,
        done,
    };
    let counts = pb::GetActionCountsResponse {
        axes: vec![axis(1, "Le projet de santé", 2, 1, 1, 0), axis(2, "L'offre de santé", 3, 0, 1, 2)],
        total: Some(axis(0, "Total", 5, 1, 2, 2)),
    };
    let budget = vec![
        (
            "BNGA".to_owned(),
            Ok(vec![fin::ExecutionRow {
                level: "FUND".into(),
                code: "BNGA".into(),
                label: "Budget national de la gestion administrative".into(),
                initial_cents: 10_381_000_000,
                authorised_cents: 10_381_000_000,
                executed_cents: 8_861_000_005,
                rate_initial: Some(fin::ExecutionRate { numerator: 8_861_000_005, denominator: 10_381_000_000, percent: "85.36".into() }),
                rate_final: None,
            }]),
        ),
        ("BNASS".to_owned(), Err("finance did not answer: Unavailable".to_owned())),
        ("BNPPS".to_owned(), Ok(vec![])),
    ];
    let rate = |period: &str, scope: &str, p: (i64, i64)| OpeningRate {
        line: "GENERAL_MEDICINE".into(),
        period: period.into(),
        scope: scope.into(),
        rates: Ok(Rates { patients: p, acts: (1, 2) }),
    };
    let monthly = vec![
        rate("202201", "national", (52, 100)),
        rate("202202", "national", (0, 0)),
        rate("202203", "national", (55, 100)),
        OpeningRate {
            line: "NURSING".into(),
            period: "202201".into(),
            scope: "national".into(),
            rates: Err("activity did not answer".into()),
        },
    ];
    let regions = vec![rate("2022", "regions/NORD", (60, 100)), rate("2022", "regions/SUD", (81, 100))];
    ReportData {
        period,
        as_of: DateTime::from_timestamp(1_700_000_000, 123_000).unwrap_or_default(),
        definitions,
        values,
        counts,
        budget,
        missions: Err("missions did not answer: Unavailable".into()),
        monthly,
        regions,
    }
}

#[test]
fn the_annual_report_has_the_sections_of_the_model_and_shows_special_values() {
    let r = render(&data(Period::Year(2022)));
    let html = r.text("cog_2022_report.html");
    for section in [
        "Rapport d'exécution de la COG 2022-2024 — année 2022",
        "1. Synthèse",
        "Indicateurs par bloc et par statut",
        "2. Les actions de la COG",
        "3. Offre de santé : ouverture des centres de santé",
        "4. Résultats financiers de l'offre de santé",
        "5. Exécution budgétaire par fonds",
        "6. Missions déléguées",
        "Annexe 1 : indicateurs de la COG 2022-2024 — 2022",
    ] {
        assert!(html.contains(section), "{section}");
    }
    // Special values as such, the reason of a missing value, the manual mark.
    assert!(html.contains("<td class=\"n\">ND</td>"), "ND shown as ND");
    assert!(html.contains("<td class=\"n\">NC</td>"), "NC shown as NC");
    assert!(html.contains("manual value not entered yet (quality directorate)"));
    assert!(html.contains("72,7 % (m)"));
    assert!(html.contains("-1 652 400,00 €"));
    assert!(html.contains("Taux d'ouverture &lt;MG&gt;"));
    // Unreachable services are named, the report is still produced.
    assert!(html.contains("le service des missions n'a pas répondu"));
    assert!(html.contains("ND — finance did not answer: Unavailable"));
    // Charts inline, no script, no NaN; the empty month is a gap.
    assert_eq!(html.matches("<svg").count(), 5, "actions, monthly, regions, financial results, budget");
    assert!(!html.contains("NaN") && !html.contains("<script"));
    let monthly = r.text("chart_opening_rate_by_month.csv");
    assert!(monthly.contains("févr.,,"), "{monthly}");
    assert!(monthly.starts_with("category,médecine générale — patients,"));
    // The PDF carries the same text (WinAnsi octal escapes for the accents).
    let pdf = String::from_utf8_lossy(r.file("cog_2022_report.pdf").unwrap_or_default()).into_owned();
    assert!(pdf.contains("(1. Synth\\350se)"), "heading in the PDF");
    // The reason is wrapped in its cell: the PDF's text lines joined hold it whole.
    let text: Vec<&str> = pdf.lines().filter_map(|l| l.split_once(" Td (").and_then(|(_, t)| t.strip_suffix(") Tj ET"))).collect();
    assert!(text.join(" ").contains("manual value not entered yet \\(quality directorate\\)"), "reason in the PDF");
    assert!(pdf.contains("/Count "));
    // CSV annex keeps the machine values.
    let annex = r.text("cog_2022_indicator_annex.csv");
    assert!(annex.contains("\nCOG22.OFFRE.1,1,Centres certifiés AFNOR,STEERING,COUNT,NC,,ND,,,NOT_AVAILABLE,NOT_EVALUABLE,,manual value not entered yet (quality directorate),0,\n"), "{annex}");
    assert!(r.text("cog_2022_budget_execution.csv").contains("BNASS,FUND,BNASS,,,,,,,ND: finance did not answer: Unavailable"));
    assert!(r.text("cog_2022_missions.csv").contains("unavailable,,,,ND: missions did not answer: Unavailable"));
    assert!(r.text("cog_2022_synthesis.csv").ends_with("TOTAL,5,1,0,0,0,2,2,1,1\n"), "{}", r.text("cog_2022_synthesis.csv"));
}

#[test]
fn same_data_same_bytes_and_the_manifest_lists_every_file() {
    let d = data(Period::Year(2022));
    let a = render(&d);
    assert_eq!(render(&d), a, "same data, same bytes");
    let manifest: serde_json::Value = serde_json::from_slice(a.file("manifest.json").unwrap_or_default()).expect("json");
    assert_eq!(manifest["as_of"], "2023-11-14T22:13:20.000123Z");
    assert_eq!(manifest["period"], "2022");
    let listed = manifest["files"].as_array().expect("files");
    assert_eq!(listed.len(), a.files.len() - 1);
    for (entry, (name, body)) in listed.iter().zip(&a.files) {
        assert_eq!(entry["name"], name.as_str());
        let sum: String = Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(entry["sha256"], sum.as_str(), "{name}");
    }
    // The generation time printed is the as-of, not the clock.
    assert!(a.text("report.html").contains("14 novembre 2023 à 22:13 UTC"));
    let mut later = d.clone();
    later.as_of += chrono::Duration::seconds(1);
    assert_ne!(render(&later).file("manifest.json"), a.file("manifest.json"));
}

#[test]
fn the_monthly_dashboard_reuses_the_parts() {
    let r = render(&data(Period::Month(2022, 3)));
    let html = r.text("dashboard_2022-03_report.html");
    assert!(html.contains("Tableau de bord mensuel — mars 2022"));
    assert!(html.contains("55,0 %"), "the month's opening rate as a key figure");
    assert!(html.contains("Exécution budgétaire 2022 par fonds"));
    assert!(html.contains("le service des missions n'a pas répondu"));
    assert!(r.file("dashboard_2022-03_report.pdf").is_some_and(|p| p.starts_with(b"%PDF-1.4")));
    assert_eq!(r.text("dashboard_2022-03_chart_opening_rate_by_month.csv").lines().count(), 4, "January to March");
}

#[test]
fn the_output_directory_is_replaced_whole_and_never_a_foreign_one() {
    let base = std::env::temp_dir().join(format!("steering-report-render-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let dir = base.join("out");
    let r = render(&data(Period::Year(2022)));
    write_files(&dir, &r).expect("first");
    std::fs::write(dir.join("stale.csv"), "old").expect("stale");
    write_files(&dir, &r).expect("again");
    assert!(!dir.join("stale.csv").exists(), "a re-run replaces the directory");
    assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), r.files.len());
    assert!(std::fs::read_dir(&base).expect("base").all(|e| e.is_ok_and(|e| e.file_name() == "out")), "no temporary directory left");
    let foreign = base.join("foreign");
    std::fs::create_dir_all(&foreign).expect("foreign");
    std::fs::write(foreign.join("notes.txt"), "mine").expect("notes");
    assert!(write_files(&foreign, &r).is_err(), "a directory without a manifest is not replaced");
    assert!(foreign.join("notes.txt").exists());
    let _ = std::fs::remove_dir_all(&base);
}
