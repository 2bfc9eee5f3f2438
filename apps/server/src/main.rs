//! `kav-server`: the reference server. Configuration comes from the environment (see the
//! README); a bad value stops start-up with one line on stderr and exit code 2.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use kav_server::{AppState, Config, Store, error_chain, startup_summary};
use tracing_subscriber::EnvFilter;

/// Exit code for a configuration error.
const EXIT_CONFIG: u8 = 2;
/// Exit code when the store or the listener cannot be set up, or the server fails.
const EXIT_RUNTIME: u8 = 1;

fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("kav-server: configuration error: {}", error_chain(&error));
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("kav-server: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(line) => {
            tracing::error!("{line}");
            eprintln!("kav-server: {line}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

async fn run(config: Config) -> Result<(), String> {
    let store = Store::connect(
        secrecy::ExposeSecret::expose_secret(config.database_url()),
        config.data_dir(),
    )
    .await
    .map_err(|e| error_chain(&e))?;
    let (info, warnings) = startup_summary(&config, &store);
    tracing::info!("kav-server {} starting", env!("CARGO_PKG_VERSION"));
    for line in info {
        tracing::info!("{line}");
    }
    for line in warnings {
        tracing::warn!("{line}");
    }
    let addr = config.listen_addr();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("LISTEN_ADDR: cannot listen on {addr}: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    tracing::info!("listening on http://{local}");

    let grace = config.shutdown_grace();
    let state = AppState::new(config, store.clone());
    // Post-call jobs (transcription of full-call recordings) run beside the server.
    let worker = kav_server::worker::spawn(state.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut server = tokio::spawn(kav_server::serve(listener, state, async {
        let _ = stop_rx.await;
    }));
    let result = tokio::select! {
        done = &mut server => Some(done),
        () = shutdown_signal() => None,
    };
    let result = match result {
        Some(done) => done,
        None => {
            tracing::info!(
                grace_secs = grace.as_secs(),
                "shutting down: no new connections, finishing requests in flight"
            );
            let _ = stop_tx.send(());
            match tokio::time::timeout(grace, &mut server).await {
                Ok(done) => done,
                Err(_) => {
                    tracing::warn!("requests still running after the grace period; stopping");
                    server.abort();
                    Ok(Ok(()))
                }
            }
        }
    };
    // The worker gives the job it is running back to the queue (unfinished, its attempt not
    // counted). Had it died instead, the job's lock would expire and another worker (or this
    // one after a restart) would take it again; nothing else needs undoing.
    if tokio::time::timeout(grace, worker.stop()).await.is_err() {
        tracing::warn!("the background worker did not stop in time; its job's lock will expire");
    }
    store.close().await;
    match result {
        Ok(Ok(())) => {
            tracing::info!("stopped");
            Ok(())
        }
        Ok(Err(e)) => Err(format!("server error: {e}")),
        Err(e) => Err(format!("server task failed: {e}")),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
