//! The demo data set: a jobs catalogue, a staffing plan and people for the
//! registry's demo structures, payroll 2022, training (2.29 % of payroll, the
//! COG22.SUP.1 base), appraisals, absences, vacancies with a hire, trainees,
//! agreements and yearly counters. Deterministic (every choice derives from
//! the structure's FINESS) and idempotent: every write carries a request id
//! derived from what it writes, so a second run replays and adds nothing.
//!
//! The named demo structure (the Salindres health centre when the registry
//! has it, hr.md H18) holds three doctors at 0.8 + 0.6 + 0.6 FTE, one of them
//! reaching the retirement age in 2027, a nurse on a fixed-term contract
//! ending in 2027 and a secretary reaching the age in 2028: the GEPP view
//! lists these departures within three years of late 2026.

use chrono::{Datelike, NaiveDate};
use filieris_proto::hr as pb;
use filieris_proto::hr::hr_service_server::HrService;
use filieris_runtime::identity::{CallerKind, Identity};
use uuid::Uuid;

use crate::grpc::HrApi;
use crate::storage::Store;

/// The jobs catalogue of the demo: (code, label, family).
pub const JOBS: &[(&str, &str, pb::JobFamily)] = &[
    ("MED_GP", "Médecin généraliste", pb::JobFamily::Medical),
    ("MED_SPECIALIST", "Médecin spécialiste", pb::JobFamily::Medical),
    ("DENTIST", "Chirurgien-dentiste", pb::JobFamily::Medical),
    ("PHARMACIST", "Pharmacien", pb::JobFamily::Medical),
    ("BIOLOGIST", "Biologiste médical", pb::JobFamily::Medical),
    ("NURSE", "Infirmier", pb::JobFamily::Paramedical),
    ("CARE_ASSISTANT", "Aide-soignant", pb::JobFamily::Paramedical),
    ("PHYSIOTHERAPIST", "Masseur-kinésithérapeute", pb::JobFamily::Paramedical),
    ("OPTICIAN", "Opticien", pb::JobFamily::Paramedical),
    ("DENTAL_ASSISTANT", "Assistant dentaire", pb::JobFamily::Paramedical),
    ("PHARMACY_TECH", "Préparateur en pharmacie", pb::JobFamily::Paramedical),
    ("LAB_TECH", "Technicien de laboratoire", pb::JobFamily::Paramedical),
    ("HOME_HELP", "Aide à domicile", pb::JobFamily::MedicoSocial),
    ("SOCIAL_CARE_WORKER", "Accompagnant éducatif et social", pb::JobFamily::MedicoSocial),
    ("SOCIAL_WORKER", "Assistant de service social", pb::JobFamily::MedicoSocial),
    ("MED_SECRETARY", "Secrétaire médicale", pb::JobFamily::Administrative),
    ("RECEPTIONIST", "Agent d'accueil", pb::JobFamily::Administrative),
    ("ACCOUNTANT", "Comptable", pb::JobFamily::Administrative),
    ("HR_OFFICER", "Chargé de ressources humaines", pb::JobFamily::Administrative),
    ("MAINTENANCE_TECH", "Technicien de maintenance", pb::JobFamily::Technical),
    ("COOK", "Cuisinier", pb::JobFamily::Technical),
    ("LOGISTICS_AGENT", "Agent logistique", pb::JobFamily::Technical),
    ("CENTRE_MANAGER", "Responsable de centre de santé", pb::JobFamily::Management),
    ("DIRECTOR", "Directeur d'établissement", pb::JobFamily::Management),
    ("HEAD_NURSE", "Cadre de santé", pb::JobFamily::Management),
    ("TEAM_LEADER", "Responsable de secteur", pb::JobFamily::Management),
];

/// Managers in post (manager flag).
const MANAGER_JOBS: &[&str] = &["CENTRE_MANAGER", "DIRECTOR", "HEAD_NURSE", "TEAM_LEADER"];
/// Structures seeded at most (the first by FINESS, plus the named one).
const MAX_STRUCTURES: usize = 60;
/// The demo payroll year.
const YEAR: i32 = 2022;

