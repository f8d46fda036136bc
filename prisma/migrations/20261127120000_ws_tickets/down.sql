-- Reverts 20261127120000_ws_tickets.
DROP TABLE "ws_tickets";
