-- The PII vault (DESIGN.md §3b). Additive: nothing here touches user_logins.
-- Data keys, each stored only wrapped (HPKE) to the recovery public key `recovery_kid`.
CREATE TABLE IF NOT EXISTS login_etl_vault_data_keys(
    id text PRIMARY KEY,
    recovery_kid text NOT NULL,
    enc bytea NOT NULL,
    wrapped_key bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
-- One sealed copy of the canonical bytes per pseudonym (AES-256-GCM under a data key,
-- aad "v1|<field>|<pseudonym>"). Deleting a row is the crypto-erasure of `forget`.
CREATE TABLE IF NOT EXISTS login_etl_vault_entries(
    field text NOT NULL CHECK (field IN ('ip', 'device_id')),
    pseudonym text NOT NULL,
    data_key_id text NOT NULL REFERENCES login_etl_vault_data_keys(id),
    nonce bytea NOT NULL,
    sealed bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (field, pseudonym));
-- Every unmask, forget and rekey: who, when, what and why. Written before any value is shown.
CREATE TABLE IF NOT EXISTS login_etl_vault_audit(
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    db_user text NOT NULL DEFAULT session_user,
    os_user text NOT NULL,
    action text NOT NULL CHECK (action IN ('unmask', 'forget', 'rekey')),
    field text,
    pseudonym text,
    reason text,
    outcome text NOT NULL);
