-- Single-use tickets for opening /panel/v1 from a browser (PROTOCOL.md `POST /api/ws-ticket`).
-- Kept in PostgreSQL, not in a hub's memory, so a ticket issued by one hub instance opens a socket
-- on another. Only the sha256 of a ticket is stored; consuming one is a DELETE ... RETURNING, so
-- two hubs racing for the same ticket cannot both win.

-- CreateTable
CREATE TABLE "ws_tickets" (
    "token_hash" TEXT NOT NULL,
    "session_id" UUID NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ws_tickets_pkey" PRIMARY KEY ("token_hash")
);

-- CreateIndex
CREATE INDEX "ws_tickets_session_id_idx" ON "ws_tickets"("session_id");

-- CreateIndex
CREATE INDEX "ws_tickets_expires_at_idx" ON "ws_tickets"("expires_at");

-- AddForeignKey
ALTER TABLE "ws_tickets" ADD CONSTRAINT "ws_tickets_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
