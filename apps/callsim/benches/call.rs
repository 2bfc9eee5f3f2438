//! The cost of one simulated call against an in-process agent (loopback HTTP): what an
//! end-to-end test or a load run pays per call on top of the agent's own work.

use std::hint::black_box;

use axum::Router;
use axum::http::header;
use axum::routing::post;
use criterion::{Criterion, criterion_group, criterion_main};
use kav_callsim::{CallScript, SecretString, SimConfig, Simulator, Turn};

fn call(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(async {
        let xml = |body: &'static str| {
            post(move || async move { ([(header::CONTENT_TYPE, "text/xml")], body) })
        };
        let app = Router::new()
            .route(
                "/webhook/incoming_call",
                xml("<Response><Gather input=\"dtmf\" action=\"/webhook/gather\"><Say>Menu</Say></Gather></Response>"),
            )
            .route(
                "/webhook/gather",
                xml("<Response><Gather input=\"dtmf\" action=\"/webhook/gather\"><Say>Again</Say></Gather></Response>"),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    });
    let config = SimConfig::new(
        &server,
        "https://agent.example.com",
        SecretString::from("token".to_owned()),
    )
    .expect("config");
    let client = Simulator::build_client(&config).expect("client");
    let simulator = Simulator::new(config).with_client(client);
    // Three webhooks per call: incoming, then two Gather actions; the caller hangs up at the third.
    let script = CallScript::new()
        .turn(Turn::digits("1"))
        .turn(Turn::digits("2"));
    c.bench_function("gather_call_3_webhooks", |b| {
        b.iter(|| {
            let report = runtime
                .block_on(simulator.run(black_box(&script)))
                .expect("call");
            black_box(report)
        });
    });
}

criterion_group!(benches, call);
criterion_main!(benches);
