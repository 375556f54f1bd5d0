//! Starts the platform in-process for end-to-end tests: a fresh PostgreSQL
//! database, the registry (with the demo data set), activity, finance, HR,
//! missions, steering and the gateway (with its development token issuer and
//! the web UI), each on a free loopback port, exactly as the binaries run them.

pub mod procs;

use std::net::SocketAddr;
use std::time::Duration;

use filieris_runtime::config::{Env, InternalKey};
use filieris_runtime::testing::TestDatabase;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The development credential the test platform accepts (admin).
pub const ADMIN_KEY: &str = "fk_e2e_admin_key_for_tests_only_0123456789abcdef";
/// Internal key shared by the gateway and the services in tests.
pub const INTERNAL_KEY: &str = "6e7d8c9b0a1f2e3d4c5b6a798877665544332211ffeeddccbbaa998877665544";
/// Pseudonymisation key of the activity service in tests.
pub const PSEUDONYM_KEY: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

/// A running platform; stops when dropped.
pub struct Platform {
    /// Base URL of the gateway, e.g. `http://127.0.0.1:40123`.
    pub gateway_url: String,
    /// Address of the registry's gRPC server.
    pub registry_addr: SocketAddr,
    /// Address of the activity service's gRPC server.
    pub activity_addr: SocketAddr,
    /// Address of the finance service's gRPC server.
    pub finance_addr: SocketAddr,
    /// Address of the HR service's gRPC server.
    pub hr_addr: SocketAddr,
    /// Address of the delegated-missions service's gRPC server.
    pub missions_addr: SocketAddr,
    /// Address of the steering service's gRPC server.
    pub steering_addr: SocketAddr,
    /// URL of the test database.
    pub database_url: String,
    stops: Vec<(&'static str, oneshot::Sender<()>)>,
}

impl Drop for Platform {
    fn drop(&mut self) {
        for (_, s) in self.stops.drain(..) {
            let _ = s.send(());
        }
    }
}

fn pseudonyms_of() -> anyhow::Result<filieris_kernel::pseudonym::PseudonymKey> {
    filieris_kernel::pseudonym::PseudonymKey::from_hex(PSEUDONYM_KEY).map_err(|e| anyhow::anyhow!("{e}"))
}

async fn free_listener() -> anyhow::Result<(TcpListener, SocketAddr)> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let a = l.local_addr()?;
    Ok((l, a))
}

