//! Publish and subscribe: messages that `#[write]` commands publish
//! ([`Ctx::publish`](crate::Ctx::publish)) reach the [`Subscriber`]s of
//! every node, since a write runs on every node.
//!
//! Delivery is Redis' pub/sub: at most once, to whoever is subscribed on a
//! node when that node applies the write. A node that restarts applies
//! again the writes after its newest snapshot, so a subscriber that is
//! already connected to it then may receive their messages a second time;
//! a node that catches up from a snapshot skips the messages the snapshot
//! covers.
//!
//! Publishing never waits for a subscriber: messages wait in its queue,
//! and one whose queue would pass [`Subscriber::MAX_QUEUED`] bytes is
//! dropped (its [`Subscriber::recv`] returns `None`), as Redis closes a
//! subscriber past its output buffer limit.

use crate::glob;
use bytes::Bytes;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// A message published to a channel, as a subscriber receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The channel it was published to.
    pub channel: Bytes,
    /// The pattern it matched, for a subscription by pattern.
    pub pattern: Option<Bytes>,
    /// What was published.
    pub payload: Bytes,
}

impl Message {
    /// The message as Redis sends it to a subscriber: `message`, the
    /// channel and the payload, or `pmessage`, the pattern, the channel and
    /// the payload; a push in RESP3, an array in RESP2.
    ///
    /// ```
    /// use uhaha::pubsub::Message;
    /// use uhaha::Reply;
    ///
    /// let message = Message { channel: "news".into(), pattern: None, payload: "hi".into() };
    /// assert_eq!(message.to_reply().to_resp2(), b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n");
    /// ```
    pub fn to_reply(&self) -> crate::Reply {
        use crate::Reply;
        let mut items = Vec::with_capacity(4);
        match &self.pattern {
            Some(pattern) => {
                items.push(Reply::bulk("pmessage"));
                items.push(Reply::Bulk(pattern.clone()));
            }
            None => items.push(Reply::bulk("message")),
        }
        items.push(Reply::Bulk(self.channel.clone()));
        items.push(Reply::Bulk(self.payload.clone()));
        Reply::Push(items)
    }
}

impl Message {
    /// The bytes it holds in a queue, for [`Subscriber::MAX_QUEUED`]: its
    /// payload and names, and a little for the rest.
    fn size(&self) -> usize {
        let pattern = self.pattern.as_ref().map_or(0, Bytes::len);
        64 + self.channel.len() + pattern + self.payload.len()
    }
}

/// Where one subscriber's messages go.
struct Inbox {
    tx: mpsc::UnboundedSender<Message>,
    /// The bytes of the messages waiting in the queue.
    queued: AtomicUsize,
    /// Set when a message found the queue full: the subscriber is dropped.
    fell_behind: AtomicBool,
}

/// What became of a message offered to an inbox.
#[derive(PartialEq)]
enum Offered {
    Queued,
    /// The queue was full: the subscriber is dropped now.
    Dropped,
    /// The subscriber was dropped before.
    Gone,
}

impl Inbox {
    /// Queues `message`, or drops the subscriber if its queue is full.
    fn offer(&self, message: Message) -> Offered {
        if self.fell_behind.load(Ordering::Relaxed) {
            return Offered::Gone;
        }
        let size = message.size();
        let queued = self.queued.fetch_add(size, Ordering::Relaxed) + size;
        if queued <= Subscriber::MAX_QUEUED && self.tx.send(message).is_ok() {
            return Offered::Queued;
        }
        match self.fell_behind.swap(true, Ordering::Relaxed) {
            true => Offered::Gone,
            false => Offered::Dropped,
        }
    }

    /// Notes that `message` left the queue.
    fn taken(&self, message: &Message) {
        self.queued.fetch_sub(message.size(), Ordering::Relaxed);
    }
}

/// Who is subscribed to what: by channel and by pattern, each with the
/// subscribers' inboxes by id.
#[derive(Default)]
struct Registry {
    channels: HashMap<Bytes, HashMap<u64, Arc<Inbox>>>,
    patterns: HashMap<Bytes, HashMap<u64, Arc<Inbox>>>,
}

/// A node's subscriptions: where published messages are delivered.
#[derive(Default)]
pub(crate) struct Hub {
    registry: Mutex<Registry>,
    next_id: AtomicU64,
    /// Subscribers dropped for falling behind, for `INFO`.
    dropped: AtomicU64,
}

