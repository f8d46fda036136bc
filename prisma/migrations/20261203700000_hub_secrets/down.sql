-- Reverts 20261203700000_hub_secrets.
DROP TABLE "hub_secrets";
