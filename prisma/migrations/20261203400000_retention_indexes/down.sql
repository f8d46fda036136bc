-- Reverts 20261203400000_retention_indexes.
DROP INDEX "server_actions_completed_at_idx";
DROP INDEX "server_status_transitions_at_idx";
DROP INDEX "sessions_revoked_at_idx";
