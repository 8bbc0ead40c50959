// One embedded PostgreSQL and one SQS emulator for the whole run, on free
// ports. Test files isolate themselves with their own schema and queues
// (test/helpers/stack.ts).
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "../src/local/embeddedPostgres.ts";
import { startEmbeddedSqs } from "../src/local/embeddedSqs.ts";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    sqsEndpointUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const db = await startEmbeddedPostgres();
  const sqs = await startEmbeddedSqs();
  project.provide("databaseUrl", db.databaseUrl);
  project.provide("sqsEndpointUrl", sqs.endpointUrl);
  return async () => {
    await sqs.stop();
    await db.stop();
  };
}
