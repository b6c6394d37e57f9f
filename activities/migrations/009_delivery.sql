-- Delivery (docs/contract.md, "Delivery"): each notification is delivered by
-- a `NotificationDelivery` workflow; the register keeps how it went. `delivered_at` is set
-- once the recipient took it; a recipient that refuses it (an answer other than 2xx, 408,
-- 429 or 5xx), or a recipient no route leads to, leaves `delivery_error` and `refused_at`
-- until an operator fixes the route and redelivers.
ALTER TABLE notification ADD COLUMN delivery_error text;
ALTER TABLE notification ADD COLUMN refused_at timestamptz;
ALTER TABLE notification ADD COLUMN delivery_endpoint text;
GRANT UPDATE (delivered_at, delivery_error, refused_at, delivery_endpoint)
    ON notification TO register_writer;
-- The sweep's alert reads the undelivered ones, oldest first.
CREATE INDEX notification_undelivered ON notification (created_at)
    WHERE delivered_at IS NULL AND abandoned_by IS NULL;
