//! `lakeshift serve` (the REST ingestion service) and `lakeshift openapi` (its document).

use std::path::PathBuf;

use clap::Args;
use lakeshift::Result;
use lakeshift::api::config::{self, ServeConfig};
use lakeshift::api::{self, Service};
use lakeshift::postgres::DbUrl;

use super::{UrlParser, print};

/// Arguments of `lakeshift serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Database to ingest into [default: $DATABASE_URL, else PG* variables]
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = UrlParser,
          default_value = "", hide_default_value = true)]
    database_url: DbUrl,
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    bind: String,
    /// YAML file with the users (and optional limits) [env: LAKESHIFT_CONFIG]
    #[arg(long, env = "LAKESHIFT_CONFIG", value_name = "FILE")]
    config: PathBuf,
}

pub async fn run(args: ServeArgs) -> Result<()> {
    let config = ServeConfig::load(&args.config)?;
    let secret = config::jwt_secret_from_env()?;
    let service = Service::start(&args.database_url, &args.bind, &config, &secret).await?;
    service.run(api::shutdown_signal()).await
}

/// Print the OpenAPI document.
pub fn openapi() -> Result<()> {
    print(&api::openapi_json())?;
    print("\n")
}
