-- At most one live START, STOP, RESTART or INSTALL per server (PROTOCOL.md 1.1): INSTALL is
-- serialised like the power actions; KILL stays out (it supersedes them) and so does COMMAND
-- (console input is neither serialised with nor cancelled by power actions). Named as a positive
-- list, so a later action type is not serialised by accident.
-- Prisma cannot declare partial indexes; test/db/schema-matches.test.ts allow-lists this one.
DROP INDEX "server_actions_one_live_power_action";
CREATE UNIQUE INDEX "server_actions_one_live_power_action" ON "server_actions"("server_id")
WHERE "action" IN ('START', 'STOP', 'RESTART', 'INSTALL') AND "state" IN ('QUEUED', 'DISPATCHED', 'ACKED');
