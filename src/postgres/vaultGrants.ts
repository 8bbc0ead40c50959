// The separation of duties of §3b as SQL grants, for `login-etl vault-grants`
// to print (the DBA reviews and runs it once, after `login-etl migrate`, as
// the owner of the tables). Three roles:
// - loader: writes rows and vault entries; cannot read a sealed value or a data key;
// - analyst: reads user_logins only;
// - privacy officer: reads the vault, writes the audit trail (never rewrites it), moves rows for rekey.
import { quoteIdent } from "./postgresPool.ts";

export interface VaultRoles {
  readonly schema: string;
  readonly loader: string;
  readonly analyst: string;
  readonly officer: string;
}

export function vaultGrants(roles: VaultRoles): string {
  const s = quoteIdent(roles.schema);
  const [loader, analyst, officer] = [roles.loader, roles.analyst, roles.officer].map(quoteIdent);
  const t = (name: string) => `${s}.${name}`;
  const vault = [
    t("login_etl_vault_data_keys"),
    t("login_etl_vault_entries"),
    t("login_etl_vault_audit"),
  ].join(", ");
  return `-- login-etl: roles for the PII vault (DESIGN.md §3b). Run as the owner of the tables, after \`login-etl migrate\`.
BEGIN;
REVOKE ALL ON ${vault} FROM PUBLIC;
GRANT USAGE ON SCHEMA ${s} TO ${loader}, ${analyst}, ${officer};

-- loader (run, drain): rows and sealed entries in; nothing of the vault out.
GRANT SELECT, INSERT ON ${t("user_logins")} TO ${loader};
GRANT SELECT ON ${t("login_etl_schema_migrations")} TO ${loader};
GRANT INSERT ON ${t("login_etl_vault_data_keys")}, ${t("login_etl_vault_entries")} TO ${loader};

-- analyst: the pseudonymised table only.
GRANT SELECT ON ${t("user_logins")} TO ${analyst};

-- privacy officer (unmask, forget, rekey): reads the vault, appends to the audit trail.
GRANT SELECT, UPDATE ON ${t("user_logins")} TO ${officer};
GRANT SELECT ON ${t("login_etl_schema_migrations")} TO ${officer};
GRANT SELECT, INSERT ON ${t("login_etl_vault_data_keys")} TO ${officer};
GRANT SELECT, INSERT, DELETE ON ${t("login_etl_vault_entries")} TO ${officer};
GRANT SELECT, INSERT ON ${t("login_etl_vault_audit")} TO ${officer};
GRANT USAGE ON SEQUENCE ${t("login_etl_vault_audit_id_seq")} TO ${officer};
COMMIT;
`;
}
