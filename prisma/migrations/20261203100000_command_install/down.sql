-- Reverts 20261203100000_command_install.
-- An enum value cannot be dropped: the type is rebuilt without INSTALL and COMMAND. Their actions
-- cannot be expressed in the old type and are deleted (with them, console input's audit trail).
DELETE FROM "server_actions" WHERE "action" IN ('INSTALL', 'COMMAND');
DROP INDEX "server_actions_one_live_power_action";
DROP INDEX IF EXISTS "server_actions_one_live_kill";
ALTER TYPE "ActionType" RENAME TO "ActionType_old";
CREATE TYPE "ActionType" AS ENUM ('START', 'STOP', 'RESTART', 'KILL');
ALTER TABLE "server_actions" ALTER COLUMN "action" TYPE "ActionType" USING "action"::text::"ActionType";
DROP TYPE "ActionType_old";
CREATE UNIQUE INDEX "server_actions_one_live_power_action" ON "server_actions"("server_id")
WHERE "action" <> 'KILL' AND "state" IN ('QUEUED', 'DISPATCHED', 'ACKED');
CREATE UNIQUE INDEX "server_actions_one_live_kill" ON "server_actions"("server_id")
WHERE "action" = 'KILL' AND "state" IN ('QUEUED', 'DISPATCHED', 'ACKED');

ALTER TABLE "nodes" DROP COLUMN "features";
