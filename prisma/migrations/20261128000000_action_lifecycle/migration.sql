-- The power-action lifecycle (PROTOCOL.md, issue 4).
--
-- dispatched_at / acked_at record the two middle steps; deadline_at is when the action's current
-- state times out (QUEUED: expires_at; DISPATCHED: the ack timeout; ACKED: the run timeout), so one
-- sweep over one partial index enforces every timeout, whichever hub runs it.

-- AlterTable
ALTER TABLE "server_actions" ADD COLUMN "dispatched_at" TIMESTAMPTZ(3),
ADD COLUMN "acked_at" TIMESTAMPTZ(3),
ADD COLUMN "deadline_at" TIMESTAMPTZ(3);

-- At most one START, STOP or RESTART that is not final per server: the database, not a hub's
-- memory, refuses the second one, so two hubs cannot both accept conflicting actions. KILL is left
-- out on purpose: it is always accepted (and cancels the live one in the same transaction).
-- Prisma cannot declare partial indexes; test/db/schema-matches.test.ts allow-lists this one.
CREATE UNIQUE INDEX "server_actions_one_live_power_action" ON "server_actions"("server_id")
WHERE "action" <> 'KILL' AND "state" IN ('QUEUED', 'DISPATCHED', 'ACKED');

-- The timeout sweep and the per-node pending read touch only live actions: a small index.
CREATE INDEX "server_actions_live_deadline" ON "server_actions"("deadline_at")
WHERE "state" IN ('QUEUED', 'DISPATCHED', 'ACKED');
