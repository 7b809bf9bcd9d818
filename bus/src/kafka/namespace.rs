//! A namespace's topics and consumer groups on Kafka: the queues' topics
//! (`NAME.q.*`), their consumers' (`NAME.m.*`), the broadcast topics
//! (`NAME.t.*`), the queue registry (`NAME.funcmesh-queues`), and the
//! groups that hold the queues' committed offsets (named as their topics).
//! A queue recreated under a group left behind would start from the old
//! offsets, so the groups go too.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::types::RDKafkaErrorCode;

use super::config::KafkaConfig;
use super::link::QuietContext;
use crate::namespace::{Held, HeldKind, Namespace, check_in, described, namespace_needed, sorted};
use crate::{Error, Result};

/// How long one request to the cluster may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A namespace on a Kafka cluster.
pub(crate) struct Topics {
    config: KafkaConfig,
    /// `NAME.`.
    prefix: String,
    admin: AdminClient<QuietContext>,
    /// Reads the cluster's metadata and group list; never subscribes.
    client: std::sync::Arc<BaseConsumer<QuietContext>>,
}

impl Topics {
    pub(crate) async fn open(url: &str) -> Result<Self> {
        let config = KafkaConfig::parse(url)?;
        let Some(prefix) = config.namespace_prefix().map(str::to_owned) else {
            return Err(namespace_needed());
        };
        let admin = config
            .client()
            .create_with_context(QuietContext)
            .map_err(|error| Error::InvalidUrl(format!("kafka admin client: {error}")))?;
        let client = config
            .client()
            .create_with_context(QuietContext)
            .map_err(|error| Error::InvalidUrl(format!("kafka client: {error}")))?;
        Ok(Self {
            config,
            prefix,
            admin,
            client: std::sync::Arc::new(client),
        })
    }

    /// Runs a blocking request of the client off the runtime's threads.
    async fn blocking<T: Send + 'static>(
        &self,
        what: &str,
        request: impl FnOnce(&BaseConsumer<QuietContext>) -> rdkafka::error::KafkaResult<T>
        + Send
        + 'static,
    ) -> Result<T> {
        let client = std::sync::Arc::clone(&self.client);
        tokio::task::spawn_blocking(move || request(&client))
            .await
            .map_err(|_| Error::Closed)?
            .map_err(|error| {
                Error::Unavailable(format!(
                    "{what} on the Kafka cluster at {}: {error}",
                    self.config.endpoint
                ))
            })
    }

    fn options() -> AdminOptions {
        AdminOptions::new().operation_timeout(Some(REQUEST_TIMEOUT))
    }
}

#[async_trait::async_trait]
impl Namespace for Topics {
    fn describe(&self) -> String {
        described("kafka", &self.config.endpoint, &self.prefix)
    }

    async fn held(&self) -> Result<Vec<Held>> {
        let topics: Vec<String> = self
            .blocking("listing topics", |client| {
                let metadata = client.fetch_metadata(None, REQUEST_TIMEOUT)?;
                Ok(metadata
                    .topics()
                    .iter()
                    .map(|topic| topic.name().to_owned())
                    .collect())
            })
            .await?;
        let groups: Vec<String> = self
            .blocking("listing consumer groups", |client| {
                let list = client.fetch_group_list(None, REQUEST_TIMEOUT)?;
                Ok(list
                    .groups()
                    .iter()
                    .map(|group| group.name().to_owned())
                    .collect())
            })
            .await?;
        let ours = |name: &String| name.starts_with(&self.prefix);
        let held = topics
            .iter()
            .filter(|name| ours(name))
            .map(|name| (HeldKind::Topic, name))
            .chain(
                groups
                    .iter()
                    .filter(|name| ours(name))
                    .map(|name| (HeldKind::Group, name)),
            )
            .map(|(kind, name)| Held {
                kind,
                name: name.clone(),
                messages: None,
                readers: None,
            })
            .collect();
        // A Kafka namespace has no `.`: no other one's names start `NAME.`.
        Ok(sorted(held))
    }

    async fn remove(&self, held: &Held) -> Result<()> {
        check_in(held, &self.prefix)?;
        let names = [held.name.as_str()];
        let results = match held.kind {
            HeldKind::Topic => self.admin.delete_topics(&names, &Self::options()).await,
            HeldKind::Group => self.admin.delete_groups(&names, &Self::options()).await,
            other => {
                return Err(Error::InvalidUrl(format!(
                    "Kafka holds no {other} ({})",
                    held.name
                )));
            }
        }
        .map_err(|error| {
            Error::Unavailable(format!(
                "deleting {} {} on the Kafka cluster at {}: {error}",
                held.kind, held.name, self.config.endpoint
            ))
        })?;
        for result in results {
            match result {
                Ok(_)
                | Err((
                    _,
                    RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::GroupIdNotFound,
                )) => {}
                Err((name, code)) => {
                    return Err(Error::Unavailable(format!(
                        "deleting {} {name}: {code}",
                        held.kind
                    )));
                }
            }
        }
        Ok(())
    }
}
