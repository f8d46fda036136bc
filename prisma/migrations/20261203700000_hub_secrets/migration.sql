-- Secrets the hubs sharing this database share (src/db/sql/hub-secrets.ts). Today one: the key
-- that authenticates the direct console links between hubs (src/hub/console/link-auth.ts). The
-- first hub to start writes it (32 random bytes, base64); every hub reads the same one.
CREATE TABLE "hub_secrets" (
    "name" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "hub_secrets_pkey" PRIMARY KEY ("name")
);
