-- Reverts 20261203110000_server_configuration.
ALTER TABLE "servers" DROP COLUMN "config_acked_revision", DROP COLUMN "config_revision", DROP COLUMN "auto_restart", DROP COLUMN "memory_limit_mb", DROP COLUMN "environment";
ALTER TABLE "alts" DROP COLUMN "variables", DROP COLUMN "install", DROP COLUMN "done_regex", DROP COLUMN "stop";