impl Platform {
    /// Starts the registry (demo data loaded) and the gateway.
    pub async fn start() -> anyhow::Result<Self> {
        let db = TestDatabase::create().await?;
        let key = InternalKey::from_hex(INTERNAL_KEY).map_err(anyhow::Error::msg)?;
        let pool = filieris_runtime::db::connect(&db.url, filieris_registry::SCHEMA, 5, &filieris_registry::MIGRATOR).await?;
        filieris_registry::seed::load_demo(&filieris_registry::storage::Store::new(pool.clone())).await?;

        let mut stops = Vec::new();
        let (listener, registry_addr) = free_listener().await?;
        let (tx, rx) = oneshot::channel::<()>();
        stops.push(("registry", tx));
        tokio::spawn(filieris_registry::serve(listener, pool, key.clone(), Duration::from_secs(1), async {
            let _ = rx.await;
        }));

        // Activity: its registry cache is filled from the registry's change feed before it serves.
        let activity_pool = filieris_runtime::db::connect(&db.url, filieris_activity::SCHEMA, 8, &filieris_activity::MIGRATOR).await?;
        let pseudonyms = filieris_kernel::pseudonym::PseudonymKey::from_hex(PSEUDONYM_KEY).map_err(|e| anyhow::anyhow!("{e}"))?;
        let store = filieris_activity::storage::Store::new(activity_pool.clone(), pseudonyms);
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{registry_addr}"))?.connect_lazy();
        let sync = filieris_activity::registry_sync::RegistrySync::new(
            channel.clone(),
            key.clone(),
            activity_pool.clone(),
            filieris_activity::registry_sync::SERVICE_CALLER,
        );
        let (feed, handler) = sync.clone().into_arcs();
        let consumer = filieris_runtime::events::Consumer::new(activity_pool.clone(), "registry", "activity", feed, handler, None);
        consumer.catch_up().await?;
        let (listener, activity_addr) = free_listener().await?;
        let (tx, rx) = oneshot::channel::<()>();
        stops.push(("activity", tx));
        let api = filieris_activity::grpc::ActivityApi::new(store.clone(), sync);
        let records = filieris_activity::records::RecordsApi::new(store, channel.clone(), key.clone());
        tokio::spawn(filieris_activity::serve(listener, api, records, activity_pool, key.clone(), Duration::from_secs(1), async {
            let _ = rx.await;
        }));

        // Finance: the COG budget tables loaded, its registry cache filled before it serves.
        let finance_pool = filieris_runtime::db::connect(&db.url, filieris_finance::SCHEMA, 8, &filieris_finance::MIGRATOR).await?;
        let budget_store = filieris_finance::budget::storage::Store::new(finance_pool.clone());
        budget_store.load_reference().await?;
        let finance_registry = filieris_runtime::registry_cache::RegistryCache::new(
            channel.clone(),
            key.clone(),
            finance_pool.clone(),
            filieris_finance::results::SERVICE_CALLER,
        );
        let (feed, handler) = finance_registry.clone().into_arcs();
        filieris_runtime::events::Consumer::new(finance_pool.clone(), "registry", "finance", feed, handler, None).catch_up().await?;
        let (listener, finance_addr) = free_listener().await?;
        let (tx, rx) = oneshot::channel::<()>();
        stops.push(("finance", tx));
        let results = filieris_finance::results::ResultsApi::new(
            filieris_finance::results::storage::ResultsStore::new(finance_pool.clone()),
            finance_registry,
        );
        let budget = filieris_finance::budget::BudgetApi::new(budget_store);
        tokio::spawn(filieris_finance::serve(listener, budget, results, finance_pool, key.clone(), Duration::from_secs(1), async {
            let _ = rx.await;
        }));

        // HR: its registry cache filled before serving, like finance.
        let hr_pool = filieris_runtime::db::connect(&db.url, filieris_hr::SCHEMA, 8, &filieris_hr::MIGRATOR).await?;
        let hr_registry = filieris_runtime::registry_cache::RegistryCache::new(
            channel.clone(),
            key.clone(),
            hr_pool.clone(),
            filieris_hr::SERVICE_CALLER,
        );
        let (feed, handler) = hr_registry.into_arcs();
        filieris_runtime::events::Consumer::new(hr_pool.clone(), "registry", "hr", feed, handler, None).catch_up().await?;
        let (listener, hr_addr) = free_listener().await?;
        let (tx, rx) = oneshot::channel::<()>();
        stops.push(("hr", tx));
        let hr = filieris_hr::HrApi::new(filieris_hr::storage::Store::new(hr_pool.clone()));
        tokio::spawn(filieris_hr::serve(listener, hr, hr_pool, key.clone(), Duration::from_secs(1), async {
            let _ = rx.await;
        }));

        // Missions (demo data loaded by `seed_ui_demo`) and steering (catalogue and action calendar loaded).
        let missions_pool = filieris_runtime::db::connect(&db.url, filieris_missions::SCHEMA, 5, &filieris_missions::MIGRATOR).await?;
        let missions_store = filieris_missions::storage::Store::new(missions_pool.clone(), pseudonyms_of()?);
        let finance_channel = tonic::transport::Endpoint::from_shared(format!("http://{finance_addr}"))?.connect_lazy();
        let (listener, missions_addr) = free_listener().await?;
        let (tx, rx) = oneshot::channel::<()>();
        stops.push(("missions", tx));
        let missions =
            filieris_missions::MissionsApi::new(missions_store, filieris_missions::finance::Finance::new(finance_channel, key.clone()));
        tokio::spawn(filieris_missions::serve(listener, missions, missions_pool, key.clone(), Duration::from_secs(1), async {
            let _ = rx.await;
        }));
        let steering_pool = filieris_runtime::db::connect(&db.url, filieris_steering::SCHEMA, 5, &filieris_steering::MIGRATOR).await?;
        let steering_store = filieris_steering::storage::Store::new(steering_pool.clone());
        steering_store.load_reference().await?;
        let urls = filieris_steering::sources::UpstreamUrls {
            activity: format!("http://{activity_addr}"),
            finance: format!("http://{finance_addr}"),
            hr: format!("http://{hr_addr}"),
            missions: format!("http://{missions_addr}"),
        };
        let steering = filieris_steering::SteeringApi::new(steering_store, filieris_steering::sources::Upstreams::new(&urls, key.clone())?);
        let (listener, steering_addr) = free_listener().await?;
        let (tx, rx) = oneshot::channel::<()>();
        stops.push(("steering", tx));
        tokio::spawn(filieris_steering::serve(listener, steering, steering_pool, key.clone(), Duration::from_secs(1), async {
            let _ = rx.await;
        }));

        let (listener, gateway_addr) = free_listener().await?;
        // The development token issuer, with a key of its own per platform (the web UI signs in through it).
        let dev_issuer_key = std::env::temp_dir().join(format!("filieris-e2e-dev-issuer-{}.pk8", uuid::Uuid::now_v7()));
        let env = Env::from_pairs([
            ("DATABASE_URL", db.url.clone()),
            ("FILIERIS_INTERNAL_KEY", INTERNAL_KEY.to_owned()),
            ("FILIERIS_DEV_API_KEY", ADMIN_KEY.to_owned()),
            ("FILIERIS_REGISTRY_URL", format!("http://{registry_addr}")),
            ("FILIERIS_ACTIVITY_URL", format!("http://{activity_addr}")),
            ("FILIERIS_FINANCE_URL", format!("http://{finance_addr}")),
            ("FILIERIS_HR_URL", format!("http://{hr_addr}")),
            ("FILIERIS_MISSIONS_URL", format!("http://{missions_addr}")),
            ("FILIERIS_STEERING_URL", format!("http://{steering_addr}")),
            ("FILIERIS_DEV_ISSUER", "1".to_owned()),
            ("FILIERIS_DEV_ISSUER_KEY_FILE", dev_issuer_key.display().to_string()),
            ("FILIERIS_GATEWAY_ADDR", gateway_addr.to_string()),
        ]);
        let config = filieris_gateway::GatewayConfig::from_env(&env)?;
        let (tx, rx) = oneshot::channel::<()>();
        stops.push(("gateway", tx));
        tokio::spawn(filieris_gateway::serve(listener, config, async {
            let _ = rx.await;
        }));

        let platform = Self {
            gateway_url: format!("http://{gateway_addr}"),
            registry_addr,
            activity_addr,
            finance_addr,
            hr_addr,
            missions_addr,
            steering_addr,
            database_url: db.url,
            stops,
        };
        platform.wait_ready().await?;
        Ok(platform)
    }