/// Monthly gross pay of one FTE by family, cents.
fn monthly_pay(family: pb::JobFamily) -> i64 {
    match family {
        pb::JobFamily::Medical => 750_000,
        pb::JobFamily::Management => 450_000,
        pb::JobFamily::Paramedical => 300_000,
        pb::JobFamily::Administrative => 260_000,
        pb::JobFamily::Technical => 250_000,
        _ => 220_000,
    }
}

fn family_of(job: &str) -> pb::JobFamily {
    JOBS.iter().find(|j| j.0 == job).map(|j| j.2).unwrap_or(pb::JobFamily::Administrative)
}

fn status_of(family: pb::JobFamily) -> pb::StaffStatus {
    match family {
        pb::JobFamily::Medical => pb::StaffStatus::CompanyAgreement,
        pb::JobFamily::MedicoSocial => pb::StaffStatus::BranchAgreement,
        _ => pb::StaffStatus::Ucanss,
    }
}

/// Staff template of a structure category: (job, people, FTE hundredths each).
fn template(category: &str) -> &'static [(&'static str, usize, i32)] {
    match category {
        "HEALTH_CENTRE" => {
            &[("MED_GP", 2, 80), ("NURSE", 2, 100), ("DENTIST", 1, 100), ("MED_SECRETARY", 2, 100), ("CENTRE_MANAGER", 1, 100)]
        }
        "HOSPITAL" => &[
            ("MED_SPECIALIST", 4, 100),
            ("NURSE", 8, 100),
            ("CARE_ASSISTANT", 6, 100),
            ("PHYSIOTHERAPIST", 2, 80),
            ("HEAD_NURSE", 1, 100),
            ("DIRECTOR", 1, 100),
            ("HR_OFFICER", 1, 100),
            ("ACCOUNTANT", 1, 100),
            ("COOK", 2, 100),
            ("MAINTENANCE_TECH", 1, 100),
        ],
        "EHPAD" => &[
            ("CARE_ASSISTANT", 8, 100),
            ("NURSE", 3, 100),
            ("SOCIAL_CARE_WORKER", 2, 100),
            ("HEAD_NURSE", 1, 100),
            ("DIRECTOR", 1, 100),
            ("COOK", 1, 100),
            ("LOGISTICS_AGENT", 2, 80),
        ],
        "SSIAD" => &[("NURSE", 2, 100), ("CARE_ASSISTANT", 5, 100), ("TEAM_LEADER", 1, 100)],
        "SAAD" | "SPASAD" => &[("HOME_HELP", 8, 70), ("SOCIAL_WORKER", 1, 100), ("TEAM_LEADER", 1, 100)],
        "PHARMACY" => &[("PHARMACIST", 1, 100), ("PHARMACY_TECH", 2, 100)],
        "OPTICAL_CENTRE" => &[("OPTICIAN", 2, 100), ("RECEPTIONIST", 1, 80)],
        "LABORATORY" => &[("BIOLOGIST", 1, 100), ("LAB_TECH", 3, 100), ("MED_SECRETARY", 1, 100)],
        _ => &[("RECEPTIONIST", 1, 100), ("ACCOUNTANT", 1, 60)],
    }
}

/// A deterministic generator seeded by a text (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new(seed: &str) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in seed.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Self(h | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }

    fn int(&mut self, low: i32, high: i32) -> i32 {
        low + i32::try_from(self.below(u64::try_from(high - low + 1).unwrap_or(1))).unwrap_or(0)
    }
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// One demo person.
#[derive(Debug, Clone)]
struct DemoPerson {
    id: String,
    finess: String,
    job: &'static str,
    fte: i32,
    birth_year: i32,
    contract: pb::ContractType,
    start: NaiveDate,
    end: Option<NaiveDate>,
}

/// A structure the seed staffs.
#[derive(Debug, Clone)]
pub struct DemoStructure {
    pub finess: String,
    pub category: String,
}

