-- The global event log (PROTOCOL.md `event`): every published change, in commit order, kept for
-- a retention window so panels can resume with `since`.
--
-- Ids come from the one-row `event_counter`, not from a sequence: a writer bumps the counter as
-- the last statement of its transaction and holds that row lock until it commits, so ids are
-- handed out in commit order. A reader that has seen id N therefore never finds a smaller id
-- committed later, which a sequence cannot promise (nextval order is not commit order).

-- CreateTable
CREATE TABLE "events" (
    "id" BIGINT NOT NULL,
    "kind" TEXT NOT NULL,
    "server_id" UUID,
    "node_id" UUID,
    "data" JSONB NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "event_counter" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "last_id" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "event_counter_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "events_at_idx" ON "events"("at");

-- CreateIndex
CREATE INDEX "events_server_id_id_idx" ON "events"("server_id", "id");

-- CreateIndex
CREATE INDEX "events_node_id_id_idx" ON "events"("node_id", "id");

INSERT INTO "event_counter" ("id", "last_id") VALUES (1, 0);
