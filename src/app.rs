//! Application assembly: state, routes, middleware, listener and graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use poem::listener::{Acceptor, AcceptorExt, BoxAcceptor, Listener, TcpListener};
use poem::{Endpoint, EndpointExt, IntoResponse, Route, Server};

use crate::config::{AppEnv, Config};
use crate::db::{now, Backend, Pool};
use crate::http::compress::{compress, StaticBody, Wanted};
use crate::http::conn::{fit_open_files, guard, Connections, GuardedAcceptor, RequestGuard};
use crate::http::cors::CorsPolicy;
use crate::http::docs;
use crate::http::headers::SecurityHeaders;
use crate::http::middleware::{handle, HttpContext};
use crate::http::rate_limit::AuthRateLimiter;
use crate::http::routes::RouteTable;
use crate::http::tls;
use crate::openapi::{api_service, spec_document, Api};
use crate::state::AppState;
use poem_openapi::OpenApiService;

/// The whole HTTP application over `state`, serving `connections`.
pub fn endpoint(state: AppState, connections: Arc<Connections>) -> impl Endpoint {
    let svc = api_service(&state);
    let spec = spec_document(&svc);
    let requests = Arc::new(RequestGuard::new(connections.clone(), &spec));
    // Instances on one PostgreSQL database share their buckets; SQLite serves one.
    let shared_limits =
        (state.db.backend() == Backend::Postgres).then(|| state.stores.rate_limits.clone());
    let ctx = Arc::new(HttpContext {
        routes: RouteTable::from_spec(&spec),
        metrics: state.metrics.clone(),
        cors: CorsPolicy::new(&state.config.cors_origins, &state.config.cors_allow_headers),
        limiter: AuthRateLimiter::new(
            state.config.auth_rate_limit_per_minute,
            shared_limits,
            state.config.rate_limit_ipv6_prefix,
        ),
        trusted_proxies: state.config.trusted_proxies.clone(),
        headers: SecurityHeaders::new(state.config.app_env == AppEnv::Production),
    });
    spawn_housekeeping(state.clone(), ctx.clone());
    let (docs, redoc) = doc_pages(&svc, &spec);
    let favicon = StaticBody::new("image/svg+xml", docs::FAVICON_SVG);
    let spec_json = StaticBody::new("application/json", spec.to_string());
    let spec_yaml = StaticBody::new(
        "application/x-yaml",
        serde_yaml::to_string(&spec).unwrap_or_default(),
    );
    Route::new()
        .nest("/", svc)
        .nest("/docs", poem::get(docs))
        .nest("/redoc", poem::get(redoc))
        .at("/openapi.json", poem::get(spec_json))
        .at("/openapi.yaml", poem::get(spec_yaml))
        .at("/favicon.ico", poem::get(favicon))
        .at(
            "/metrics",
            poem::get(metrics_endpoint(state.clone(), connections)),
        )
        .data(state)
        .around(move |ep, req| handle(ep, req, ctx.clone()))
        .around(|ep, req| async move {
            let wanted = Wanted::of(&req);
            let resp = ep.call(req).await?.into_response();
            Ok(compress(wanted, resp).await)
        })
        .around(move |ep, req| guard(ep, req, requests.clone()))
}

/// `/docs` (Swagger UI and its assets) and `/redoc`, both showing the refined document
/// `spec` (poem-openapi's ReDoc page embeds its raw one).
fn doc_pages(svc: &OpenApiService<Api, ()>, spec: &serde_json::Value) -> (Route, impl Endpoint) {
    let raw = svc.spec();
    // ReDoc's page would fetch web fonts from a third-party host; it renders without them.
    let redoc_page = svc
        .redoc_html()
        .lines()
        .filter(|l| !l.contains("fonts.googleapis.com"))
        .collect::<Vec<_>>()
        .join("\n");
    let redoc = docs::with_document(&redoc_page, &raw, spec, "Redoc")
        .expect("poem-openapi's ReDoc page embeds its document");
    let page = StaticBody::new("text/html; charset=utf-8", docs::swagger_page(spec));
    let mut docs = Route::new().at("/", poem::get(page));
    for (name, content_type, content) in docs::SWAGGER_UI_ASSETS {
        // Asked for with the version as query (see `docs::swagger_page`).
        let asset = StaticBody::new(content_type, *content).immutable();
        docs = docs.at(format!("/{name}"), poem::get(asset));
    }
    (docs, StaticBody::new("text/html; charset=utf-8", redoc))
}

