// Who this process is to IAM, for the one place that must know it before any API call: a
// `--once` container choosing its folder of the log bucket. Apart from lib/aws.ts so that the
// Lambda bundles, which import that, do not carry the STS client.
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";

import { resolveEndpoint, type AwsClientOptions } from "./aws";

/**
 * The caller's IAM user id (what policies call `aws:userid`), asked of STS; undefined when S3 is an
 * emulator or LocalStack, which enforce no policies. A `--once` container has no registration to
 * tell it, and its policy lets it write task logs only in that folder of the log bucket.
 */
export async function callerUserId(options: AwsClientOptions = {}): Promise<string | undefined> {
  if (resolveEndpoint("s3", options) !== undefined) return undefined;
  const env = options.env ?? process.env;
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const sts = new STSClient(region ? { region } : {});
  try {
    const { UserId } = await sts.send(new GetCallerIdentityCommand({}));
    if (!UserId) throw new Error("STS GetCallerIdentity answered without a UserId");
    return UserId;
  } finally {
    sts.destroy();
  }
}
