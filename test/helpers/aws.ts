// Test helpers for the emulators started by test/setup/global-setup.ts.
import { randomUUID } from "node:crypto";
import { makeAwsClients, type AwsClients } from "../../lib/aws";

/** Clients for the emulators; fails clearly if the file runs outside the integration/e2e projects. */
export function emulatorClients(): AwsClients {
  if (!process.env.AWS_ENDPOINT_URL_DYNAMODB || !process.env.AWS_ENDPOINT_URL_SQS) {
    throw new Error("No emulator endpoints: run this file in the integration or e2e Jest project.");
  }
  return makeAwsClients();
}

/** A resource name unique to this test (tables, queues and buckets are shared by a whole run). */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}
