//! Membership by DNS name, and how the ring follows health.

use http::StatusCode;
use superpower::Settings;

use crate::helpers::{spawn_app, test_settings, TestFleet};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dns_name_is_resolved_to_members() {
    let fleet = TestFleet::start(1);
    let port = fleet.instances[0].addr.port();
    let mut settings: Settings = test_settings(Vec::new());
    settings.powersource_dns = Some(format!("localhost:{port}"));
    settings.dns_interval = std::time::Duration::from_millis(100);
    let app = spawn_app(settings).await;
    // localhost may resolve to 127.0.0.1 and ::1; the instance listens on 127.0.0.1 only
    app.wait_for_ring(1).await;
    assert!(app
        .state
        .powersource
        .fleet()
        .instances()
        .iter()
        .any(|i| i.name() == format!("127.0.0.1:{port}")));
    let a = app.superpower_json(None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_is_refused_clearly() {
    for dns in ["nocolon", ":80", "host:notaport"] {
        let mut s = test_settings(Vec::new());
        s.powersource_dns = Some(dns.into());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let err = superpower::Application::build(s, l)
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("HOST:PORT"), "{err}");
    }
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = superpower::Application::build(test_settings(vec!["ftp://x".into()]), l)
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("ftp://x"));
    // credentials would end up in the public /metrics label and the logs: refused, not shown
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = superpower::Application::build(
        test_settings(vec!["http://admin:hunter2@127.0.0.1:6061".into()]),
        l,
    )
    .await
    .err()
    .expect("refused");
    let err = service::telemetry::error_chain(&err);
    assert!(err.contains("credentials"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_leaves_the_ring_and_rejoins_when_healthy() {
    let mut fleet = TestFleet::start(3);
    let app = spawn_app(test_settings(fleet.urls())).await;
    app.wait_for_ring(3).await;
    fleet.instances[1].kill();
    app.wait_for_ring(2).await;
    fleet.instances[1].restart();
    app.wait_for_ring(3).await;
}
