// The RDS client, for the `rds` node source; made only by deployments that use it.
import { RDSClient } from "@aws-sdk/client-rds";
import { clientConfig, type AwsClientOptions } from "./config";

export function makeRdsClient(options: AwsClientOptions = {}): RDSClient {
  return new RDSClient(clientConfig("rds", options));
}
