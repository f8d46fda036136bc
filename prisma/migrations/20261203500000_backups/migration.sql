-- Backups of the embedded cluster (issue 14, src/hub/plugins/backups.ts): one row per base backup
-- the hub took or tried, with the result of its last verification by restore.
CREATE TYPE "BackupStatus" AS ENUM ('RUNNING', 'SUCCEEDED', 'FAILED');

CREATE TABLE "backups" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "kind" TEXT NOT NULL DEFAULT 'BASE',
    "status" "BackupStatus" NOT NULL DEFAULT 'RUNNING',
    "store_id" TEXT,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),
    "size_bytes" BIGINT,
    "start_lsn" TEXT,
    "stop_lsn" TEXT,
    "timeline" INTEGER,
    "error" TEXT,
    "verified_at" TIMESTAMPTZ(3),
    "verify_ok" BOOLEAN,
    "verify_detail" TEXT,
    "pruned_at" TIMESTAMPTZ(3),

    CONSTRAINT "backups_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "backups_store_id_key" ON "backups"("store_id");
CREATE INDEX "backups_started_at_idx" ON "backups"("started_at");

-- One backup at a time per cluster, whoever starts it (the hub's schedule, POST /api/backups,
-- npm run db:backup): a second RUNNING row is refused by the database, not by a check-then-insert.
CREATE UNIQUE INDEX "backups_one_running" ON "backups" ((true)) WHERE "status" = 'RUNNING';
