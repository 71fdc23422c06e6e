// Public surface of lib/nodes: the node-source contract and registry, the pure built-in sources,
// and one nodes refresh producing a NodeTree.
export {
  describePref,
  levelBelowParents,
  levelIndex,
  NodeSourceError,
  NodeSourceRegistry,
  type NodeSource,
  type NodeSourceContext,
} from "./source";
export { manualNodes, manualSource } from "./manual";
export { compileFormat, rangeLabelNodes, rangeLabelSource } from "./range-label";
export { nodeSourceIssues } from "./check";
export { emptySource } from "./empty";
export { builtinNodeSources, fetchNodeSpecs, loadNodes, type NodeSettings } from "./load";
