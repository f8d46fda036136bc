-- KILL coalescing (issue 10 item 5, PROTOCOL.md 1.1): at most one live KILL per server. A KILL
-- while another is live inserts nothing (ON CONFLICT DO NOTHING) and the POST answers the live one,
-- so 100 KILLs in a row give the agent one command frame. The database arbitrates between hubs.
-- Live duplicates from before (there can be some) keep the oldest; the newer ones end CANCELLED.
UPDATE "server_actions" a SET "state" = 'CANCELLED', "completed_at" = now(), "deadline_at" = NULL, "updated_at" = now(),
  "error_code" = 'SUPERSEDED', "error_message" = 'coalesced into an earlier live KILL'
WHERE a."action" = 'KILL' AND a."state" IN ('QUEUED', 'DISPATCHED', 'ACKED')
  AND EXISTS (SELECT 1 FROM "server_actions" b WHERE b."server_id" = a."server_id" AND b."action" = 'KILL'
              AND b."state" IN ('QUEUED', 'DISPATCHED', 'ACKED') AND (b."timestamp", b."id") < (a."timestamp", a."id"));

-- Prisma cannot declare partial indexes; test/db/schema-matches.test.ts allow-lists this one.
CREATE UNIQUE INDEX "server_actions_one_live_kill" ON "server_actions"("server_id")
WHERE "action" = 'KILL' AND "state" IN ('QUEUED', 'DISPATCHED', 'ACKED');
