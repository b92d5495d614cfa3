//! The HTTP listener: accepts connections and serves the router on each
//! with hyper's HTTP/1 server, with the timeouts a server on an open
//! network needs and `axum::serve` does not set.
//!
//! - `--web.read-timeout` (Prometheus's flag, default 5m) bounds how long
//!   a client may take to send a request's headers, and how long an idle
//!   keep-alive connection stays open (hyper's header-read timer runs
//!   from the moment the connection waits for the next request). Half-sent
//!   requests are therefore closed, not kept forever.
//! - The same duration bounds the pause between two pieces of a request
//!   body ([`tower_http::timeout::RequestBodyTimeoutLayer`], applied by
//!   [`with_read_timeout`]).
//! - A failed `accept` (out of file descriptors) is logged and retried
//!   after a pause instead of ending the server or spinning.
//!
//! Shutdown is graceful: the listener closes, in-flight requests finish,
//! idle connections close.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tower::ServiceExt;

/// Pause after a failed `accept`: the usual cause is running out of file
/// descriptors, which only closing connections cures.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `shutdown` completes, then waits for
/// the requests in flight. Each request carries the peer's address as
/// [`ConnectInfo`] (the query log's `clientIP`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting an HTTP connection failed; retrying");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            app.clone().oneshot(req)
        });
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // Errors here are the client's (reset, timed out, malformed
            // request); hyper has already answered what deserved an answer.
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "HTTP connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// `app` with request bodies that must keep arriving: a body that pauses
/// longer than `read_timeout` between two pieces fails its read, and the
/// handler answers with an error instead of waiting forever.
pub fn with_read_timeout(app: Router, read_timeout: Duration) -> Router {
    app.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        read_timeout,
    ))
}
