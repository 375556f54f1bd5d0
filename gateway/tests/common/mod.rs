//! Shared by the gateway's test binaries: a gateway served by
//! [`filieris_gateway::serve`] on a free port, ready once `/readyz` answers.

use filieris_gateway::GatewayConfig;
use filieris_runtime::config::Env;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Stops the served gateway: explicitly with [`Stopper::stop`], or when dropped
/// (the shutdown signal then fires, and in-flight calls get the grace period).
pub struct Stopper {
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Stopper {
    /// Sends the shutdown signal and waits for `serve` to return.
    #[allow(dead_code)] // Only some test binaries stop the gateway by hand.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.server.await?
    }
}

/// Serves a gateway configured by `pairs` and returns its base URL once it is
/// ready; a gateway that fails to start fails the test with its error.
pub async fn serve(pairs: Vec<(String, String)>) -> (String, Stopper) {
    let config = GatewayConfig::from_env(&Env::from_pairs(pairs)).expect("config");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(filieris_gateway::serve(listener, config, async move {
        let _ = stopped.await;
    }));
    // The listener queues connections while the gateway starts.
    loop {
        if server.is_finished() {
            match server.await {
                Ok(Err(e)) => panic!("gateway failed to start: {e:#}"),
                other => panic!("gateway stopped during its start: {other:?}"),
            }
        }
        if let Ok(r) = reqwest::get(format!("{base}/readyz")).await
            && r.status() == 200
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    (base, Stopper { stop, server })
}