/// `GET /metrics`: the Prometheus text format, with fresh pool and connection gauges.
fn metrics_endpoint(state: AppState, connections: Arc<Connections>) -> impl Endpoint {
    poem::endpoint::make_sync(move |_| {
        let (size, idle) = state.db.pool_stats();
        state.metrics.set_pool(size, idle);
        let breaker = state.db.guard().breaker_state();
        state.metrics.set_breaker_state(breaker.as_str());
        let live = state.sessions.is_live();
        state
            .metrics
            .set_server_state(connections.open_count(), live);
        poem::Response::builder()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(state.metrics.render())
    })
}

/// Periodically purges expired revocations/sessions and idle rate-limit buckets.
fn spawn_housekeeping(state: AppState, ctx: Arc<HttpContext>) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = Arc::downgrade(&ctx);
    drop(ctx);
    rt.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            let Some(ctx) = weak.upgrade() else { break };
            ctx.limiter.forget_idle();
            let at = now();
            let cutoff = at - chrono::Duration::minutes(state.config.access_token_minutes);
            match state.stores.sessions.purge_expired(at, cutoff).await {
                Ok(n) if n > 0 => {
                    tracing::info!(rows = n, "purged expired sessions and revocations")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purging expired tokens failed"),
            }
            match state.stores.rate_limits.purge_full_buckets(at).await {
                Ok(n) if n > 0 => tracing::info!(rows = n, "purged idle rate-limit buckets"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purging rate-limit buckets failed"),
            }
        }
    });
}

/// Binds the configured address: plain TCP, or TLS when `TLS_CERT_FILE` and
/// `TLS_KEY_FILE` are set (a bad certificate or key stops the start-up here).
async fn bind(config: &Config) -> anyhow::Result<BoxAcceptor> {
    let tcp = TcpListener::bind((config.host, config.port));
    let Some(files) = &config.tls else {
        return Ok(tcp.into_acceptor().await?.boxed());
    };
    let mut acceptor = tcp
        .rustls(files.rustls_config()?)
        .into_acceptor()
        .await
        .context("TLS_CERT_FILE / TLS_KEY_FILE: not a usable certificate chain and key")?;
    tls::load_config_now(&mut acceptor).await;
    Ok(acceptor.boxed())
}

/// A bound, migrated, ready-to-run service instance.
pub struct App {
    acceptor: BoxAcceptor,
    state: AppState,
    port: u16,
}

impl App {
    /// Connects the database, applies migrations (unless disabled) and binds the port.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let pool = Pool::connect_with(&config.database_url, config.pool_size, &config.db).await?;
        if config.migrate_on_start {
            pool.migrate_up().await?;
        }
        let acceptor = bind(&config).await?;
        let port = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().map(|s| s.port()))
            .unwrap_or(config.port);
        let state = AppState::new(config, &pool)?;
        if state.listener.is_some() && !state.sessions.wait_live(Duration::from_secs(5)).await {
            tracing::warn!(
                "session cache listener not connected yet; tokens are checked in the database"
            );
        }
        Ok(App {
            acceptor,
            state,
            port,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests (up to 10 s).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> std::io::Result<()> {
        let settings = self.state.config.connections;
        // The pool, the session listener, SQLite's files, logs and exporters.
        let reserve = self.state.config.pool_size as usize + 64;
        let max = fit_open_files(settings.max_connections, reserve);
        let connections = Connections::new(settings, max, self.state.metrics.clone());
        let acceptor = GuardedAcceptor::new(self.acceptor, connections.clone());
        let app = endpoint(self.state, connections);
        Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(app, shutdown, Some(Duration::from_secs(10)))
            .await
    }
}
