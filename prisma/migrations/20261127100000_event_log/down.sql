-- Reverts 20261127100000_event_log.
DROP TABLE "event_counter";
DROP TABLE "events";
