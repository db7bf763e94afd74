//! Starting and stopping the server: open the store, settle the admin token, bind, serve.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

use crate::auth::Auth;
use crate::broker::Brokers;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::plugin::PluginHost;
use crate::store::Store;

/// What every handler shares.
pub struct AppState {
    pub store: Arc<Store>,
    /// The consumers of `pub_sub` sources.
    pub brokers: Brokers,
    pub metrics: Arc<Metrics>,
    pub auth: Auth,
    pub plugins: PluginHost,
    pub settings: Settings,
    /// Base of every source's public ingest URL.
    pub public_url: String,
    /// Bounds requests in flight, and so the memory their bodies can take.
    pub in_flight: Semaphore,
}

pub struct RunningServer {
    pub addr: SocketAddr,
    /// The admin token when it was generated at this start (printed once), else `None`.
    pub generated_admin_token: Option<String>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    state: Arc<AppState>,
}

pub async fn start(settings: Settings) -> anyhow::Result<RunningServer> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            settings.data_dir.display()
        )
    })?;
    let metrics = Arc::new(Metrics::default());
    let store = Arc::new(Store::open(
        &settings.data_dir.join("store"),
        metrics.clone(),
    )?);
    let plugins = PluginHost::load(
        settings.plugins_dir.as_deref(),
        &settings.data_dir.join("plugin-cache"),
        settings.plugin_limits.clone(),
        metrics.clone(),
    )?;
    let (auth, generated_admin_token) = Auth::init(&store, settings.admin_token.as_deref()).await?;
    if let Some(token) = &generated_admin_token {
        // Printed, never logged: this is the only time the plaintext exists.
        println!(
            "Generated the admin token (shown only this once; only its hash is stored):\n\n    {token}\n\n\
             Keep it safe. To replace it, set INLET_ADMIN_TOKEN."
        );
    }
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %settings.data_dir.display(), "inlet is listening");

    let public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let brokers = Brokers::new(store.clone(), metrics.clone());
    brokers.start_all().await?;
    let state = Arc::new(AppState {
        brokers,
        public_url,
        plugins,
        in_flight: Semaphore::new(settings.max_in_flight),
        store,
        metrics,
        auth,
        settings,
    });
    let app = crate::api::router(state.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(RunningServer {
        addr,
        generated_admin_token,
        stop,
        task,
        state,
    })
}

impl RunningServer {
    /// Stops accepting connections and lets requests in flight finish (each one's write
    /// completes and is answered); stops the broker consumers (each stores what it holds,
    /// commits, and leaves); then closes the store.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        let served = self.task.await;
        self.state.brokers.shutdown().await;
        served??;
        Ok(())
    }
}
