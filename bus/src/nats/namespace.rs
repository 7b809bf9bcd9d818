//! A namespace's streams on NATS: every work queue is a JetStream stream
//! whose subject starts `NAME.funcmesh.q.`. Reply queues and broadcasts
//! are core NATS subjects, which leave nothing on the server.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::context::GetStreamErrorKind;
use futures::TryStreamExt as _;

use super::config::NatsConfig;
use super::connection::Link;
use super::declare::CONSUMER;
use crate::namespace::{Held, HeldKind, Namespace, described, namespace_needed, sorted};
use crate::{Error, Result};

/// How long the server may take to be reached.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A namespace on a NATS server (or cluster).
pub(crate) struct Streams {
    link: Arc<Link>,
    /// `NAME.funcmesh.q.`.
    subjects: String,
}

impl Streams {
    pub(crate) async fn open(url: &str) -> Result<Self> {
        let config = NatsConfig::parse(url)?;
        if config.namespace_prefix().is_none() {
            return Err(namespace_needed());
        }
        let subjects = config.work_subjects();
        let link = Link::open(config).await?;
        let connected = tokio::time::timeout(CONNECT_TIMEOUT, link.wait_connected()).await;
        if !matches!(connected, Ok(true)) {
            link.close();
            return Err(Error::Unavailable(format!(
                "the NATS server at {} did not answer within {}s",
                link.config.endpoint,
                CONNECT_TIMEOUT.as_secs()
            )));
        }
        Ok(Self { link, subjects })
    }

    /// The pull requests waiting on the stream's consumer: a running
    /// process of the mesh keeps one there.
    async fn readers(&self, stream: &str) -> Option<u64> {
        let stream = self.link.js.get_stream_no_info(stream).await.ok()?;
        let info = stream.consumer_info(CONSUMER).await.ok()?;
        u64::try_from(info.num_waiting).ok()
    }
}

impl Drop for Streams {
    fn drop(&mut self) {
        self.link.close();
    }
}

#[async_trait::async_trait]
impl Namespace for Streams {
    fn describe(&self) -> String {
        let prefix = self.link.config.namespace_prefix().unwrap_or_default();
        described("nats", &self.link.config.endpoint, prefix)
    }

    async fn held(&self) -> Result<Vec<Held>> {
        let infos: Vec<_> = self
            .link
            .js
            .streams()
            .try_collect()
            .await
            .map_err(|error| {
                self.link
                    .unavailable(format_args!("listing streams: {error}"))
            })?;
        let mut held = Vec::new();
        for info in infos {
            let ours = info
                .config
                .subjects
                .iter()
                .any(|subject| subject.starts_with(&self.subjects));
            if !ours {
                continue;
            }
            held.push(Held {
                kind: HeldKind::Stream,
                readers: self.readers(&info.config.name).await,
                name: info.config.name,
                messages: Some(info.state.messages),
            });
        }
        Ok(sorted(held))
    }

    async fn remove(&self, held: &Held) -> Result<()> {
        if held.kind != HeldKind::Stream {
            return Err(Error::InvalidUrl(format!(
                "NATS holds no {} ({})",
                held.kind, held.name
            )));
        }
        // Only a stream of this namespace: its subjects say so.
        let subjects = match self.link.js.get_stream(&held.name).await {
            Ok(stream) => stream.cached_info().config.subjects.clone(),
            Err(error) => match error.kind() {
                GetStreamErrorKind::JetStream(js)
                    if js.error_code() == ErrorCode::STREAM_NOT_FOUND =>
                {
                    return Ok(());
                }
                _ => {
                    return Err(self
                        .link
                        .unavailable(format_args!("reading stream {}: {error}", held.name)));
                }
            },
        };
        if !subjects
            .iter()
            .any(|subject| subject.starts_with(&self.subjects))
        {
            return Err(Error::InvalidUrl(format!(
                "stream {} is not in this namespace",
                held.name
            )));
        }
        self.link
            .js
            .delete_stream(&held.name)
            .await
            .map(drop)
            .map_err(|error| {
                self.link
                    .unavailable(format_args!("deleting stream {}: {error}", held.name))
            })
    }
}
