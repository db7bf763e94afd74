//! Settings for `inlet serve`: command-line flags, `INLET_*` environment variables and an
//! optional TOML file, in that order of precedence, over built-in defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;

use inlet_model::outbound::AllowList;
use inlet_plugin_host::PluginLimits;

const DEFAULT_LISTEN: &str = "127.0.0.1:5005";
const DEFAULT_DATA_DIR: &str = "./inlet-data";
const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;
const DEFAULT_MAX_IN_FLIGHT: usize = 1024;
const DEFAULT_MAX_INFLIGHT_BODY_MIB: u64 = 256;
const DEFAULT_MAX_CONNECTIONS: usize = 4096;
const DEFAULT_BODY_TIMEOUT_SECS: u64 = 30;
const DEFAULT_PLUGIN_DEADLINE_MS: u64 = 50;
const DEFAULT_PLUGIN_MEMORY_MIB: u64 = 32;
const DEFAULT_MAX_DELIVERY_LAG_SECS: u64 = 300;

#[derive(Debug, Parser)]
#[command(
    name = "inlet",
    version,
    about = "Webhook and event gateway: verify every event, store it durably, acknowledge it, then deliver it.",
    long_about = "Inlet receives webhooks from providers (GitHub, Shopify, Stripe, ...) at a public \
per-source URL, and events from your own services through an authenticated REST API or from \
Kafka, SQS and Pub/Sub. Each event is verified, written to an embedded RocksDB with its \
write-ahead log synced together with its deliveries, and only then acknowledged; then it is \
sent, signed, to every endpoint whose subscription it matches, and retried until the endpoint \
takes it or its retries are spent.\n\nStart with `inlet serve`, then manage projects, sources, \
endpoints and subscriptions through the HTTP API (see README.md)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: the admin API, the REST API source and the public ingest URLs.
    ///
    /// The admin token is read from INLET_ADMIN_TOKEN (at least 32 bytes); without it,
    /// Inlet generates one at first start, writes it to <data-dir>/admin-token (mode 0600)
    /// and keeps only its hash.
    Serve(Box<ServeArgs>),
    /// Check a provider plugin file before installing it in --plugins-dir: loads it as
    /// `serve` would and prints its WIT version, what it describes (name, config fields,
    /// credential headers) and the imports Inlet does not provide (calling one traps). Exits
    /// non-zero, with the reason, if `serve` would refuse it.
    CheckPlugin {
        /// The plugin component (`.wasm`)
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// The plugin limits `serve` uses without flags.
pub fn default_plugin_limits() -> PluginLimits {
    PluginLimits {
        deadline: Duration::from_millis(DEFAULT_PLUGIN_DEADLINE_MS),
        memory_bytes: (DEFAULT_PLUGIN_MEMORY_MIB << 20) as usize,
    }
}

#[derive(Debug, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeArgs {
    /// Directory of the embedded RocksDB store [default: ./inlet-data]
    #[arg(long, env = "INLET_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Address to listen on [default: 127.0.0.1:5005]
    #[arg(long, env = "INLET_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Serve /metrics (and the health probes) on this address instead of on --listen,
    /// for a scrape network that the public must not reach
    #[arg(long, env = "INLET_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,

    /// TOML file with any of these settings, by their long names with '_' for '-'
    #[arg(long, env = "INLET_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Base URL that providers reach Inlet at, used in each source's `url`
    /// [default: http://<listen>]
    #[arg(long, env = "INLET_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Largest request body accepted, in bytes; larger ones get 413 [default: 10485760]
    #[arg(long, env = "INLET_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<u64>,

    /// Most requests handled at once; beyond it requests get 429 [default: 1024]
    #[arg(long, env = "INLET_MAX_IN_FLIGHT", value_name = "N")]
    pub max_in_flight: Option<usize>,

    /// Most MiB of request bodies held at once, before they are verified; beyond it a
    /// request waits up to 1 s for room, then gets 503 [default: 256]
    #[arg(long, env = "INLET_MAX_INFLIGHT_BODY_MIB", value_name = "MIB")]
    pub max_inflight_body_mib: Option<u64>,

    /// Most client connections open at once; more wait to be accepted [default: 4096]
    #[arg(long, env = "INLET_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,

    /// Seconds a client may take to send a request body; slower ones get 408 [default: 30]
    #[arg(long, env = "INLET_BODY_TIMEOUT_SECS", value_name = "SECS")]
    pub body_timeout_secs: Option<u64>,

    /// Directory of extra provider plugins (`*.wasm` components), loaded at start
    #[arg(long, env = "INLET_PLUGINS_DIR", value_name = "DIR")]
    pub plugins_dir: Option<PathBuf>,

    /// Time one plugin call may run before it is stopped, in ms [default: 50]
    #[arg(long, env = "INLET_PLUGIN_DEADLINE_MS", value_name = "MS")]
    pub plugin_deadline_ms: Option<u64>,

    /// Memory one plugin call may use, in MiB [default: 32]
    #[arg(long, env = "INLET_PLUGIN_MEMORY_MIB", value_name = "MIB")]
    pub plugin_memory_mib: Option<u64>,

    /// A destination Inlet may connect to beyond the public internet (for endpoints) and
    /// the public AWS SQS and Google Pub/Sub endpoints (for broker sources): host,
    /// host:port, *.domain[:port] or a network (10.0.0.0/8[:port]; IPv6 in brackets);
    /// repeat the flag, or separate with commas. Every Kafka broker and custom SQS or
    /// Pub/Sub endpoint must match one (names as written, never resolved); an endpoint
    /// whose address is private, loopback, link-local or a metadata service is refused,
    /// checked on each address it resolves to when connecting, unless one matches
    /// [default: none]
    #[arg(
        long,
        env = "INLET_ALLOW_OUTBOUND",
        value_name = "HOST[:PORT]",
        value_delimiter = ','
    )]
    #[serde(default)]
    pub allow_outbound: Vec<String>,

    /// Seconds a due delivery may wait for its attempt (its endpoint at its limit of
    /// attempts in flight, the worker behind) before /readyz reports unready [default: 300]
    #[arg(long, env = "INLET_MAX_DELIVERY_LAG_SECS", value_name = "SECS")]
    pub max_delivery_lag_secs: Option<u64>,

    /// Log format; the level is set with RUST_LOG (default: info) [default: human]
    #[arg(long, env = "INLET_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// The resolved settings the server runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Where `/metrics` is served when not on `listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// Base URL of the ingest URLs; `None` means `http://<bound address>`.
    pub public_url: Option<String>,
    pub max_body_bytes: u64,
    pub max_in_flight: usize,
    /// Bytes of ingest and REST request bodies held at once.
    pub max_inflight_body_bytes: u64,
    pub max_connections: usize,
    pub body_timeout: Duration,
    pub log_format: LogFormat,
    pub plugins_dir: Option<PathBuf>,
    pub plugin_limits: PluginLimits,
    /// Where broker sources and endpoints may connect beyond the public cloud endpoints
    /// and public addresses.
    pub allow_outbound: AllowList,
    /// A due delivery waiting longer makes `/readyz` unready.
    pub max_delivery_lag: Duration,
    /// From INLET_ADMIN_TOKEN; never from a file or a flag, so it stays out of `ps` output.
    pub admin_token: Option<String>,
}

