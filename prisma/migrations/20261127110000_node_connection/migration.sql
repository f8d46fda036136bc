-- The live connection of a node, whichever hub holds it: presence changes are applied only by
-- the connection they belong to, so a late "disconnected" from a replaced connection (on this
-- hub or another) cannot mark a node that reconnected elsewhere as gone. `last_seen_at` becomes
-- a lease the holding hub renews every heartbeat; a stale lease means the node is lost.

-- AlterTable
ALTER TABLE "nodes" ADD COLUMN "connection_id" UUID;
