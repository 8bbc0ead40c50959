-- Additive only: safe on a table that already holds rows. Rows from before
-- keep message_id NULL; a unique index lets any number of NULLs stand.
ALTER TABLE user_logins ADD COLUMN IF NOT EXISTS message_id text;
ALTER TABLE user_logins ADD COLUMN IF NOT EXISTS app_version_text varchar(32);
CREATE UNIQUE INDEX IF NOT EXISTS user_logins_message_id_key ON user_logins (message_id);
CREATE INDEX IF NOT EXISTS user_logins_masked_ip_idx ON user_logins (masked_ip);
CREATE INDEX IF NOT EXISTS user_logins_masked_device_id_idx ON user_logins (masked_device_id);