impl Hub {
    /// Delivers `payload` to the subscribers of `channel` and of the
    /// patterns it matches; returns how many received it.
    pub(crate) fn publish(&self, channel: &Bytes, payload: &Bytes) -> usize {
        let registry = self.registry.lock().expect("never poisoned");
        let by_channel = registry
            .channels
            .get(channel)
            .map(|inboxes| (None, inboxes));
        let by_pattern = registry
            .patterns
            .iter()
            .filter(|(pattern, _)| glob::matches(pattern, channel))
            .map(|(pattern, inboxes)| (Some(pattern), inboxes));
        let mut received = 0;
        for (pattern, inboxes) in by_channel.into_iter().chain(by_pattern) {
            for inbox in inboxes.values() {
                let message = Message {
                    channel: channel.clone(),
                    pattern: pattern.cloned(),
                    payload: payload.clone(),
                };
                match inbox.offer(message) {
                    Offered::Queued => received += 1,
                    Offered::Dropped => {
                        self.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    Offered::Gone => {}
                }
            }
        }
        received
    }

    /// The number of channels with at least one subscriber and of
    /// subscriptions by pattern, for `INFO`.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let registry = self.registry.lock().expect("never poisoned");
        let patterns = registry.patterns.values().map(HashMap::len).sum();
        (registry.channels.len(), patterns)
    }

    /// How many subscribers were dropped for falling behind.
    pub(crate) fn dropped_total(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Which of a [`Registry`]'s two maps a subscription is in.
#[derive(Clone, Copy)]
enum Kind {
    Channel,
    Pattern,
}

impl Registry {
    fn map(&mut self, kind: Kind) -> &mut HashMap<Bytes, HashMap<u64, Arc<Inbox>>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
        }
    }
}

/// One client's subscriptions on a node, and the messages they bring.
///
/// Get one with [`Conn::subscriber`](crate::Conn::subscriber). Its
/// subscriptions end when it is dropped. See the [module](self) for how
/// messages are delivered.
///
/// ```
/// # async fn example(conn: &uhaha::Conn) {
/// let mut subscriber = conn.subscriber();
/// assert_eq!(subscriber.subscribe("news"), 1);
/// assert_eq!(subscriber.psubscribe("sport.*"), 2);
/// while let Some(message) = subscriber.recv().await {
///     println!("{:?} on {:?}", message.payload, message.channel);
/// }
/// // None: the subscriber fell behind and was dropped.
/// # }
/// ```
pub struct Subscriber {
    hub: Arc<Hub>,
    id: u64,
    inbox: Arc<Inbox>,
    rx: mpsc::UnboundedReceiver<Message>,
    channels: BTreeSet<Bytes>,
    patterns: BTreeSet<Bytes>,
}

impl Subscriber {
    /// How many bytes of messages (payloads and channel names, and 64 bytes
    /// more for each) may wait for a subscriber; one more and it is dropped
    /// (Redis' `client-output-buffer-limit pubsub` has 32 MiB; a node here
    /// also holds the log).
    ///
    /// ```
    /// assert_eq!(uhaha::pubsub::Subscriber::MAX_QUEUED, 8 << 20);
    /// ```
    pub const MAX_QUEUED: usize = 8 << 20;

    pub(crate) fn new(hub: Arc<Hub>) -> Subscriber {
        let (tx, rx) = mpsc::unbounded_channel();
        Subscriber {
            id: hub.next_id.fetch_add(1, Ordering::Relaxed),
            hub,
            inbox: Arc::new(Inbox {
                tx,
                queued: AtomicUsize::new(0),
                fell_behind: AtomicBool::new(false),
            }),
            rx,
            channels: BTreeSet::new(),
            patterns: BTreeSet::new(),
        }
    }

    /// Subscribes to `channel`; returns the number of subscriptions now
    /// (channels and patterns), as Redis' `SUBSCRIBE` reports it.
    pub fn subscribe(&mut self, channel: impl Into<Bytes>) -> usize {
        self.add(Kind::Channel, channel.into())
    }

    /// Subscribes to the channels that match the glob `pattern` (`*`, `?`,
    /// `[a-z]`); returns the number of subscriptions now.
    pub fn psubscribe(&mut self, pattern: impl Into<Bytes>) -> usize {
        self.add(Kind::Pattern, pattern.into())
    }

    /// Ends the subscription to `channel`; returns the number of
    /// subscriptions left.
    pub fn unsubscribe(&mut self, channel: &[u8]) -> usize {
        self.remove(Kind::Channel, channel)
    }

    /// Ends the subscription to `pattern`; returns the number of
    /// subscriptions left.
    pub fn punsubscribe(&mut self, pattern: &[u8]) -> usize {
        self.remove(Kind::Pattern, pattern)
    }

    /// The channels subscribed to, in order.
    pub fn channels(&self) -> impl Iterator<Item = &Bytes> {
        self.channels.iter()
    }

    /// The patterns subscribed to, in order.
    pub fn patterns(&self) -> impl Iterator<Item = &Bytes> {
        self.patterns.iter()
    }

    /// The number of subscriptions: channels and patterns.
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// The next message; `None` once the subscriber fell behind by
    /// [`Subscriber::MAX_QUEUED`] bytes and was dropped. Waits while no
    /// message comes, also without subscriptions. Cancel safe: use it in
    /// `tokio::select!`.
    pub async fn recv(&mut self) -> Option<Message> {
        if self.fell_behind() {
            return None;
        }
        let message = self.rx.recv().await?;
        self.take(message)
    }

