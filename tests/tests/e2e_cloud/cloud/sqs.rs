//! SQS, as Lambda's event source mapping uses it: receiving, consuming, deleting, redelivering.

use super::*;

impl Cloud {
    /// Receives every visible message of `queue` (up to 10 per call, until none is left),
    /// without deleting them.
    pub async fn receive(&self, queue: &QueueRef) -> Vec<Message> {
        let mut all = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&queue.url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .visibility_timeout(300)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .unwrap()
                .messages
                .unwrap_or_default();
            if received.is_empty() {
                return all;
            }
            all.extend(received);
        }
    }

    /// Deletes a received message.
    pub async fn delete(&self, queue: &QueueRef, message: &Message) {
        self.sqs
            .delete_message()
            .queue_url(&queue.url)
            .receipt_handle(message.receipt_handle.clone().unwrap())
            .send()
            .await
            .unwrap();
    }

    /// Runs the consumer of `queue` on an SQS event holding `messages`, as Lambda would.
    pub async fn consume(&self, queue: &QueueRef, messages: &[Message]) -> SqsBatchResponse {
        let event = sqs_event(queue, messages);
        match queue.name {
            QueueName::Alerts => self.grouping.handle_batch(event).await,
            QueueName::Incidents | QueueName::Timers => self.routing.handle_batch(event).await,
            QueueName::Notifications => self.notify.handle_batch(event).await,
        }
    }

    /// Delivers every message of every queue to its consumer until the queues are empty, as
    /// Lambda's event source mapping does: batches of up to 10, a record that succeeded is
    /// deleted, a failed one becomes visible again and is redelivered (a transient failure,
    /// such as a page another concurrent delivery is sending, heals on the retry). Panics when
    /// a message fails as often as the queue's `maxReceiveCount` (5): it would reach the
    /// dead-letter queue. Returns how many records it delivered.
    pub async fn pump(&self) -> usize {
        let mut delivered = 0;
        loop {
            let mut any = false;
            for name in QueueName::ALL {
                let queue = self.queue(name).clone();
                let messages = self.receive(&queue).await;
                if messages.is_empty() {
                    continue;
                }
                any = true;
                for batch in messages.chunks(10) {
                    let response = self.consume(&queue, batch).await;
                    let failed: Vec<&str> = response
                        .batch_item_failures
                        .iter()
                        .map(|f| f.item_identifier.as_str())
                        .collect();
                    for message in batch {
                        if failed.contains(&message.message_id.as_deref().unwrap_or_default()) {
                            self.retry_later(&queue, message).await;
                        } else {
                            self.delete(&queue, message).await;
                        }
                    }
                    delivered += batch.len();
                }
            }
            if !any {
                return delivered;
            }
        }
    }

    /// Makes a failed message visible again for redelivery; panics when it has failed as often
    /// as the queue's `maxReceiveCount` allows.
    async fn retry_later(&self, queue: &QueueRef, message: &Message) {
        let receives: u32 = message
            .attributes
            .as_ref()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .and_then(|count| count.parse().ok())
            .unwrap_or(1);
        assert!(
            receives < MAX_RECEIVE_COUNT,
            "a {} message failed {receives} times and would reach the dead-letter queue: {:?}",
            queue.name.as_str(),
            message.body
        );
        self.sqs
            .change_message_visibility()
            .queue_url(&queue.url)
            .receipt_handle(message.receipt_handle.clone().unwrap())
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }

    /// Like [`Cloud::pump`], but every message is delivered twice, in an order shuffled with
    /// `rng` across queues and message groups. Within one FIFO message group the order is kept
    /// (SQS FIFO never reorders a group; a redelivery comes before the group's next message).
    pub async fn pump_twice_shuffled(&self, rng: &mut StdRng) -> usize {
        let mut delivered = 0;
        loop {
            // Each delivery remembers its position in receive order: a FIFO queue returns a
            // group's messages in order, and that order must survive the shuffle.
            let mut deliveries: Vec<(usize, QueueRef, Message)> = Vec::new();
            for name in QueueName::ALL {
                let queue = self.queue(name).clone();
                for message in self.receive(&queue).await {
                    let position = deliveries.len();
                    deliveries.push((position, queue.clone(), message.clone()));
                    deliveries.push((position + 1, queue.clone(), message));
                }
            }
            if deliveries.is_empty() {
                return delivered;
            }
            deliveries.shuffle(rng);
            keep_fifo_group_order(&mut deliveries);
            let mut failed = BTreeSet::new();
            for (_, queue, message) in &deliveries {
                let response = self.consume(queue, std::slice::from_ref(message)).await;
                if !response.batch_item_failures.is_empty() {
                    failed.insert(message.receipt_handle.clone().unwrap());
                }
                delivered += 1;
            }
            // Each message was received once and delivered twice: delete it or, when a copy
            // failed, let SQS deliver it again.
            let mut settled = BTreeSet::new();
            for (_, queue, message) in &deliveries {
                let handle = message.receipt_handle.clone().unwrap();
                if !settled.insert(handle.clone()) {
                    continue;
                }
                if failed.contains(&handle) {
                    self.retry_later(queue, message).await;
                } else {
                    self.delete(queue, message).await;
                }
            }
        }
    }

    /// What notify sent for this deployment, read back from moto (`/moto-api/data.json`).
    pub async fn sent(&self) -> Sent {
        let data = moto_data().await;
        let emails = data["ses"]["Message"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["source"] == json!(self.sender))
            .map(|m| {
                let to = m["destinations"]["ToAddresses"][0]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let subject = m["subject"].as_str().unwrap_or_default().to_owned();
                let body = m["body"].as_str().unwrap_or_default().to_owned();
                (to, subject, body)
            })
            .collect();
        let sms = data["sns"]["SMS"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["phone_number"] == json!(self.phone))
            .map(|m| m["message"].as_str().unwrap_or_default().to_owned())
            .collect();
        Sent { emails, sms }
    }

    /// How many messages are visible on `name` (received and made visible again).
    pub async fn visible(&self, name: QueueName) -> usize {
        let queue = self.queue(name).clone();
        let messages = self.receive(&queue).await;
        for message in &messages {
            self.sqs
                .change_message_visibility()
                .queue_url(&queue.url)
                .receipt_handle(message.receipt_handle.clone().unwrap())
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
        }
        messages.len()
    }
}

/// Puts the deliveries of each FIFO message group back in their receive order, in the
/// positions the shuffle gave that group.
fn keep_fifo_group_order(deliveries: &mut [(usize, QueueRef, Message)]) {
    let group_of = |message: &Message| {
        message
            .attributes
            .as_ref()
            .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
            .cloned()
    };
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, (_, _, message)) in deliveries.iter().enumerate() {
        if let Some(group) = group_of(message) {
            groups.entry(group).or_default().push(index);
        }
    }
    for positions in groups.values() {
        let mut members: Vec<(usize, QueueRef, Message)> =
            positions.iter().map(|&i| deliveries[i].clone()).collect();
        members.sort_by_key(|(order, _, _)| *order);
        for (&position, member) in positions.iter().zip(members) {
            deliveries[position] = member;
        }
    }
}
