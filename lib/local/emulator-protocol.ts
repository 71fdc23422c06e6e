// The one-line protocol between startEmulators() and the emulator host process.
export interface EmulatorEndpoints {
  /** DynamoDB Local, e.g. http://127.0.0.1:41234 ("" when not started). */
  dynamodb: string;
  /** fauxqs SQS endpoint ("" when not started). */
  sqs: string;
  /** fauxqs S3 endpoint (path-style; same server as SQS). */
  s3: string;
}
export const EMULATOR_READY_PREFIX = "SOUS_EMULATORS_READY ";
export const EMULATOR_ERROR_PREFIX = "SOUS_EMULATORS_ERROR ";
