-- Indexes for the retention prunes (src/db/sql/retention.ts, src/hub/plugins/retention.ts): each
-- prune is a range scan on its time column instead of a scan of the whole table every period.
CREATE INDEX "sessions_revoked_at_idx" ON "sessions"("revoked_at");
CREATE INDEX "server_status_transitions_at_idx" ON "server_status_transitions"("at");
CREATE INDEX "server_actions_completed_at_idx" ON "server_actions"("completed_at");
