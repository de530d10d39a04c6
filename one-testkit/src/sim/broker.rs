//! The broker: delivers every message at least once, like Pub/Sub, SQS or a Kafka consumer
//! group after a rebalance.
//!
//! A published message waits in a queue; a worker's receive takes one of the first few waiting
//! (so deliveries are reordered); the delivery is then in flight until it is acknowledged
//! (done), negatively acknowledged (redelivered after a delay) or its ack deadline passes
//! (redelivered at once). Besides, a delivery may come with an immediate copy (a duplicate in
//! flight at the same time as the original), and an acknowledged message may be delivered again
//! later (a lost ack, a failover).

use std::collections::{BTreeMap, VecDeque};

/// What the broker hands a worker: one delivery of one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Delivery {
    /// This delivery's id (its "ack id").
    pub(crate) id: u64,
    /// The message, `0..messages`.
    pub(crate) message: usize,
}

pub(crate) struct Broker {
    /// Messages waiting for a worker, roughly in publish order.
    waiting: VecDeque<usize>,
    /// Deliveries handed out and not yet acked, nacked or expired: delivery id -> message.
    in_flight: BTreeMap<u64, usize>,
    /// Deliveries in flight, per message.
    in_flight_of: Vec<u32>,
    /// Deliveries handed out, per message.
    delivered: Vec<u32>,
    /// Whether each message was acknowledged (by any of its deliveries).
    acked: Vec<bool>,
    next_id: u64,
    /// A receive takes one of the first `reorder` waiting messages.
    reorder: usize,
}

/// What [`Broker::take`] tells about a delivery.
pub(crate) struct Taken {
    pub(crate) delivery: Delivery,
    /// Another delivery of the same message was in flight when this one was handed out.
    pub(crate) concurrent: bool,
    /// Not the message's first delivery.
    pub(crate) redelivery: bool,
}

impl Broker {
    pub(crate) fn new(messages: usize, reorder: usize) -> Self {
        Broker {
            waiting: VecDeque::new(),
            in_flight: BTreeMap::new(),
            in_flight_of: vec![0; messages],
            delivered: vec![0; messages],
            acked: vec![false; messages],
            next_id: 0,
            reorder: reorder.max(1),
        }
    }

    /// Makes `message` available for delivery, behind the others.
    pub(crate) fn publish(&mut self, message: usize) {
        self.waiting.push_back(message);
    }

    /// Makes `message` available among the first waiting ones (`slot` below `reorder`), so that
    /// it is delivered soon: a duplicate of a delivery in flight.
    pub(crate) fn publish_copy(&mut self, message: usize, slot: usize) {
        let at = slot.min(self.waiting.len());
        self.waiting.insert(at, message);
    }

    /// How many of the first waiting messages a receive chooses from.
    pub(crate) fn choice(&self) -> usize {
        self.waiting.len().min(self.reorder)
    }

    /// Hands out the `index`-th waiting message (`index < choice()`).
    pub(crate) fn take(&mut self, index: usize) -> Option<Taken> {
        let message = self.waiting.remove(index)?;
        let id = self.next_id;
        self.next_id += 1;
        let concurrent = self.in_flight_of[message] > 0;
        let redelivery = self.delivered[message] > 0;
        self.delivered[message] += 1;
        self.in_flight_of[message] += 1;
        self.in_flight.insert(id, message);
        Some(Taken {
            delivery: Delivery { id, message },
            concurrent,
            redelivery,
        })
    }

    fn settle(&mut self, id: u64) -> Option<usize> {
        let message = self.in_flight.remove(&id)?;
        self.in_flight_of[message] -= 1;
        Some(message)
    }

    /// Acknowledges a delivery: its message is done. False when the delivery had expired
    /// already (it was redelivered; the ack still counts for the message).
    pub(crate) fn ack(&mut self, delivery: Delivery) -> bool {
        self.acked[delivery.message] = true;
        self.settle(delivery.id).is_some()
    }

    /// Negatively acknowledges a delivery: true when it was in flight, and the caller schedules
    /// its redelivery.
    pub(crate) fn nack(&mut self, delivery: Delivery) -> bool {
        self.settle(delivery.id).is_some()
    }

    /// The ack deadline of delivery `id` passed: the message to redeliver, if the delivery is
    /// still in flight and its message was not acknowledged by another delivery.
    pub(crate) fn deadline_passed(&mut self, id: u64) -> Option<usize> {
        let message = self.settle(id)?;
        (!self.acked[message]).then_some(message)
    }

    /// Messages never acknowledged.
    pub(crate) fn unacked(&self) -> usize {
        self.acked.iter().filter(|&&a| !a).count()
    }
}
