// The `empty` node source (Bistro's EmptyFetcher): adds nothing, for deployments without data nodes.
import type { NodeSource } from "./source";

export const emptySource: NodeSource = { name: "empty", fetch: () => [] };