    /// Shuts one service down (graceful, like SIGTERM), as in an outage of
    /// that service alone; false when it is not running here.
    pub fn stop(&mut self, service: &str) -> bool {
        match self.stops.iter().position(|(name, _)| *name == service) {
            Some(i) => {
                let (_, tx) = self.stops.remove(i);
                tx.send(()).is_ok()
            }
            None => false,
        }
    }

    /// FINESS of the demo health centres (with their own FINESS) open all of
    /// 2018 and not closed, as the activity service's registry cache has them.
    pub async fn open_health_centres(&self) -> anyhow::Result<Vec<String>> {
        let db = sqlx::PgPool::connect(&self.database_url).await?;
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT finess FROM activity.structure_cache WHERE category = 'HEALTH_CENTRE' AND level = 'ESTABLISHMENT' \
             AND open_date <= '2018-01-01' AND close_date IS NULL ORDER BY finess",
        )
        .fetch_all(&db)
        .await?;
        db.close().await;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// The small demo data set of the web UI's browser test: HR staff, the
    /// delegated missions' partners data, and the steering indicators of the
    /// COG years computed from what the services hold.
    pub async fn seed_ui_demo(&self) -> anyhow::Result<()> {
        let key = InternalKey::from_hex(INTERNAL_KEY).map_err(anyhow::Error::msg)?;
        self.seed_demo_acts(2022, 0.02).await?;
        let hr_pool = filieris_runtime::db::connect(&self.database_url, filieris_hr::SCHEMA, 2, &filieris_hr::MIGRATOR).await?;
        filieris_hr::seed::load_demo(&filieris_hr::storage::Store::new(hr_pool.clone()), None).await?;
        hr_pool.close().await;
        let missions_pool =
            filieris_runtime::db::connect(&self.database_url, filieris_missions::SCHEMA, 2, &filieris_missions::MIGRATOR).await?;
        let finance = tonic::transport::Endpoint::from_shared(format!("http://{}", self.finance_addr))?.connect_lazy();
        filieris_missions::seed::load_demo(
            filieris_missions::storage::Store::new(missions_pool.clone(), pseudonyms_of()?),
            filieris_missions::finance::Finance::new(finance, key.clone()),
        )
        .await?;
        missions_pool.close().await;
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", self.steering_addr))?.connect_lazy();
        let mut steering = filieris_proto::steering::steering_service_client::SteeringServiceClient::new(channel);
        let me = filieris_runtime::identity::Identity {
            caller: "job:e2e-seed".into(),
            kind: filieris_runtime::identity::CallerKind::Job,
            roles: vec!["steering".into()],
            scopes: vec!["*".into()],
        };
        for year in 2022..=2024 {
            let mut req = tonic::Request::new(filieris_proto::steering::ComputeIndicatorsRequest { year, ..Default::default() });
            me.attach(&key, &mut req);
            steering.compute_indicators(req).await?;
        }
        Ok(())
    }

