-- Reverts 20261127000000_init: drops everything it created, dependants first.
DROP TABLE "server_status_transitions";
DROP TABLE "server_actions";
DROP TABLE "servers";
DROP TABLE "alts";
DROP TABLE "nodes";
DROP TABLE "sessions";
DROP TABLE "user_permissions";
DROP TABLE "permissions";
DROP TABLE "users";
DROP TYPE "ActionState";
DROP TYPE "ActionType";
DROP TYPE "ServerStatus";
DROP TYPE "Role";