impl Settings {
    /// Defaults for a data directory, as an embedding program or a test wants them.
    pub fn for_data_dir(data_dir: &Path) -> Self {
        ServeArgs {
            data_dir: Some(data_dir.to_path_buf()),
            ..Default::default()
        }
        .resolve(None)
        .expect("defaults always resolve")
    }
}

impl ServeArgs {
    /// Fills unset values from the config file, then from the defaults.
    pub fn resolve(self, admin_token: Option<String>) -> anyhow::Result<Settings> {
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str::<ServeArgs>(&text)
                    .with_context(|| format!("invalid config file {}", path.display()))?
            }
            None => ServeArgs::default(),
        };
        let listen = match self.listen.or(file.listen) {
            Some(addr) => addr,
            None => DEFAULT_LISTEN.parse()?,
        };
        let max_body_bytes = self
            .max_body_bytes
            .or(file.max_body_bytes)
            .unwrap_or(DEFAULT_MAX_BODY_BYTES);
        anyhow::ensure!(max_body_bytes > 0, "max_body_bytes must be positive");
        let max_in_flight = self
            .max_in_flight
            .or(file.max_in_flight)
            .unwrap_or(DEFAULT_MAX_IN_FLIGHT);
        anyhow::ensure!(max_in_flight > 0, "max_in_flight must be positive");
        let max_inflight_body_bytes = self
            .max_inflight_body_mib
            .or(file.max_inflight_body_mib)
            .unwrap_or(DEFAULT_MAX_INFLIGHT_BODY_MIB)
            .saturating_mul(1 << 20);
        // Else a body of the largest size accepted could never be read.
        anyhow::ensure!(
            max_inflight_body_bytes >= max_body_bytes,
            "max_inflight_body_mib must hold at least one body of max_body_bytes"
        );
        let max_connections = self
            .max_connections
            .or(file.max_connections)
            .unwrap_or(DEFAULT_MAX_CONNECTIONS);
        anyhow::ensure!(max_connections > 0, "max_connections must be positive");
        let body_timeout_secs = self
            .body_timeout_secs
            .or(file.body_timeout_secs)
            .unwrap_or(DEFAULT_BODY_TIMEOUT_SECS);
        anyhow::ensure!(body_timeout_secs > 0, "body_timeout_secs must be positive");
        let deadline_ms = self
            .plugin_deadline_ms
            .or(file.plugin_deadline_ms)
            .unwrap_or(DEFAULT_PLUGIN_DEADLINE_MS);
        let memory_mib = self
            .plugin_memory_mib
            .or(file.plugin_memory_mib)
            .unwrap_or(DEFAULT_PLUGIN_MEMORY_MIB);
        anyhow::ensure!(
            (1..=10_000).contains(&deadline_ms),
            "plugin_deadline_ms must be from 1 to 10000"
        );
        anyhow::ensure!(
            (1..=4096).contains(&memory_mib),
            "plugin_memory_mib must be from 1 to 4096"
        );
        let allow_outbound = if self.allow_outbound.is_empty() {
            file.allow_outbound
        } else {
            self.allow_outbound
        };
        let allow_outbound = AllowList::parse(&allow_outbound).map_err(anyhow::Error::msg)?;
        let max_delivery_lag_secs = self
            .max_delivery_lag_secs
            .or(file.max_delivery_lag_secs)
            .unwrap_or(DEFAULT_MAX_DELIVERY_LAG_SECS);
        anyhow::ensure!(
            max_delivery_lag_secs > 0,
            "max_delivery_lag_secs must be positive"
        );
        Ok(Settings {
            data_dir: self
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| DEFAULT_DATA_DIR.into()),
            public_url: self
                .public_url
                .or(file.public_url)
                .map(|url| url.trim_end_matches('/').to_string()),
            listen,
            metrics_listen: self.metrics_listen.or(file.metrics_listen),
            max_body_bytes,
            max_in_flight,
            max_inflight_body_bytes,
            max_connections,
            body_timeout: Duration::from_secs(body_timeout_secs),
            log_format: self.log_format.or(file.log_format).unwrap_or_default(),
            plugins_dir: self.plugins_dir.or(file.plugins_dir),
            plugin_limits: PluginLimits {
                deadline: Duration::from_millis(deadline_ms),
                memory_bytes: (memory_mib * 1024 * 1024) as usize,
            },
            allow_outbound,
            max_delivery_lag: Duration::from_secs(max_delivery_lag_secs),
            admin_token: admin_token
                .filter(|t| !t.is_empty())
                .map(checked_admin_token)
                .transpose()?,
        })
    }
}

