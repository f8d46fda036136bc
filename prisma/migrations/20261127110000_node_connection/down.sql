-- Reverts 20261127110000_node_connection.
ALTER TABLE "nodes" DROP COLUMN "connection_id";
