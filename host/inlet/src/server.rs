//! Starting and stopping the server: open the store, settle the admin token, load the
//! plugins, start the broker consumers, bind, serve; and the reverse.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use inlet_admin::Admin;
use inlet_auth::Auth;
use inlet_brokers::Brokers;
use inlet_intake::Intake;
use inlet_metrics::Metrics;
use inlet_plugin_host::PluginHost;
use inlet_store::Store;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

use crate::config::Settings;
use crate::routes::Surface;

pub struct RunningServer {
    pub addr: SocketAddr,
    /// The admin token when it was generated at this start (printed once), else `None`.
    pub generated_admin_token: Option<String>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    brokers: Arc<Brokers>,
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
    let plugins = Arc::new(PluginHost::load(
        settings.plugins_dir.as_deref(),
        &settings.data_dir.join("plugin-cache"),
        settings.plugin_limits.clone(),
        metrics.clone(),
    )?);
    let (auth, generated_admin_token) = Auth::init(&store, settings.admin_token.as_deref()).await?;
    let auth = Arc::new(auth);
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
    let brokers = Arc::new(Brokers::new(store.clone(), metrics.clone()));
    brokers.start_all().await?;
    let intake = Intake::new(
        store.clone(),
        auth.clone(),
        plugins.clone(),
        metrics.clone(),
        settings.max_body_bytes,
        settings.body_timeout,
    );
    let admin = Admin::new(
        store.clone(),
        auth,
        plugins,
        brokers.clone(),
        metrics.clone(),
        public_url,
        settings.body_timeout,
    );
    let surface = Surface {
        store,
        metrics,
        in_flight: Semaphore::new(settings.max_in_flight),
    };
    let app = crate::routes::router(
        Arc::new(surface),
        inlet_intake::router(Arc::new(intake)),
        inlet_admin::router(Arc::new(admin)),
    );
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
        brokers,
    })
}

impl RunningServer {
    /// Stops accepting connections and lets requests in flight finish (each one's write
    /// completes and is answered); stops the broker consumers (each stores what it holds,
    /// commits, and leaves); then closes the store.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        let served = self.task.await;
        self.brokers.shutdown().await;
        served??;
        Ok(())
    }
}
