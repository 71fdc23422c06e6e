// The S3 client: path-style addressing whenever an endpoint is set (emulators, LocalStack).
import { S3Client } from "@aws-sdk/client-s3";
import { clientConfig, type AwsClientOptions } from "./config";

export function makeS3Client(options: AwsClientOptions = {}): S3Client {
  const config = clientConfig("s3", options);
  return new S3Client({ ...config, forcePathStyle: "endpoint" in config });
}
