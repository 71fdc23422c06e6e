// The `s3_prefixes` node source's listing: a prefix's "folders" through the SDK's ListObjectsV2
// paginator with a Delimiter (common prefixes only, never the objects). Loaded by s3-prefixes.ts
// on first use, so only a function that refreshes an `s3_prefixes` entry loads the SDK's S3 package.
import { paginateListObjectsV2, type S3Client } from "@aws-sdk/client-s3";

/** The common prefixes directly under `prefix`, page by page. */
export async function* commonPrefixes(
  s3: S3Client,
  bucket: string,
  prefix: string,
  delimiter: string,
): AsyncGenerator<string> {
  for await (const page of paginateListObjectsV2(
    { client: s3 },
    { Bucket: bucket, Prefix: prefix, Delimiter: delimiter },
  )) {
    for (const common of page.CommonPrefixes ?? []) if (common.Prefix !== undefined) yield common.Prefix;
  }
}
