//! `filieris-gateway`: serves the gateway, or manages API keys.
//!
//! ```text
//! filieris-gateway [serve]
//! filieris-gateway create-api-key --caller partner:cdc --kind partner --roles partner_cdc
//! filieris-gateway revoke-api-key --key fk_…
//! ```

use std::process::ExitCode;

use filieris_gateway::{GatewayConfig, MIGRATOR, SCHEMA, keys};
use filieris_runtime::config::Env;
use filieris_runtime::identity::CallerKind;

const USAGE: &str = "usage:
  filieris-gateway [serve]
      serve REST, gRPC and gRPC-Web on FILIERIS_GATEWAY_ADDR (default 127.0.0.1:8080)
  filieris-gateway create-api-key --caller <kind>:<name> --kind partner|staff|job|service [--roles a,b] [--scopes '*']
      print a new API key (shown once; only its SHA-256 is stored); roles are those of
      gateway/policy.toml (partner_cnam, partner_cdc, partner_angdm, head_office, …), scopes
      the rows a scoped role sees (region:NORD, structure:<FINESS>)
  filieris-gateway revoke-api-key --key <key>
      revoke a key (takes effect within FILIERIS_API_KEY_CACHE_SECONDS)

environment: DATABASE_URL (required), FILIERIS_INTERNAL_KEY (required to serve), see the README for the rest";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("serve") => serve().await,
        Some("create-api-key") => create_key(&args[1..]).await,
        Some("revoke-api-key") => revoke_key(&args[1..]).await,
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(anyhow::anyhow!("unknown command {other:?}\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("filieris-gateway: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> anyhow::Result<()> {
    let _telemetry = filieris_runtime::telemetry::init("filieris-gateway")?;
    let config = GatewayConfig::from_env(&Env::process())?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on FILIERIS_GATEWAY_ADDR={}: {e}", config.addr))?;
    filieris_gateway::serve(listener, config, filieris_runtime::server::shutdown_signal()).await
}

/// Parsed `--flag value` pairs; lists may repeat the flag or use commas.
struct Flags(Vec<(String, String)>);

impl Flags {
    fn parse(args: &[String], known: &[&str]) -> anyhow::Result<Self> {
        let mut pairs = Vec::new();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (flag.as_str(), None),
            };
            let name = name.strip_prefix("--").filter(|n| known.contains(n));
            let Some(name) = name else {
                anyhow::bail!("unexpected argument {flag:?}\n{USAGE}");
            };
            let value = match inline {
                Some(v) => v,
                None => it.next().cloned().ok_or_else(|| anyhow::anyhow!("--{name} needs a value"))?,
            };
            pairs.push((name.to_owned(), value));
        }
        Ok(Self(pairs))
    }

    fn one(&self, name: &str) -> anyhow::Result<&str> {
        let mut values = self.0.iter().filter(|(n, _)| n == name);
        match (values.next(), values.next()) {
            (Some((_, v)), None) => Ok(v),
            (None, _) => anyhow::bail!("--{name} is required\n{USAGE}"),
            (Some(_), Some(_)) => anyhow::bail!("--{name} is given twice"),
        }
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned))
            .collect()
    }
}

async fn pool() -> anyhow::Result<sqlx::PgPool> {
    let env = Env::process();
    let url = env.required("DATABASE_URL", "a PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/filieris")?;
    Ok(filieris_runtime::db::connect(&url, SCHEMA, 2, &MIGRATOR).await?)
}

async fn create_key(args: &[String]) -> anyhow::Result<()> {
    let flags = Flags::parse(args, &["caller", "kind", "roles", "scopes"])?;
    let caller = flags.one("caller")?;
    let kind: CallerKind = flags.one("kind")?.parse()?;
    let roles = flags.list("roles");
    let scopes = flags.list("scopes");
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
    let pool = pool().await?;
    let key = keys::create_api_key(&pool, caller, kind, &roles, &scopes).await?;
    println!("{key}");
    Ok(())
}

async fn revoke_key(args: &[String]) -> anyhow::Result<()> {
    let flags = Flags::parse(args, &["key"])?;
    let pool = pool().await?;
    if keys::revoke_api_key(&pool, flags.one("key")?).await? {
        println!("revoked");
        Ok(())
    } else {
        anyhow::bail!("no active key matches")
    }
}