/// People of a structure; the named one gets the H18 team and its departures.
fn people_of(s: &DemoStructure, named: bool) -> Vec<DemoPerson> {
    let mut rng = Rng::new(&s.finess);
    let mut out = Vec::new();
    let person = |n: usize, job, fte, birth_year, contract, start, end| DemoPerson {
        id: format!("DEMO-{}-{n:02}", s.finess),
        finess: s.finess.clone(),
        job,
        fte,
        birth_year,
        contract,
        start,
        end,
    };
    if named {
        let p = pb::ContractType::Permanent;
        let f = pb::ContractType::FixedTerm;
        out.push(person(1, "MED_GP", 80, 1963, p, day(2018, 2, 20), None));
        out.push(person(2, "MED_GP", 60, 1978, p, day(2018, 2, 20), None));
        out.push(person(3, "MED_GP", 60, 1985, p, day(2019, 9, 1), None));
        out.push(person(4, "NURSE", 100, 1992, f, day(2021, 7, 1), Some(day(2027, 6, 30))));
        out.push(person(5, "MED_SECRETARY", 100, 1964, p, day(2018, 2, 20), None));
        out.push(person(6, "CENTRE_MANAGER", 100, 1975, p, day(2018, 2, 20), None));
        return out;
    }
    let mut n = 0;
    for &(job, count, fte) in template(&s.category) {
        for _ in 0..count {
            n += 1;
            let birth_year = rng.int(1960, 1999);
            let start = day(rng.int(2005.max(birth_year + 22), 2021), u32::try_from(rng.int(1, 12)).unwrap_or(1), 1);
            let fixed = rng.below(100) < 12;
            let (contract, end) = if fixed {
                (pb::ContractType::FixedTerm, Some(day(rng.int(2023, 2028), u32::try_from(rng.int(1, 12)).unwrap_or(1), 28)))
            } else {
                (pb::ContractType::Permanent, None)
            };
            out.push(person(n, job, fte, birth_year, contract, start, end));
        }
    }
    out
}

/// Calls the API in process as the demo job, as any client would.
struct Caller<'a> {
    api: &'a HrApi,
    identity: Identity,
}

impl Caller<'_> {
    fn req<T>(&self, message: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(message);
        r.extensions_mut().insert(self.identity.clone());
        r
    }
}

/// Loads the demo data set for the structures in the cache; returns a summary.
pub async fn load_demo(store: &Store, named: Option<Uuid>) -> anyhow::Result<String> {
    let rows: Vec<(Uuid, String, String)> = sqlx::query_as(
        "SELECT structure_id, finess, category FROM structure_cache WHERE finess IS NOT NULL AND level = 'ESTABLISHMENT' \
         AND close_date IS NULL AND open_date <= '2021-12-31' ORDER BY finess",
    )
    .fetch_all(store.pool())
    .await?;
    anyhow::ensure!(
        !rows.is_empty(),
        "the registry cache holds no open establishment: seed the registry first (filieris-registry seed-demo)"
    );
    let named_finess = named.and_then(|id| rows.iter().find(|r| r.0 == id).map(|r| r.1.clone()));
    let mut structures: Vec<DemoStructure> =
        rows.iter().take(MAX_STRUCTURES).map(|r| DemoStructure { finess: r.1.clone(), category: r.2.clone() }).collect();
    if let Some(f) = &named_finess
        && !structures.iter().any(|s| &s.finess == f)
        && let Some(r) = rows.iter().find(|r| &r.1 == f)
    {
        structures.push(DemoStructure { finess: r.1.clone(), category: r.2.clone() });
    }
    load_structures(store, &structures, named_finess.as_deref()).await?;
    let counts = store.counts().await?;
    Ok(format!(
        "hr demo: {} structures{}; {}",
        structures.len(),
        named_finess.map(|f| format!(" (named: {f})")).unwrap_or_default(),
        counts.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
    ))
}

