use clap::Parser;
use inlet::config::{Cli, Command, LogFormat, default_plugin_limits};

/// How long the exit waits for blocking work still running after a graceful shutdown: a
/// Kafka consumer whose broker went away can wait in its close for as long as the broker
/// stays away, and what it holds was never acknowledged.
const EXIT_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let served = runtime.block_on(serve());
    runtime.shutdown_timeout(EXIT_GRACE);
    served
}

async fn serve() -> anyhow::Result<()> {
    let Cli { command } = Cli::parse();
    match command {
        Command::Serve(args) => {
            let settings = args.resolve(std::env::var("INLET_ADMIN_TOKEN").ok())?;
            init_logging(settings.log_format);
            let server = inlet::server::start(settings).await?;
            shutdown_signal().await;
            tracing::info!("shutting down: finishing requests in flight, then brokers");
            server.shutdown().await
        }
        Command::CheckPlugin { file } => {
            let checked = inlet_plugin_host::PluginHost::check_file(&file, default_plugin_limits())
                .map_err(|e| anyhow::anyhow!("Inlet would refuse {}: {e:#}", file.display()))?;
            println!("{}", serde_json::to_string_pretty(&checked)?);
            Ok(())
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a terminal: log files and collectors get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("cannot listen for SIGTERM");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
