// The node sources a deployment offers: the pure built-ins plus those that read the state
// table (`pushed`) or the live AWS topology (`s3_prefixes`, `rds`) through the clients given.
// Rounds and the API build their registry here, so both see the same sources.
import type { StoreContext } from "../store/context";
import { builtinNodeSources } from "./load";
import { pushedSource } from "./pushed";
import type { NodeSource, NodeSourceRegistry } from "./source";

export interface DeploymentSourceOptions {
  store: StoreContext;
  /** More sources (e.g. AWS-native ones built with their clients). */
  extra?: readonly NodeSource[];
}

export function deploymentNodeSources(options: DeploymentSourceOptions): NodeSourceRegistry {
  const registry = builtinNodeSources();
  registry.register(pushedSource(options.store));
  for (const source of options.extra ?? []) registry.register(source);
  return registry;
}