/// A configured admin token must be as hard to guess as a generated one.
fn checked_admin_token(token: String) -> anyhow::Result<String> {
    let min = inlet_auth::MIN_ADMIN_TOKEN_LEN;
    anyhow::ensure!(
        token.len() >= min,
        "INLET_ADMIN_TOKEN is {} bytes; it must be at least {min}. Make one with \
         `openssl rand -hex 32`, or leave it unset and Inlet generates one",
        token.len()
    );
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("inlet.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:7000\"\nmax_body_bytes = 2048\nlog_format = \"json\"\n",
        )
        .unwrap();
        let cli = Cli::parse_from([
            "inlet",
            "serve",
            "--config",
            file.to_str().unwrap(),
            "--max-body-bytes",
            "4096",
        ]);
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        let settings = args.resolve(None).unwrap();
        assert_eq!(settings.listen.port(), 7000);
        assert_eq!(settings.max_body_bytes, 4096);
        assert_eq!(settings.log_format, LogFormat::Json);
        assert_eq!(settings.public_url, None);
        assert_eq!(settings.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    }

    #[test]
    fn the_body_budget_must_hold_one_largest_body() {
        let resolve = |flags: &[&str]| {
            let cli = Cli::parse_from(["inlet", "serve"].iter().chain(flags));
            let Command::Serve(args) = cli.command else {
                panic!("not serve")
            };
            args.resolve(None)
        };
        assert_eq!(
            resolve(&[]).unwrap().max_inflight_body_bytes,
            DEFAULT_MAX_INFLIGHT_BODY_MIB << 20
        );
        let error = resolve(&["--max-inflight-body-mib", "1"]).unwrap_err();
        assert!(
            error.to_string().contains("max_inflight_body_mib"),
            "{error}"
        );
        let settings = resolve(&[
            "--max-inflight-body-mib",
            "1",
            "--max-body-bytes",
            "1048576",
        ]);
        assert_eq!(settings.unwrap().max_inflight_body_bytes, 1 << 20);
    }

    #[test]
    fn unknown_file_settings_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("inlet.toml");
        std::fs::write(&file, "listn = \"127.0.0.1:7000\"\n").unwrap();
        let args = ServeArgs {
            config: Some(file),
            ..Default::default()
        };
        assert!(format!("{:#}", args.resolve(None).unwrap_err()).contains("listn"));
    }

    #[test]
    fn a_short_admin_token_is_refused_with_how_to_make_one() {
        let error = ServeArgs::default()
            .resolve(Some("change-me".into()))
            .unwrap_err();
        assert!(
            error.to_string().contains("openssl rand -hex 32"),
            "{error}"
        );
        let long = "x".repeat(32);
        let settings = ServeArgs::default().resolve(Some(long.clone())).unwrap();
        assert_eq!(settings.admin_token, Some(long));
    }

    #[test]
    fn outbound_destinations_come_from_repeated_flags_or_the_file_and_bad_ones_are_refused() {
        use inlet_model::outbound::Destination;
        let to = |host: &str, port| Destination {
            host: host.into(),
            port,
        };
        let cli = Cli::parse_from([
            "inlet",
            "serve",
            "--allow-outbound",
            "kafka-1:9092,kafka-2:9092",
            "--allow-outbound",
            "*.sqs.internal",
        ]);
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        let allowed = args.resolve(None).unwrap().allow_outbound;
        assert!(allowed.allows(&to("kafka-2", 9092)));
        assert!(allowed.allows(&to("a.sqs.internal", 443)));
        assert!(!allowed.allows(&to("kafka-3", 9092)));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("inlet.toml");
        std::fs::write(&file, "allow_outbound = [\"127.0.0.1\"]\n").unwrap();
        let args = ServeArgs {
            config: Some(file),
            ..Default::default()
        };
        let allowed = args.resolve(None).unwrap().allow_outbound;
        assert!(allowed.allows(&to("127.0.0.1", 4566)));

        let args = ServeArgs {
            allow_outbound: vec!["http://10.0.0.1".into()],
            ..Default::default()
        };
        let error = args.resolve(None).unwrap_err().to_string();
        assert!(
            error.contains("--allow-outbound \"http://10.0.0.1\""),
            "{error}"
        );
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