    /// Synthetic acts of one year for every demo health centre (general
    /// medicine and nursing), at `scale` of the real volumes, imported as one batch.
    pub async fn seed_demo_acts(&self, year: i32, scale: f64) -> anyhow::Result<()> {
        use filieris_activity::synth::{Centre, Lines, Options, Plan};
        let pool = filieris_runtime::db::connect(&self.database_url, filieris_activity::SCHEMA, 2, &filieris_activity::MIGRATOR).await?;
        let rows: Vec<(String, i16, chrono::NaiveDate, Option<chrono::NaiveDate>)> = sqlx::query_as(
            "SELECT finess, region, open_date, close_date FROM structure_cache \
             WHERE category = 'HEALTH_CENTRE' AND level = 'ESTABLISHMENT' AND finess IS NOT NULL ORDER BY finess",
        )
        .fetch_all(&pool)
        .await?;
        let centres: Vec<Centre> = rows
            .into_iter()
            .filter_map(|(finess, region, open_date, close_date)| {
                let region = filieris_proto::types::Region::try_from(i32::from(region)).ok()?;
                Some(Centre { finess, region, open_date, close_date, lines: Lines::POLYVALENT })
            })
            .collect();
        let plan = Plan::new(Options::new(year, scale), &centres).map_err(|e| anyhow::anyhow!("{e}"))?;
        let identity = filieris_runtime::identity::Identity {
            caller: "job:e2e-seed".into(),
            kind: filieris_runtime::identity::CallerKind::Job,
            roles: vec!["admin".into()],
            scopes: vec!["*".into()],
        };
        let request_id = format!("e2e-demo-acts-{year}");
        let ctx = filieris_activity::storage::ImportContext {
            identity: &identity,
            method: "seed/ImportActs",
            request_id: &request_id,
            source_system: "DEMO",
        };
        let mut acts = plan.acts();
        let chunks = futures::stream::iter(std::iter::from_fn(move || {
            let chunk = acts.next_chunk(10_000);
            (!chunk.is_empty()).then(|| Ok(chunk.into_iter().map(filieris_activity::domain::upload::RowInput::Act).collect()))
        }));
        let store = filieris_activity::storage::Store::new(pool.clone(), pseudonyms_of()?);
        store.import(&ctx, chunks).await.map_err(|e| anyhow::anyhow!("import: {}", filieris_runtime::error::ApiError::from(e)))?;
        pool.close().await;
        Ok(())
    }

    /// An API key of a structure manager scoped to one demo health centre,
    /// with that centre's FINESS (the development issuer's manager names a
    /// centre the demo registry does not hold).
    pub async fn structure_manager_key(&self) -> anyhow::Result<(String, String)> {
        let finess = self.open_health_centres().await?.into_iter().next().ok_or_else(|| anyhow::anyhow!("no demo health centre"))?;
        let pool = filieris_runtime::db::connect(&self.database_url, filieris_gateway::SCHEMA, 2, &filieris_gateway::MIGRATOR).await?;
        let scope = format!("structure:{finess}");
        let key = filieris_gateway::create_api_key(
            &pool,
            "staff:e2e-structure-manager",
            filieris_runtime::identity::CallerKind::Staff,
            &["structure_manager"],
            &[&scope],
        )
        .await?;
        pool.close().await;
        Ok((key, finess))
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(r) = client.get(format!("{}/readyz", self.gateway_url)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("gateway did not become ready at {}", self.gateway_url)
    }
}
