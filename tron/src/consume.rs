//! The consumer loop the dispatcher and the dead-letter consumer share.

use std::future::Future;

use funcmesh_bus::{Bus, ConsumeOptions, Delivery};

/// Consumes `queue`, handing each delivery to `handle` in turn, until
/// `shutdown` resolves or the bus closes. A failed receive is logged (as
/// `what`) and the loop goes on.
pub(crate) async fn each_delivery<F, Fut>(
    bus: &dyn Bus,
    queue: &str,
    prefetch: u16,
    what: &str,
    shutdown: impl Future<Output = ()>,
    mut handle: F,
) -> funcmesh_bus::Result<()>
where
    F: FnMut(Delivery) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut consumer = bus.consume(queue, ConsumeOptions { prefetch }).await?;
    tokio::pin!(shutdown);
    loop {
        let delivery = tokio::select! {
            () = &mut shutdown => return Ok(()),
            next = consumer.next() => match next {
                Some(Ok(delivery)) => delivery,
                Some(Err(error)) => {
                    tracing::warn!(%error, "{what} consumer error");
                    continue;
                }
                None => return Ok(()),
            },
        };
        handle(delivery).await;
    }
}
