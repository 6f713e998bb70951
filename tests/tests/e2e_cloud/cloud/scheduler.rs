//! EventBridge Scheduler (reading schedules back and firing them), and assertions on the table.

use super::*;

impl Cloud {
    /// The names of the schedules in the escalation group.
    pub async fn schedule_names(&self) -> Vec<String> {
        self.scheduler
            .list_schedules()
            .group_name(&self.group)
            .send()
            .await
            .unwrap()
            .schedules
            .into_iter()
            .filter_map(|s| s.name)
            .collect()
    }

    /// Reads schedule `name` back: its `at()` time and the timer its target delivers.
    pub async fn schedule(&self, name: &str) -> Option<(DateTime<Utc>, TimerPayload)> {
        let schedule = match self
            .scheduler
            .get_schedule()
            .name(name)
            .group_name(&self.group)
            .send()
            .await
        {
            Ok(schedule) => schedule,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                return None;
            }
            Err(error) => panic!("get_schedule {name}: {error:?}"),
        };
        let expression = schedule.schedule_expression.unwrap();
        let at = expression
            .strip_prefix("at(")
            .and_then(|rest| rest.strip_suffix(')'))
            .unwrap();
        let at = NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S")
            .unwrap()
            .and_utc();
        assert_eq!(
            schedule.schedule_expression_timezone.as_deref(),
            Some("UTC")
        );
        let target = schedule.target.unwrap();
        assert_eq!(target.arn, self.queue(QueueName::Timers).arn);
        let QueueMessage::Timer(payload) =
            QueueMessage::from_json(target.input.as_deref().unwrap()).unwrap()
        else {
            panic!("the schedule's Input is not a timer message");
        };
        Some((at, payload))
    }

    /// Plays the scheduler firing schedule `name`: moves the clock to its `at()` time, sends its
    /// Input to the timers queue (the schedule's target) `copies` times, and deletes the schedule
    /// (ActionAfterCompletion DELETE). Returns the timer.
    pub async fn fire_schedule(&self, name: &str, copies: usize) -> TimerPayload {
        let (at, payload) = self.schedule(name).await.unwrap();
        if at > self.clock.now() {
            self.clock.set(at);
        }
        for _ in 0..copies {
            self.send_timer(&payload).await;
        }
        self.scheduler
            .delete_schedule()
            .name(name)
            .group_name(&self.group)
            .send()
            .await
            .unwrap();
        payload
    }

    /// Sends a timer message to the timers queue, as the scheduler's SQS target does.
    pub async fn send_timer(&self, payload: &TimerPayload) {
        self.sqs
            .send_message()
            .queue_url(&self.queue(QueueName::Timers).url)
            .message_body(QueueMessage::Timer(payload.clone()).to_json())
            .send()
            .await
            .unwrap();
    }

    /// Sends the recovery sweep's message to the timers queue: the Input template.yaml gives
    /// the recurring `RecoverySweepSchedule`, read from the template itself.
    pub async fn send_sweep(&self) {
        let text = std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap();
        let template: Value = serde_saphyr::from_str(&text).unwrap();
        let target = &template["Resources"]["RecoverySweepSchedule"]["Properties"]["Target"];
        assert_eq!(
            target["Arn"], "TimersQueue.Arn",
            "the sweep targets the timers queue"
        );
        let input = target["Input"].as_str().unwrap();
        self.sqs
            .send_message()
            .queue_url(&self.queue(QueueName::Timers).url)
            .message_body(input)
            .send()
            .await
            .unwrap();
    }

    /// Loses every message waiting on queue `name` (received and deleted unhandled, as if a
    /// send had failed after its write). Returns how many there were.
    pub async fn lose(&self, name: QueueName) -> usize {
        let queue = self.queue(name).clone();
        let messages = self.receive(&queue).await;
        for message in &messages {
            self.delete(&queue, message).await;
        }
        messages.len()
    }

    /// Delivers what is waiting on queue `name` only, once, to its consumer (deleting what
    /// succeeded); the other queues keep their messages.
    pub async fn pump_only(&self, name: QueueName) {
        let queue = self.queue(name).clone();
        let messages = self.receive(&queue).await;
        for batch in messages.chunks(10) {
            let response = self.consume(&queue, batch).await;
            assert!(
                response.batch_item_failures.is_empty(),
                "{:?}",
                response.batch_item_failures
            );
            for message in batch {
                self.delete(&queue, message).await;
            }
        }
    }

    // --- Assertions ---------------------------------------------------------------------------

    /// How many items of the table have a partition key starting with `prefix` (a scan).
    pub async fn items_with_pk_prefix(&self, prefix: &str) -> usize {
        let mut count = 0;
        let mut start = None;
        loop {
            let page = self
                .dynamodb
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            count += page
                .items()
                .iter()
                .filter(|item| {
                    item.get("pk")
                        .and_then(|pk| pk.as_s().ok())
                        .is_some_and(|pk| pk.starts_with(prefix))
                })
                .count();
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return count,
            }
        }
    }

    /// Every incident, newest first.
    pub async fn incidents(&self) -> Vec<StoredIncident> {
        self.repo.recent_incidents(None, 100).await.unwrap().items
    }

    /// The only incident.
    pub async fn only_incident(&self) -> StoredIncident {
        let mut all = self.incidents().await;
        assert_eq!(all.len(), 1, "expected exactly one incident");
        all.remove(0)
    }
}
