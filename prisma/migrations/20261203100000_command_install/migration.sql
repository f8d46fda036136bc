-- Protocol 1.1 (issue 12): the action types INSTALL and COMMAND, and each node's latest
-- negotiated features (welcome.features), which decide whether it may be sent either.
--
-- ADD VALUE keeps the table as it is (no rewrite of the action history). A value added in a
-- transaction cannot be used before that transaction commits, so the partial unique index that
-- names INSTALL is rebuilt by the next migration, in a transaction of its own.
-- INSTALL sits before KILL so the power actions stay together in the type's order.
ALTER TYPE "ActionType" ADD VALUE 'INSTALL' BEFORE 'KILL';
ALTER TYPE "ActionType" ADD VALUE 'COMMAND';

-- The features of the node's latest welcome; empty for a node that never negotiated (a v1 agent,
-- or one that never connected), which therefore gets neither INSTALL nor COMMAND.
ALTER TABLE "nodes" ADD COLUMN "features" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[];
