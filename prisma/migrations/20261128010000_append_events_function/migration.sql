-- append_events(batch): the event-log append of commitWithEvents (src/db/sql/events.ts). It is
-- sent in the same message as COMMIT, so the event_counter row lock it takes is held only while
-- PostgreSQL itself appends and commits, never across a round trip to the hub: a busy hub event
-- loop between "append" and "COMMIT" would otherwise stall every other writer of events.
-- `batch` is a JSON array of {kind, serverId, nodeId, data, at}; returns the last id given out
-- and notifies the event feeds with it (delivered at commit), once per transaction.
CREATE FUNCTION "append_events"(batch JSONB) RETURNS BIGINT
LANGUAGE sql AS $$
  WITH c AS (
    UPDATE event_counter SET last_id = last_id + jsonb_array_length(batch) WHERE id = 1 RETURNING last_id
  ), ins AS (
    INSERT INTO events (id, kind, server_id, node_id, data, at)
    SELECT c.last_id - jsonb_array_length(batch) + e.ord, e.value->>'kind', (e.value->>'serverId')::uuid,
           (e.value->>'nodeId')::uuid, e.value->'data', (e.value->>'at')::timestamptz
    FROM c, jsonb_array_elements(batch) WITH ORDINALITY AS e(value, ord)
    RETURNING id
  )
  SELECT m.last FROM (SELECT max(id) AS last FROM ins) m, LATERAL pg_notify('hub_events', m.last::text)
$$;
