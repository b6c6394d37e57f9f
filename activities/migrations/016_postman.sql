-- The postman (docs/contract.md, "Notifications are delivered"): a worker polling the
-- documents' queue takes the register's undelivered notifications to their recipients
-- itself, without a workflow per notification. It leases the rows it is delivering
-- (`lease_owner`, `lease_until`, renewed while it works), so that two postmen never take one
-- row at once and a dead one's rows are taken again once its lease ends. A notification
-- whose first attempt did not succeed (a recipient down, a refusal, no route) is handed to
-- a `NotificationDelivery` workflow (`handed_off_at`), which retries it with backoff or
-- shows it refused in the Web UI until an operator redelivers it.
ALTER TABLE notification ADD COLUMN lease_owner text;
ALTER TABLE notification ADD COLUMN lease_until timestamptz;
ALTER TABLE notification ADD COLUMN handed_off_at timestamptz;
GRANT UPDATE (lease_owner, lease_until, handed_off_at) ON notification TO register_writer;
-- The notifications written before have their `NotificationDelivery` workflow already.
UPDATE notification SET handed_off_at = created_at WHERE delivered_at IS NULL;
-- What the postmen read, oldest first.
CREATE INDEX notification_to_post ON notification (created_at)
    WHERE delivered_at IS NULL AND abandoned_by IS NULL AND handed_off_at IS NULL;