/// Loads the demo data set for the given structures (all in the registry cache).
pub async fn load_structures(store: &Store, structures: &[DemoStructure], named: Option<&str>) -> anyhow::Result<()> {
    let api = HrApi::new(store.clone());
    let identity =
        Identity { caller: "job:demo-seed".into(), kind: CallerKind::Job, roles: vec!["admin".into()], scopes: vec!["*".into()] };
    let c = Caller { api: &api, identity };
    let rid = |parts: &[&str]| format!("demo-hr-{}", parts.join("-"));

    for (code, label, family) in JOBS {
        let job = pb::Job { name: String::new(), code: (*code).into(), label: (*label).into(), family: *family as i32 };
        c.api.create_job(c.req(pb::CreateJobRequest { job: Some(job), request_id: rid(&["job", code]) })).await?;
    }

    let mut everyone: Vec<DemoPerson> = Vec::new();
    for s in structures {
        let people = people_of(s, named == Some(s.finess.as_str()));
        let mut rng = Rng::new(&format!("plan-{}", s.finess));
        // Staffing plan: what the people hold, plus a free post now and then.
        let mut jobs: Vec<&str> = people.iter().map(|p| p.job).collect();
        jobs.dedup();
        for job in jobs {
            let held: i32 = people.iter().filter(|p| p.job == job).map(|p| p.fte).sum();
            let extra = if named == Some(s.finess.as_str()) {
                if job == "MED_GP" { 100 } else { 0 }
            } else if rng.below(4) == 0 {
                100
            } else {
                0
            };
            let position = pb::Position {
                finess: s.finess.clone(),
                job: format!("jobs/{job}"),
                fte_hundredths: held + extra,
                effective_from: "2020-01-01".into(),
                ..Default::default()
            };
            c.api
                .create_position(
                    c.req(pb::CreatePositionRequest { position: Some(position), request_id: rid(&["position", &s.finess, job]) }),
                )
                .await?;
        }
        for p in &people {
            create_person(&c, p, &rid(&["person", &p.id])).await?;
        }
        everyone.extend(people);
    }

    // Payroll 2022: per structure, month and status, from the people paid that month.
    let mut rows = Vec::new();
    for s in structures {
        for month in 1..=12u32 {
            let first = day(YEAR, month, 1);
            let last = if month == 12 { day(YEAR, 12, 31) } else { day(YEAR, month + 1, 1).pred_opt().unwrap_or(first) };
            let mut by_status: std::collections::BTreeMap<i32, (i64, i32)> = Default::default();
            for p in everyone.iter().filter(|p| p.finess == s.finess && p.start <= last && p.end.is_none_or(|e| e >= first)) {
                let family = family_of(p.job);
                let entry = by_status.entry(status_of(family) as i32).or_default();
                entry.0 += monthly_pay(family) * i64::from(p.fte) / 100;
                entry.1 += 1;
            }
            for (status, (gross, headcount)) in by_status {
                rows.push(pb::PayrollRowInput {
                    month: format!("{YEAR}{month:02}"),
                    finess: s.finess.clone(),
                    status,
                    gross_cents: gross,
                    employer_contributions_cents: gross * 45 / 100,
                    headcount_paid: headcount,
                });
            }
        }
    }
    let payroll: i64 = rows.iter().map(|r| r.gross_cents).sum();
    c.api
        .import_payroll(c.req(pb::ImportPayrollRequest { request_id: rid(&["payroll", "2022"]), source_system: "DEMO".into(), rows }))
        .await?;

    // Training 2022: 2.29 % of payroll (the COG22.SUP.1 base), split by programme.
    let year_end = day(YEAR, 12, 31);
    let in_post = |p: &&DemoPerson| p.start <= year_end && p.end.is_none_or(|e| e >= year_end);
    let managers: Vec<&DemoPerson> = everyone.iter().filter(in_post).filter(|p| MANAGER_JOBS.contains(&p.job)).collect();
    let hr_teams: Vec<&DemoPerson> = everyone.iter().filter(in_post).filter(|p| p.job == "HR_OFFICER").collect();
    let budget = payroll * 229 / 10_000;
    let others: Vec<&DemoPerson> = everyone.iter().filter(in_post).filter(|p| !MANAGER_JOBS.contains(&p.job)).step_by(3).collect();
    let plan = [
        ("Conduite du changement", pb::TrainingProgramme::ChangeManagement, 30, managers.iter().step_by(1).copied().collect::<Vec<_>>()),
        (
            "Management par objectifs et résultats",
            pb::TrainingProgramme::ManagementByObjectives,
            20,
            managers.iter().step_by(2).copied().collect(),
        ),
        (
            "Gestion des parcours professionnels",
            pb::TrainingProgramme::CareerPathManagement,
            10,
            managers.iter().chain(hr_teams.iter()).copied().collect(),
        ),
    ];
    let mut spent = 0;
    for (i, (title, programme, share, people)) in plan.iter().enumerate() {
        let cost = budget * share / 100;
        spent += cost;
        let action = pb::TrainingAction {
            title: (*title).into(),
            programme: *programme as i32,
            date: format!("{YEAR}-{:02}-15", 3 + i * 2),
            hours: 14,
            cost_cents: cost,
            participants: people.iter().map(|p| pb::TrainingParticipant { person: format!("people/{}", p.id), completed: true }).collect(),
            ..Default::default()
        };
        c.api
            .create_training_action(
                c.req(pb::CreateTrainingActionRequest { action: Some(action), request_id: rid(&["training", &i.to_string()]) }),
            )
            .await?;
    }
    let action = pb::TrainingAction {
        title: "Hygiène et prévention du risque infectieux".into(),
        programme: pb::TrainingProgramme::Other as i32,
        date: format!("{YEAR}-10-04"),
        hours: 7,
        cost_cents: budget - spent,
        participants: others.iter().map(|p| pb::TrainingParticipant { person: format!("people/{}", p.id), completed: true }).collect(),
        ..Default::default()
    };
    c.api
        .create_training_action(c.req(pb::CreateTrainingActionRequest { action: Some(action), request_id: rid(&["training", "other"]) }))
        .await?;

    // Appraisals and absences of 2022.
    for p in everyone.iter().filter(in_post).filter(|p| p.start.year() < YEAR) {
        let mut rng = Rng::new(&format!("year-{}", p.id));
        let held = (rng.below(100) < 80).then(|| format!("{YEAR}-{:02}-{:02}", rng.int(1, 6), rng.int(1, 28)));
        c.api
            .record_appraisal(c.req(pb::RecordAppraisalRequest {
                person: format!("people/{}", p.id),
                campaign_year: YEAR,
                held_date: held.unwrap_or_default(),
                request_id: rid(&["appraisal", &p.id]),
            }))
            .await?;
        if rng.below(100) < 30 {
            let month = u32::try_from(rng.int(1, 11)).unwrap_or(1);
            let days = rng.int(1, 10);
            let start = day(YEAR, month, 1);
            let end = start + chrono::Duration::days(i64::from(days) + i64::from(days / 5) * 2 - 1);
            let reason = if rng.below(10) == 0 { pb::AbsenceReason::WorkAccident } else { pb::AbsenceReason::Sickness };
            c.api
                .record_absence(c.req(pb::RecordAbsenceRequest {
                    person: format!("people/{}", p.id),
                    reason: reason as i32,
                    start_date: start.to_string(),
                    end_date: end.to_string(),
                    working_days: days,
                    request_id: rid(&["absence", &p.id]),
                }))
                .await?;
        }
    }

    // Recruitment: a medical vacancy filled in the named structure, and the free posts of a few others open.
    if let Some(f) = named {
        let opened = c
            .api
            .open_vacancy(c.req(pb::OpenVacancyRequest {
                finess: f.into(),
                job: "jobs/MED_GP".into(),
                fte_hundredths: 100,
                opened_date: "2022-03-01".into(),
                request_id: rid(&["vacancy", f, "MED_GP"]),
            }))
            .await?
            .into_inner();
        let name = opened.vacancy.map(|v| v.name).unwrap_or_default();
        for (i, channel) in [pb::ApplicationChannel::RecruitmentFirm, pb::ApplicationChannel::SocialNetwork, pb::ApplicationChannel::School]
            .iter()
            .enumerate()
        {
            c.api
                .record_application(c.req(pb::RecordApplicationRequest {
                    vacancy: name.clone(),
                    candidate_ref: format!("CAND-{f}-{i}"),
                    channel: *channel as i32,
                    received_date: format!("2022-04-{:02}", 4 + i * 7),
                    request_id: rid(&["application", f, &i.to_string()]),
                }))
                .await?;
        }
        let hire = DemoPerson {
            id: format!("DEMO-{f}-07"),
            finess: f.into(),
            job: "MED_GP",
            fte: 100,
            birth_year: 1990,
            contract: pb::ContractType::Permanent,
            start: day(2022, 6, 15),
            end: None,
        };
        // The hire is recorded without an assignment: filling the vacancy creates it.
        create_person_only(&c, &hire, &rid(&["person", &hire.id])).await?;
        c.api
            .fill_vacancy(c.req(pb::FillVacancyRequest {
                name,
                person: format!("people/{}", hire.id),
                hire_date: "2022-06-15".into(),
                request_id: rid(&["fill", f, "MED_GP"]),
            }))
            .await?;
    }
    let mut opened = 0;
    for s in structures.iter().filter(|s| Some(s.finess.as_str()) != named) {
        if opened >= 6 {
            break;
        }
        let mut rng = Rng::new(&format!("plan-{}", s.finess));
        let people = people_of(s, false);
        let mut jobs: Vec<&str> = people.iter().map(|p| p.job).collect();
        jobs.dedup();
        for job in jobs {
            if rng.below(4) == 0 {
                c.api
                    .open_vacancy(c.req(pb::OpenVacancyRequest {
                        finess: s.finess.clone(),
                        job: format!("jobs/{job}"),
                        fte_hundredths: 100,
                        opened_date: "2022-09-01".into(),
                        request_id: rid(&["vacancy", &s.finess, job]),
                    }))
                    .await?;
                opened += 1;
            }
        }
    }

    // Trainees: medical interns and nursing students in health centres.
    for s in structures.iter().filter(|s| s.category == "HEALTH_CENTRE") {
        let mut rng = Rng::new(&format!("trainees-{}", s.finess));
        for i in 0..rng.below(3) {
            let category = if i == 0 { pb::TraineeCategory::MedicalIntern } else { pb::TraineeCategory::NursingStudent };
            c.api
                .record_trainee(c.req(pb::RecordTraineeRequest {
                    trainee_ref: format!("TR-{}-{i}", s.finess),
                    finess: s.finess.clone(),
                    category: category as i32,
                    start_date: format!("{YEAR}-{:02}-01", 5 + i * 4),
                    end_date: format!("{YEAR}-{:02}-30", 8 + i * 3),
                    request_id: rid(&["trainee", &s.finess, &i.to_string()]),
                }))
                .await?;
        }
    }

    // Agreements (hr.md H7, H8) and yearly counters.
    let agreements = [
        ("Accord unique des aides à domicile", pb::AgreementType::Harmonisation, "2022-06-30", "2022-09-15"),
        ("Forfait annuel en jours", pb::AgreementType::Overhaul, "2022-04-12", ""),
        ("Plages fixes et variables du personnel administratif", pb::AgreementType::Overhaul, "2022-11-08", "2023-01-20"),
        ("Accord des médecins omnipraticiens", pb::AgreementType::Overhaul, "2023-05-23", "2023-07-01"),
        ("Accord des chirurgiens-dentistes", pb::AgreementType::Overhaul, "2023-10-17", "2023-12-05"),
        ("Régime de prévoyance", pb::AgreementType::Harmonisation, "2024-03-15", "2024-05-02"),
    ];
    for (i, (title, kind, signed, support)) in agreements.iter().enumerate() {
        let agreement = pb::CollectiveAgreement {
            title: (*title).into(),
            r#type: *kind as i32,
            signed_date: (*signed).into(),
            didactic_support_date: (*support).into(),
            ..Default::default()
        };
        c.api
            .create_collective_agreement(
                c.req(pb::CreateCollectiveAgreementRequest { agreement: Some(agreement), request_id: rid(&["agreement", &i.to_string()]) }),
            )
            .await?;
    }
    for counters in [
        pb::YearlyCounters {
            name: "yearlyCounters/2022".into(),
            signature_events: 840,
            electronic_signatures: 310,
            remote_meetings_with_votes: 12,
            remote_meetings_full_evoting: 11,
            disability_diagnostic_date: "2022-10-15".into(),
            disability_actions: 12,
            disability_actions_done: 2,
            litigation_hub_date: String::new(),
        },
        pb::YearlyCounters {
            name: "yearlyCounters/2023".into(),
            signature_events: 1000,
            electronic_signatures: 520,
            remote_meetings_with_votes: 14,
            remote_meetings_full_evoting: 14,
            disability_diagnostic_date: "2022-10-15".into(),
            disability_actions: 12,
            disability_actions_done: 6,
            litigation_hub_date: "2023-06-01".into(),
        },
    ] {
        let request_id = rid(&["counters", counters.name.trim_start_matches("yearlyCounters/")]);
        c.api.set_yearly_counters(c.req(pb::SetYearlyCountersRequest { counters: Some(counters), request_id })).await?;
    }
    Ok(())
}

