-- Reverts 20261128010000_append_events_function.
DROP FUNCTION "append_events"(JSONB);
