-- Reverts 20261128000000_action_lifecycle.
DROP INDEX "server_actions_live_deadline";
DROP INDEX "server_actions_one_live_power_action";
ALTER TABLE "server_actions" DROP COLUMN "deadline_at", DROP COLUMN "acked_at", DROP COLUMN "dispatched_at";
