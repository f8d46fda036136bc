-- Reverts 20261203050000_one_live_kill (the coalesced KILLs stay CANCELLED).
DROP INDEX IF EXISTS "server_actions_one_live_kill";
