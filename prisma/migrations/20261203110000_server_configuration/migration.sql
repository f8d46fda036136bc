-- Server configuration (PROTOCOL.md 1.1 "Server configuration (provision)"): templates gain a
-- stop method, a readiness regex, an install script and declared variables; servers gain their
-- variable values, a memory limit, an auto-restart policy and a configuration revision, bumped
-- by every change to the server or its template, that agents acknowledge.
-- Existing rows stay valid through the defaults: a template without variables stops with
-- SIGTERM (the generic default, 30 s grace), a server has an empty environment, no limit,
-- auto-restart disabled, and revision 1 that no agent has acknowledged yet.
-- The servers of a node are read through servers_node_id_port_key (node_id leads it).

-- AlterTable
ALTER TABLE "alts" ADD COLUMN "stop" JSONB NOT NULL DEFAULT '{"type": "signal", "value": "SIGTERM", "graceS": 30}',
ADD COLUMN "done_regex" TEXT,
ADD COLUMN "install" TEXT,
ADD COLUMN "variables" JSONB NOT NULL DEFAULT '[]';

-- AlterTable
ALTER TABLE "servers" ADD COLUMN "environment" JSONB NOT NULL DEFAULT '{}',
ADD COLUMN "memory_limit_mb" INTEGER,
ADD COLUMN "auto_restart" JSONB NOT NULL DEFAULT '{"enabled": false, "windowS": 300, "maxRestarts": 3}',
ADD COLUMN "config_revision" INTEGER NOT NULL DEFAULT 1,
ADD COLUMN "config_acked_revision" INTEGER;
