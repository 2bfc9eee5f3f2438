//! Token fetch (RS256 signing + a POST to a local token endpoint) and cached-token reads.
//!
//! `cargo bench -p kav-google-auth --bench token`

use std::hint::black_box;

use axum::Router;
use axum::routing::post;
use criterion::{Criterion, criterion_group, criterion_main};
use kav_google_auth::ServiceAccountAuth;

const TEST_KEY_PEM: &str = include_str!("../tests/fixtures/test-key.pem");

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let url = rt.block_on(async {
        let app = Router::new().route(
            "/token",
            post(|| async {
                axum::Json(serde_json::json!({
                    "access_token": "ya29.bench", "expires_in": 3599, "token_type": "Bearer"
                }))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    });
    let key = serde_json::json!({
        "type": "service_account",
        "private_key_id": "bench",
        "private_key": TEST_KEY_PEM,
        "client_email": "bench@kav.iam.gserviceaccount.com",
        "token_uri": url,
    })
    .to_string();
    let sa = ServiceAccountAuth::from_json(&key, reqwest::Client::new()).unwrap();

    c.bench_function("token_fetch_sign_and_post", |b| {
        b.iter(|| {
            rt.block_on(async {
                sa.invalidate().await;
                black_box(sa.access_token().await.unwrap())
            })
        });
    });
    c.bench_function("token_cached", |b| {
        b.iter(|| rt.block_on(async { black_box(sa.access_token().await.unwrap()) }));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
