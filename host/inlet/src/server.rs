//! Starting and stopping the server: open the store, settle the admin token, load the
//! plugins, start the broker consumers, bind, serve; and the reverse.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use inlet_admin::Admin;
use inlet_auth::Auth;
use inlet_brokers::Brokers;
use inlet_delivery::connect::Policy;
use inlet_delivery::send::Sender;
use inlet_dispatch::Dispatcher;
use inlet_intake::{Intake, IntakeLimits};
use inlet_metrics::Metrics;
use inlet_plugin_host::PluginHost;
use inlet_store::Store;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::routes::Surface;

pub struct RunningServer {
    pub addr: SocketAddr,
    /// The `--metrics-listen` listener's address, when there is one.
    pub metrics_addr: Option<SocketAddr>,
    /// The file the admin token was written to when it was generated at this start.
    pub generated_admin_token_file: Option<std::path::PathBuf>,
    /// One per listener.
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
    brokers: Arc<Brokers>,
    /// Stops the delivery worker, which then finishes its attempts in flight, and the job
    /// runner, which finishes its page in progress.
    stop_delivery: CancellationToken,
    delivering: JoinHandle<()>,
    /// Stops the retention sweeper (`Store::sweep_retention`).
    stop_retention: CancellationToken,
    sweeping: JoinHandle<()>,
    running_jobs: JoinHandle<()>,
}

/// Where, in the data directory, a generated admin token is written.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

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
        store.plugin_cache_mac_key().await?,
        settings.plugin_limits.clone(),
        metrics.clone(),
    )?);
    let token_file = settings.data_dir.join(ADMIN_TOKEN_FILE);
    let (auth, generated_admin_token_file) =
        Auth::init(&store, settings.admin_token.as_deref(), &token_file).await?;
    let auth = Arc::new(auth);
    if let Some(path) = &generated_admin_token_file {
        // The path, never the token: stdout is the log stream.
        tracing::info!(
            path = %path.display(),
            "generated the admin token and wrote it to this file (readable by its owner only; \
             only its hash is stored). Move it somewhere safe, or set INLET_ADMIN_TOKEN instead"
        );
    }
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %settings.data_dir.display(), "inlet is listening");
    let metrics_listener = match settings.metrics_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (--metrics-listen)"))?,
        ),
        None => None,
    };

    let public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let brokers = Arc::new(Brokers::new(
        store.clone(),
        metrics.clone(),
        settings.allow_outbound.clone(),
    ));
    brokers.start_all().await?;
    let outbound = Arc::new(Policy::new(settings.allow_outbound.clone()));
    let dispatcher = Dispatcher::new(
        store.clone(),
        Sender::new(outbound.clone())?,
        metrics.clone(),
        settings.max_delivery_lag,
    );
    let stop_delivery = CancellationToken::new();
    let delivering = tokio::spawn(dispatcher.clone().run(stop_delivery.clone()));
    let stop_retention = CancellationToken::new();
    let sweeping = tokio::spawn(
        store
            .clone()
            .sweep_retention(metrics.clone(), stop_retention.clone().cancelled_owned()),
    );
    let running_jobs = tokio::spawn(inlet_dispatch::jobs::run(
        store.clone(),
        stop_delivery.clone(),
    ));
    let intake = Intake::new(
        store.clone(),
        auth.clone(),
        plugins.clone(),
        metrics.clone(),
        &public_url,
        IntakeLimits {
            max_body_bytes: settings.max_body_bytes,
            body_timeout: settings.body_timeout,
            max_inflight_body_bytes: settings.max_inflight_body_bytes,
        },
    );
    let admin = Admin::new(
        store.clone(),
        auth,
        plugins,
        brokers.clone(),
        metrics.clone(),
        outbound.clone(),
        public_url,
        settings.body_timeout,
    );
    let surface = Arc::new(Surface {
        store,
        dispatcher,
        metrics,
        in_flight: Semaphore::new(settings.max_in_flight),
    });
    let app = crate::routes::router(
        surface.clone(),
        inlet_intake::router(Arc::new(intake)),
        inlet_admin::router(Arc::new(admin)),
        metrics_listener.is_none(),
    );
    let mut listeners = vec![(listener, app)];
    let metrics_addr = match metrics_listener {
        Some(listener) => {
            let addr = listener.local_addr()?;
            tracing::info!(%addr, "/metrics is served on its own listener");
            listeners.push((listener, crate::routes::metrics_router(surface)));
            Some(addr)
        }
        None => None,
    };
    let (stops, tasks) = listeners
        .into_iter()
        .map(|(listener, app)| {
            let (stop, stopped) = oneshot::channel::<()>();
            let serving = crate::serve::serve(listener, app, settings.max_connections, stopped);
            (stop, tokio::spawn(serving))
        })
        .unzip();
    Ok(RunningServer {
        addr,
        metrics_addr,
        generated_admin_token_file,
        stops,
        tasks,
        brokers,
        stop_delivery,
        delivering,
        stop_retention,
        sweeping,
        running_jobs,
    })
}

/// How long a graceful stop waits for HTTP requests in flight. Brokers get their own time
/// after it (`inlet_brokers::STOP_TIMEOUT`), so a slow request cannot cost the final Kafka
/// commit and group leave.
pub const HTTP_DRAIN_GRACE: Duration = Duration::from_secs(30);

impl RunningServer {
    /// Stops accepting connections and lets requests in flight finish (each one's write
    /// completes and is answered), for at most [`HTTP_DRAIN_GRACE`]; then stops the broker
    /// consumers (each stores what it holds, commits, and leaves) within their own time;
    /// then the delivery worker (which waits a little for its attempts in flight: one not
    /// stored is attempted again after the restart) and the retention sweeper (it stops
    /// between two writes); then closes the store. A request still unanswered was never acknowledged, so its
    /// sender retries: abandoning it loses nothing.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        for stop in self.stops {
            let _ = stop.send(());
        }
        let deadline = tokio::time::Instant::now() + HTTP_DRAIN_GRACE;
        for mut task in self.tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                tracing::warn!(
                    "requests still in flight after {HTTP_DRAIN_GRACE:?}; abandoning them"
                );
                task.abort();
            }
        }
        self.brokers.shutdown().await;
        self.stop_delivery.cancel();
        let _ = self.delivering.await;
        self.stop_retention.cancel();
        let _ = self.sweeping.await;
        let _ = self.running_jobs.await;
        Ok(())
    }
}
