-- Reverts 20261203500000_backups.
DROP TABLE "backups";
DROP TYPE "BackupStatus";
