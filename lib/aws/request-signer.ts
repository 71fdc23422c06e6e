// SigV4 signing of HTTP requests to API Gateway (service `execute-api`, IAM auth), for the API's
// clients: the CLI (lib/cli/client.ts) and the web UI's server (lib/ui/server.ts).
import { createHash, createHmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentityProvider, Checksum, SourceData } from "@smithy/types";

/** SHA-256 and HMAC-SHA-256 from node:crypto, in the shape the SigV4 signer takes. */
class NodeSha256 implements Checksum {
  private hash;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.make();
  }
  private make() {
    return this.secret === undefined ? createHash("sha256") : createHmac("sha256", toBytes(this.secret));
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {
    this.hash = this.make();
  }
}

function toBytes(data: SourceData): Uint8Array {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** Adds SigV4 headers to a request about to be sent. */
export type RequestSigner = (request: {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: string | undefined;
}) => Promise<Record<string, string>>;

/** A SigV4 signer for API Gateway (service `execute-api`). */
export function sigV4Signer(region: string, credentials: AwsCredentialIdentityProvider): RequestSigner {
  const signer = new SignatureV4({ service: "execute-api", region, credentials, sha256: NodeSha256 });
  return async ({ method, url, headers, body }) => {
    const query: Record<string, string | string[]> = {};
    for (const key of new Set(url.searchParams.keys())) {
      const values = url.searchParams.getAll(key);
      query[key] = values.length === 1 ? (values[0] ?? "") : values;
    }
    const signed = await signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      headers: { ...headers, host: url.host },
      body,
    });
    return signed.headers;
  };
}
