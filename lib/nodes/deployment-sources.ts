// The node sources a deployment offers: the pure built-ins plus those that read the state
// table (`pushed`, and `script` where no script runs) or the live AWS topology (`s3_prefixes`, `rds`) through the clients given.
// Rounds and the API build their registry here, so both see the same sources.
import type { RDSClient } from "@aws-sdk/client-rds";
import type { S3Client } from "@aws-sdk/client-s3";
import type { StoreContext } from "../store/context";
import { builtinNodeSources } from "./load";
import { pushedSource } from "./pushed";
import { pushedScriptSource } from "./pushed-script";
import { rdsSource } from "./rds";
import { s3PrefixesSource } from "./s3-prefixes";
import type { NodeSource, NodeSourceRegistry } from "./source";

export interface DeploymentSourceOptions {
  store: StoreContext;
  /** Enables `s3_prefixes`; called when an `s3_prefixes` entry refreshes. */
  s3?: () => S3Client | Promise<S3Client>;
  /** Enables `rds`; called when an `rds` entry refreshes. */
  rds?: () => RDSClient | Promise<RDSClient>;
  /** More sources. */
  extra?: readonly NodeSource[];
}

export function deploymentNodeSources(options: DeploymentSourceOptions): NodeSourceRegistry {
  const registry = builtinNodeSources();
  registry.register(pushedSource(options.store));
  if (options.s3) registry.register(s3PrefixesSource(options.s3));
  if (options.rds) registry.register(rdsSource(options.rds));
  for (const source of options.extra ?? []) registry.register(source);
  // Where nothing runs scripts (the AWS functions), `script` entries read what was pushed for them.
  if (!registry.get("script")) registry.register(pushedScriptSource(options.store));
  return registry;
}