async fn create_person_only(c: &Caller<'_>, p: &DemoPerson, request_id: &str) -> anyhow::Result<()> {
    let family = family_of(p.job);
    let person = pb::Person {
        employee_id: p.id.clone(),
        birth_year: p.birth_year,
        job: format!("jobs/{}", p.job),
        status: status_of(family) as i32,
        manager: MANAGER_JOBS.contains(&p.job),
        hr_team: p.job == "HR_OFFICER",
        contract_type: p.contract as i32,
        start_date: p.start.to_string(),
        end_date: p.end.map(|e| e.to_string()).unwrap_or_default(),
        ..Default::default()
    };
    c.api.create_person(c.req(pb::CreatePersonRequest { person: Some(person), request_id: request_id.to_owned() })).await?;
    Ok(())
}

async fn create_person(c: &Caller<'_>, p: &DemoPerson, request_id: &str) -> anyhow::Result<()> {
    create_person_only(c, p, request_id).await?;
    let assignment =
        pb::Assignment { finess: p.finess.clone(), fte_hundredths: p.fte, start_date: p.start.to_string(), ..Default::default() };
    c.api
        .create_assignment(c.req(pb::CreateAssignmentRequest {
            person: format!("people/{}", p.id),
            assignment: Some(assignment),
            request_id: format!("{request_id}-assignment"),
        }))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_are_deterministic_and_the_named_structure_has_departures() {
        let s = DemoStructure { finess: "300000001".into(), category: "HEALTH_CENTRE".into() };
        let a = people_of(&s, false);
        let b = people_of(&s, false);
        assert_eq!(a.len(), 8);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        let named = people_of(&s, true);
        let gp_fte: i32 = named.iter().filter(|p| p.job == "MED_GP").map(|p| p.fte).sum();
        assert_eq!(gp_fte, 200, "hr.md H18: 3 doctors for 2 FTE");
        let as_of = day(2026, 11, 23);
        let horizon = day(2029, 11, 23);
        let leaving: Vec<_> = named
            .iter()
            .filter_map(|p| crate::domain::foreseen_departure(p.birth_year, p.end, as_of, horizon, crate::domain::DEFAULT_RETIREMENT_AGE))
            .collect();
        assert_eq!(leaving.len(), 3);
    }
}
