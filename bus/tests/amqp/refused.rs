//! What RabbitMQ refuses for good: the publish answers at once with
//! `Refused`, and the connection goes on serving.

use funcmesh_bus::{ConsumeOptions, Error, Message, QueueSpec};

use crate::RabbitMq;
use crate::contract::Run;

/// An expiry RabbitMQ does not take (it closes the publishing channel with
/// 406 PRECONDITION_FAILED) is a refusal, not an outage: the caller is not
/// told to try again, and the next publish goes through on a new channel.
#[tokio::test]
async fn an_expiration_the_broker_does_not_take_is_refused_and_the_bus_goes_on() {
    let Some(run) = Run::<RabbitMq>::start().await else {
        return;
    };
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    for _ in 0..3 {
        let err = bus
            .publish("q", Message::new("never").expires_at_ms(u64::MAX))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Refused(_)), "{err}");
        bus.publish("q", Message::new("fine")).await.unwrap();
    }
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    for _ in 0..3 {
        let d = run.next(&mut c).await;
        assert_eq!(d.bytes(), "fine");
        d.ack().await.unwrap();
    }
    run.finish().await;
}
