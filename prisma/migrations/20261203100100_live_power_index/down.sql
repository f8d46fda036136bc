-- Reverts 20261203100100_live_power_index: the index of 20261128000000_action_lifecycle.
DROP INDEX "server_actions_one_live_power_action";
CREATE UNIQUE INDEX "server_actions_one_live_power_action" ON "server_actions"("server_id")
WHERE "action" <> 'KILL' AND "state" IN ('QUEUED', 'DISPATCHED', 'ACKED');
