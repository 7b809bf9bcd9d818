//! Following the trons' routing tables, as gateways and runners do.

use std::sync::Arc;
use std::time::Duration;

use funcmesh_bus::Bus;
use tokio::sync::watch;

use super::{HELLO_TOPIC, Hello, ROUTES_TOPIC, RoutesAnnouncement};

/// How often a process that has no table yet says hello again.
const HELLO_EVERY: Duration = Duration::from_secs(1);

/// The latest routing table announced, `None` until the first arrives. The
/// task that follows the announcements stops when every receiver is gone.
pub async fn follow(
    bus: Arc<dyn Bus>,
    component: &str,
    id: &str,
) -> funcmesh_bus::Result<watch::Receiver<Option<Arc<RoutesAnnouncement>>>> {
    let mut announcements = bus.listen(ROUTES_TOPIC).await?;
    let (tx, rx) = watch::channel(None);
    let hello = super::encode(&Hello {
        component: component.to_owned(),
        id: id.to_owned(),
    });
    tokio::spawn(async move {
        let mut again = tokio::time::interval(HELLO_EVERY);
        loop {
            let delivery = tokio::select! {
                () = tx.closed() => return,
                _ = again.tick(), if tx.borrow().is_none() => {
                    if let Err(error) = bus.broadcast(HELLO_TOPIC, hello.clone()).await {
                        tracing::debug!(%error, "hello not sent; the bus is not up yet");
                    }
                    continue;
                }
                next = announcements.next() => match next {
                    Some(Ok(delivery)) => delivery,
                    Some(Err(error)) => {
                        tracing::warn!(%error, "receiving routing tables failed");
                        continue;
                    }
                    None => return,
                },
            };
            let Some(fresh) = super::decode::<RoutesAnnouncement>(ROUTES_TOPIC, &delivery.bytes())
            else {
                continue;
            };
            super::log_level::apply(&fresh.log_levels);
            tx.send_if_modified(|current| {
                if !newer(current.as_deref(), &fresh) {
                    return false;
                }
                tracing::debug!(tron = %fresh.tron, generation = fresh.table.generation, routes = fresh.table.routes.len(), "routing table updated");
                *current = Some(Arc::new(fresh));
                true
            });
        }
    });
    Ok(rx)
}

/// Whether `fresh` should replace `current`: another table, from another
/// tron (one that restarted counts its generations afresh) or a later
/// generation of the same one.
fn newer(current: Option<&RoutesAnnouncement>, fresh: &RoutesAnnouncement) -> bool {
    let Some(current) = current else {
        return true;
    };
    let same_tron = current.tron == fresh.tron;
    if same_tron && fresh.table.generation < current.table.generation {
        return false;
    }
    current.table.routes != fresh.table.routes
        || current.store != fresh.store
        || current.capture != fresh.capture
        || current.log_levels != fresh.log_levels
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::capture::{CaptureRules, RouteRule};
    use crate::routing::{Route, RouteTable};

    fn announcement(tron: &str, generation: u64, base: &str) -> RoutesAnnouncement {
        let route = Route {
            host: None,
            base_path: base.into(),
            queue: "q".into(),
            bundle: "h".into(),
            name: "n".into(),
            pool: "default".into(),
        };
        RoutesAnnouncement {
            log_levels: Default::default(),
            tron: tron.into(),
            store: None,
            table: RouteTable::new(generation, vec![route]),
            capture: Default::default(),
        }
    }

    #[test]
    fn only_a_different_table_replaces_the_current_one() {
        let current = announcement("a", 5, "/x");
        assert!(newer(None, &current));
        assert!(!newer(Some(&current), &announcement("a", 5, "/x")));
        assert!(
            !newer(Some(&current), &announcement("a", 4, "/y")),
            "stale generation"
        );
        assert!(newer(Some(&current), &announcement("a", 6, "/y")));
        assert!(
            newer(Some(&current), &announcement("b", 1, "/y")),
            "a restarted tron"
        );
        assert!(
            !newer(Some(&current), &announcement("b", 1, "/x")),
            "same routes"
        );
        let mut capturing = announcement("a", 5, "/x");
        capturing.capture = CaptureRules::default().with(RouteRule {
            route: "n".into(),
            rate: 1.0,
        });
        assert!(newer(Some(&current), &capturing), "capture rules changed");
    }

    #[tokio::test]
    async fn a_follower_says_hello_and_takes_the_announced_table() {
        let bus: Arc<dyn Bus> = Arc::new(funcmesh_bus::inproc::InProcBus::new());
        let mut hellos = bus.listen(HELLO_TOPIC).await.unwrap();
        let mut routes = follow(Arc::clone(&bus), "gateway", "g1").await.unwrap();
        let hello = hellos.next().await.unwrap().unwrap();
        let hello: Hello = super::super::try_decode(&hello.bytes()).unwrap();
        assert_eq!(
            (hello.component.as_str(), hello.id.as_str()),
            ("gateway", "g1")
        );

        let table = announcement("a", 1, "/x");
        bus.broadcast(ROUTES_TOPIC, super::super::encode(&table))
            .await
            .unwrap();
        routes.changed().await.unwrap();
        let got = routes.borrow().clone().unwrap();
        assert_eq!(got.table.routes, table.table.routes);
    }
}