    /// A message that has already come, without waiting; `None` when none
    /// has or the subscriber fell behind.
    pub fn try_recv(&mut self) -> Option<Message> {
        let message = self.rx.try_recv().ok()?;
        self.take(message)
    }

    /// `message`, taken out of the queue, unless the subscriber was dropped.
    fn take(&self, message: Message) -> Option<Message> {
        self.inbox.taken(&message);
        (!self.fell_behind()).then_some(message)
    }

    /// Whether the subscriber fell behind and was dropped.
    pub fn fell_behind(&self) -> bool {
        self.inbox.fell_behind.load(Ordering::Relaxed)
    }

    fn add(&mut self, kind: Kind, name: Bytes) -> usize {
        let mut registry = self.hub.registry.lock().expect("never poisoned");
        registry
            .map(kind)
            .entry(name.clone())
            .or_default()
            .insert(self.id, self.inbox.clone());
        drop(registry);
        self.names(kind).insert(name);
        self.count()
    }

    fn remove(&mut self, kind: Kind, name: &[u8]) -> usize {
        if self.names(kind).remove(name) {
            self.unregister(kind, name);
        }
        self.count()
    }

    /// Takes this subscriber's inbox out of the hub's list for `name`.
    fn unregister(&self, kind: Kind, name: &[u8]) {
        let mut registry = self.hub.registry.lock().expect("never poisoned");
        let map = registry.map(kind);
        if let Some(subscribers) = map.get_mut(name) {
            subscribers.remove(&self.id);
            if subscribers.is_empty() {
                map.remove(name);
            }
        }
    }

    fn names(&mut self, kind: Kind) -> &mut BTreeSet<Bytes> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        for channel in &self.channels {
            self.unregister(Kind::Channel, channel);
        }
        for pattern in &self.patterns {
            self.unregister(Kind::Pattern, pattern);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(channel: &str, pattern: Option<&str>, payload: &str) -> Message {
        Message {
            channel: Bytes::copy_from_slice(channel.as_bytes()),
            pattern: pattern.map(|p| Bytes::copy_from_slice(p.as_bytes())),
            payload: Bytes::copy_from_slice(payload.as_bytes()),
        }
    }

    #[tokio::test]
    async fn messages_reach_channel_and_pattern_subscribers() {
        let hub = Arc::new(Hub::default());
        let mut a = Subscriber::new(hub.clone());
        let mut b = Subscriber::new(hub.clone());
        assert_eq!(a.subscribe("news.tech"), 1);
        assert_eq!(b.psubscribe("news.*"), 1);
        assert_eq!(b.subscribe("weather"), 2);
        assert_eq!(hub.publish(&"news.tech".into(), &"rust".into()), 2);
        assert_eq!(hub.publish(&"weather".into(), &"rain".into()), 1);
        assert_eq!(hub.publish(&"sport".into(), &"goal".into()), 0);
        assert_eq!(a.recv().await, Some(message("news.tech", None, "rust")));
        assert_eq!(
            b.recv().await,
            Some(message("news.tech", Some("news.*"), "rust"))
        );
        assert_eq!(b.try_recv(), Some(message("weather", None, "rain")));
        assert_eq!(b.try_recv(), None);
        assert_eq!(hub.counts(), (2, 1));
    }

    #[test]
    fn unsubscribing_and_dropping_end_subscriptions() {
        let hub = Arc::new(Hub::default());
        let mut a = Subscriber::new(hub.clone());
        a.subscribe("x");
        a.subscribe("x");
        a.psubscribe("y*");
        assert_eq!(a.count(), 2);
        assert_eq!(a.unsubscribe(b"x"), 1);
        assert_eq!(a.unsubscribe(b"never"), 1);
        assert_eq!(hub.publish(&"x".into(), &"1".into()), 0);
        assert_eq!(hub.publish(&"yes".into(), &"1".into()), 1);
        drop(a);
        assert_eq!(hub.publish(&"yes".into(), &"1".into()), 0);
        assert_eq!(hub.counts(), (0, 0));
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_dropped_without_holding_up_publishers() {
        let hub = Arc::new(Hub::default());
        let mut slow = Subscriber::new(hub.clone());
        slow.subscribe("c");
        let kib = Bytes::from(vec![b'm'; 1024 - 64 - 1]);
        for _ in 0..Subscriber::MAX_QUEUED / 1024 {
            assert_eq!(hub.publish(&"c".into(), &kib), 1);
        }
        assert_eq!(slow.try_recv().map(|m| m.payload), Some(kib.clone()));
        assert_eq!(hub.publish(&"c".into(), &kib), 1, "room for one more");
        assert_eq!(hub.publish(&"c".into(), &"m".into()), 0);
        assert!(slow.fell_behind());
        assert_eq!(slow.recv().await, None);
        assert_eq!(hub.publish(&"c".into(), &"m".into()), 0);
        assert_eq!(hub.dropped_total(), 1);
    }
}
